from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.operate import fill_store

from poster.cli import EXIT_CONFIG, EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_OK, main
from poster.inbox import Request, drain, pending, submit
from poster.ledger import FAILED, UNCERTAIN
from poster.operate import OPERATOR_DISABLED, set_feed_disabled
from poster.store import Store
from poster.store.place import DAEMON

CONFIG = Path(__file__).parent / "data" / "operate" / "feeds.toml"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    fill_store(tmp_path / "state")
    return tmp_path / "state"


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main(["-c", str(CONFIG), *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def stuck(state: Path) -> list[str]:
    with Store(state, read_only=True) as store:
        return [r.key for r in store.deliveries(states=[FAILED, UNCERTAIN])]


def test_status_exits_1_when_items_need_a_person(
    capsys: pytest.CaptureFixture[str], state: Path
) -> None:
    code, out, _ = run(capsys, "status", "--state-dir", state)
    assert code == EXIT_FAILED
    assert "  failed     news  n-failed  1" in out
    assert out.endswith(
        "Needs attention: 1 failed item; 1 uncertain item; feed 'blog' failing (1 in a row)\n"
    )


def test_status_exits_0_when_all_is_well(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    Store(tmp_path).close()
    code, out, _ = run(capsys, "status", "--state-dir", tmp_path)
    assert code == EXIT_OK
    assert out.endswith("\nAll good.\n")


def test_status_json(capsys: pytest.CaptureFixture[str], state: Path) -> None:
    code, out, _ = run(capsys, "status", "--json", "--state-dir", state)
    data = json.loads(out)
    assert code == EXIT_FAILED
    assert data["ok"] is False
    assert [f["name"] for f in data["feeds"]] == ["news", "blog", "archive", "gone"]
    assert [(p["key"], p["state"]) for p in data["problems"]] == [
        ("n-failed", "failed"),
        ("n-lost", "uncertain"),
    ]


def test_status_works_while_another_process_holds_the_lock(
    capsys: pytest.CaptureFixture[str], state: Path
) -> None:
    with Store(state) as held:
        held.record_pending("news", "n-new", "viber")
        code, out, _ = run(capsys, "status", "--state-dir", state)
    assert code == EXIT_FAILED
    assert "  pending    news  n-new" in out


def test_retry_applies_directly_without_a_daemon(
    capsys: pytest.CaptureFixture[str], state: Path
) -> None:
    code, out, _ = run(capsys, "retry", "news", "n-failed", "--state-dir", state)
    assert code == EXIT_OK
    assert out == (
        "retry news/n-failed: released: the next pass of feed 'news' sends it, "
        "if the feed still lists it\n"
    )
    assert stuck(state) == ["n-lost"]
    assert not (state / "inbox").exists()


def test_retry_is_queued_while_the_daemon_holds_the_lock(
    capsys: pytest.CaptureFixture[str], state: Path
) -> None:
    with Store(state, role=DAEMON) as daemon:
        code, out, _ = run(capsys, "retry", "news", "n-failed", "--state-dir", state)
        assert code == EXIT_OK
        assert out.startswith("queued for the running daemon: retry news/n-failed (")
        assert daemon.is_known("news", "n-failed")
        [queued] = pending(state)
        assert drain(state, daemon) == [
            "retry news/n-failed: released: the next pass of feed 'news' sends it, "
            "if the feed still lists it"
        ]
        assert not daemon.is_known("news", "n-failed")
    assert not queued.exists()


@pytest.mark.parametrize("locked", [False, True], ids=["direct", "daemon-running"])
def test_retry_of_an_unknown_item_exits_1(
    capsys: pytest.CaptureFixture[str], state: Path, locked: bool
) -> None:
    with Store(state, role=DAEMON) if locked else Store(state, read_only=True):
        code, out, err = run(capsys, "retry", "news", "n-sent", "--state-dir", state)
    assert (code, out) == (EXIT_FAILED, "")
    assert err == (
        "poster: item 'n-sent' of feed 'news' was sent; "
        "only failed, uncertain and skipped items can be retried\n"
    )
    assert pending(state) == []


@pytest.mark.parametrize(
    ("flags", "released", "left"),
    [
        pytest.param(["--failed"], "released 1 item", ["n-lost"], id="failed"),
        pytest.param(["--uncertain", "--failed"], "released 2 items", [], id="both"),
        pytest.param(
            ["--failed", "--feed", "blog"], "nothing to retry", ["n-failed", "n-lost"], id="feed"
        ),
    ],
)
def test_retry_by_state(
    capsys: pytest.CaptureFixture[str],
    state: Path,
    flags: list[str],
    released: str,
    left: list[str],
) -> None:
    code, out, _ = run(capsys, "retry", *flags, "--state-dir", state)
    assert code == EXIT_OK
    assert released in out
    assert stuck(state) == left


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["retry"], id="nothing"),
        pytest.param(["retry", "news"], id="feed-without-key"),
        pytest.param(["retry", "news", "n-failed", "--failed"], id="item-and-state"),
        pytest.param(["retry", "news", "n-failed", "--feed", "news"], id="item-and-feed"),
    ],
)
def test_retry_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], state: Path, argv: list[str]
) -> None:
    code, _, err = run(capsys, *argv, "--state-dir", state)
    assert code == EXIT_CONFIG
    assert err.startswith("poster retry: give FEED KEY for one item, or --failed")
    assert stuck(state) == ["n-failed", "n-lost"]


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        pytest.param(["feed", "disable", "nope"], "nope", id="feed-disable"),
        pytest.param(["feed", "enable", "gone"], "gone", id="feed-enable-unconfigured"),
        pytest.param(["retry", "nope", "k"], "nope", id="retry-item"),
        pytest.param(["retry", "--failed", "--feed", "nope"], "nope", id="retry-feed"),
    ],
)
def test_a_feed_not_in_the_config_exits_2(
    capsys: pytest.CaptureFixture[str], state: Path, argv: list[str], name: str
) -> None:
    code, _, err = run(capsys, *argv, "--state-dir", state)
    assert code == EXIT_CONFIG
    assert err == f"poster: no feed named {name!r} in {CONFIG}; feeds: news, blog, archive\n"


