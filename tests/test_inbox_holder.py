"""Test that a request is queued only for a daemon, and that status shows what waits."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.operate import fill_store

from poster.cli import EXIT_FAILED, EXIT_OK, main
from poster.errors import StateError
from poster.ops import inbox
from poster.ops.commands import OPERATOR_DISABLED
from poster.ops.inbox import Request, open_for_change, pending, submit
from poster.store import Store
from poster.store.place import DAEMON, ONE_SHOT

CONFIG = Path(__file__).parent / "data" / "operate" / "feeds.toml"
HOLD = """
import sys
from pathlib import Path
from poster.store import Store
with Store(Path(sys.argv[1]), role=sys.argv[2]):
    print("holding", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def state(tmp_path: Path) -> Path:
    fill_store(tmp_path / "state")
    return tmp_path / "state"


@pytest.fixture
def holder(state: Path, request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[str]]:
    """Hold the state's lock in another process, in the role the test is parametrized with."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(state), request.param],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "holding\n"
    yield process
    process.communicate("", timeout=10)


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main(["-c", str(CONFIG), *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def disabled(state: Path, feed: str) -> str | None:
    with Store(state, read_only=True) as store:
        return store.feed_state(feed).disabled


@pytest.mark.parametrize("holder", [ONE_SHOT], indirect=True)
def test_a_change_is_refused_while_a_one_shot_run_holds_the_state(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    state: Path,
    holder: subprocess.Popen[str],
) -> None:
    monkeypatch.setattr(inbox, "LOCK_WAIT", 0.0)
    code, out, err = run(capsys, "feed", "disable", "news", "--state-dir", state)
    assert (code, out) == (EXIT_FAILED, "")
    assert err == (
        f"poster: state file {state / 'poster.lock'}: is locked: a one-shot run "
        f"(pid {holder.pid}) is using the state; try again when it ends\n"
    )
    assert pending(state) == [], "nothing is parked where no one applies it"


@pytest.mark.parametrize("holder", [DAEMON], indirect=True)
def test_a_change_is_queued_while_a_daemon_holds_the_state(
    capsys: pytest.CaptureFixture[str], state: Path, holder: subprocess.Popen[str]
) -> None:
    code, out, _ = run(capsys, "feed", "disable", "news", "--state-dir", state)
    assert code == EXIT_OK
    assert out.startswith("queued for the running daemon: feed disable news (")
    code, out, _ = run(capsys, "status", "--state-dir", state)
    assert "Requests waiting in the inbox (1; the running daemon applies them)\n" in out
    assert "  feed disable news\n" in out
    assert "waiting in the inbox with no daemon" not in out


def test_a_change_waits_for_a_one_shot_run_to_end_and_applies_directly(state: Path) -> None:
    run_once = Store(state)
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        run_once.close()  # the run ends while the command waits

    store = open_for_change(state, wait=5.0, pause=pause, clock=lambda: 0.0)
    assert store is not None and len(pauses) == 1
    with store:
        inbox.apply(store, Request("feed-disable", "news"))
    assert disabled(state, "news") == OPERATOR_DISABLED


def test_waiting_ends_at_the_deadline(state: Path) -> None:
    ticks = iter([0.0, 1.0, 2.0, 3.0])
    with Store(state), pytest.raises(StateError, match=r"a one-shot run \(pid \d+\)"):
        open_for_change(state, wait=2.5, pause=lambda _: None, clock=lambda: next(ticks))


def test_an_unnamed_holder_is_not_taken_for_a_daemon(state: Path) -> None:
    with Store(state):
        (state / "poster.holder").unlink()
        with pytest.raises(StateError, match="is locked: another poster process is using"):
            open_for_change(state, wait=0.0)
    assert pending(state) == []


def test_status_lists_requests_no_daemon_will_apply(
    capsys: pytest.CaptureFixture[str], state: Path
) -> None:
    submit(state, Request("feed-disable", "news"))
    submit(state, Request("retry", "news", "n-failed"))
    code, out, _ = run(capsys, "status", "--state-dir", state)
    assert code == EXIT_FAILED
    assert "Requests waiting in the inbox (2; no daemon runs)\n" in out
    assert "  feed disable news\n  retry news/n-failed\n" in out
    assert "2 requests waiting in the inbox with no daemon to apply them" in out.splitlines()[-1]


def test_status_says_when_the_state_was_written_back(
    capsys: pytest.CaptureFixture[str], state: Path
) -> None:
    with Store(state) as store:
        (state / "poster.journal").unlink()
        store.set_meta("touched", "yes")
    _, out, _ = run(capsys, "status", "--state-dir", state)
    [line] = [line for line in out.splitlines() if line.startswith("  written back: ")]
    assert line.endswith(
        ": the journal was deleted or replaced while poster ran; "
        "it wrote the state back from memory"
    )