def test_feed_disable_and_enable_directly(capsys: pytest.CaptureFixture[str], state: Path) -> None:
    code, out, _ = run(capsys, "feed", "disable", "news", "--state-dir", state)
    assert code == EXIT_OK
    assert "feed 'news' disabled" in out
    with Store(state, read_only=True) as store:
        assert store.feed_state("news").disabled == OPERATOR_DISABLED
    code, out, _ = run(capsys, "feed", "enable", "news", "--state-dir", state)
    assert code == EXIT_OK
    with Store(state, read_only=True) as store:
        assert store.feed_state("news").disabled is None


def test_feed_switch_is_queued_while_the_daemon_holds_the_lock(
    capsys: pytest.CaptureFixture[str], state: Path
) -> None:
    with Store(state, role=DAEMON) as daemon:
        code, out, _ = run(capsys, "feed", "disable", "blog", "--state-dir", state)
        assert (code, out.split(" (")[0]) == (
            EXIT_OK,
            "queued for the running daemon: feed disable blog",
        )
        assert daemon.feed_state("blog").disabled is None
        drain(state, daemon)
        assert daemon.feed_state("blog").disabled == OPERATOR_DISABLED


def test_enabling_a_feed_off_in_the_config_says_it_stays_off(
    capsys: pytest.CaptureFixture[str], state: Path
) -> None:
    code, _, err = run(capsys, "feed", "enable", "archive", "--state-dir", state)
    assert code == EXIT_OK
    assert "feeds.toml sets enabled = false for 'archive', so it stays off" in err


def test_requests_left_by_a_stopped_daemon_are_applied_first(
    capsys: pytest.CaptureFixture[str], state: Path
) -> None:
    submit(state, Request("feed-disable", "news"))
    code, out, _ = run(capsys, "feed", "enable", "news", "--state-dir", state)
    assert code == EXIT_OK
    assert out.splitlines() == [
        "applied a request queued earlier: feed disable news: feed 'news' disabled; "
        "poster skips it until `poster feed enable news`",
        "feed enable news: feed 'news' enabled again (it was 'disabled by operator')",
    ]
    assert pending(state) == []


def test_a_damaged_state_is_reported_not_queued(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "poster.json").write_text("{not json")
    code, _, err = run(capsys, "feed", "disable", "news", "--state-dir", tmp_path)
    assert code == EXIT_ENVIRONMENT
    assert "poster.json: is not valid JSON" in err
    assert not (tmp_path / "inbox").exists()


def test_a_missing_state_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "retry", "--failed", "--state-dir", tmp_path / "typo")
    assert code == EXIT_FAILED
    assert "no poster state in" in err and "--state-dir" in err
    assert not (tmp_path / "typo").exists()


def test_help_names_the_permanent_switch(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["feed", "disable", "--help"])
    assert "`enabled = false` in feeds.toml is the permanent switch" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        pytest.param(OPERATOR_DISABLED, EXIT_OK, id="paused-by-operator"),
        pytest.param("disabled after 10 failures in a row; last: HTTP 500", EXIT_FAILED, id="auto"),
    ],
)
def test_status_exits_1_for_a_feed_disabled_after_failures_not_for_a_pause(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, reason: str, code: int
) -> None:
    with Store(tmp_path) as store:
        now = datetime.now(UTC)
        store.record_fetch_failed("news", now, "HTTP 500 from news", now)
        set_feed_disabled(store, "news", reason)
    got, out, _ = run(capsys, "status", "--state-dir", tmp_path)
    assert got == code
    [row] = [line for line in out.splitlines() if line.startswith("  news ")]
    assert row.split()[1] == ("paused" if code == EXIT_OK else "disabled")
