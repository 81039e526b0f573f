"""Kill poster with SIGKILL in the middle of a 10,000-recipient send, and restart it."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from feedserver import FeedServer
from support.daemon import Feeds
from support.decisiontelecom import Clock, fake_gateway
from support.wait import wait_for

from poster.cli import EXIT_OK, main
from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.gateway.destination import GROUP, item_ref
from poster.store.recipientledger import RecipientLedger, ledger_path

KEY = "dt-kill-key-never-shown-6262"
PHONES = tuple(f"37529{n:07d}" for n in range(10_000))


@pytest.fixture
def fake() -> Iterator[FakeDecisionTelecom]:
    with fake_gateway(KEY, Clock()) as server:
        server.gateway.rate_limit = 10**9
        server.gateway.balance = math.inf
        yield server


def run_once(config: Path, state: Path) -> subprocess.Popen[bytes]:
    """Start ``poster run --once`` in a child process, so that it can be killed."""
    command = [sys.executable, "-m", "poster", "-c", str(config), "run", "--once"]
    env = os.environ | {"POSTER_SUBS_TOKEN": KEY}
    return subprocess.Popen([*command, "--state-dir", str(state)], env=env,
                            stdout=subprocess.DEVNULL)  # fmt: skip


def test_a_killed_send_sends_nobody_twice_and_loses_nobody(
    tmp_path: Path, fake: FakeDecisionTelecom, feed_server: FeedServer,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    feeds = Feeds(feed_server)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    (tmp_path / "subscribers.txt").write_text("".join(f"+{p}\n" for p in PHONES))
    config = tmp_path / "feeds.toml"
    config.write_text(
        'templates = "templates"\n'
        f'[destinations.subs]\nkind = "decisiontelecom"\napi_url = "{fake.base_url}"\n'
        'source_addr = "Poster"\nrecipients = "subscribers.txt"\nmin_gap = "0s"\n'
        f'[[feeds]]\nname = "city"\nurl = "{feeds.url("city")}"\nbacklog = "all"\n',
        encoding="utf-8",
    )
    state = tmp_path / "state"
    (post,) = feeds.publish("city", 1)
    child = run_once(config, state)
    wait_for(lambda: len(fake.gateway.messages) >= 3 * GROUP, "a few groups sent", timeout=20)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    sent_before = len(fake.gateway.messages)
    assert sent_before < len(PHONES)

    assert run_once(config, state).wait(timeout=120) == EXIT_OK

    got = Counter(message.phone for message in fake.gateway.messages)
    assert max(got.values()) == 1
    item = item_ref("city", post.guid)
    with RecipientLedger(ledger_path(state, "subs"), read_only=True) as book:
        outcome = book.outcome(item)
        assert book.plan(item, PHONES) == ()
    # The group in flight when the process died is uncertain: at most one group, never resent.
    assert outcome.uncertain <= GROUP
    assert outcome.accepted + outcome.uncertain == len(PHONES)
    assert outcome.accepted <= len(got) <= outcome.accepted + outcome.uncertain
    assert main(["recipients", "uncertain", "subs", "--state-dir", str(state)]) == EXIT_OK
    shown = [line.split("\t")[1:4] for line in capsys.readouterr().out.splitlines()]
    assert shown == ([[item, str(outcome.uncertain), "uncertain"]] if outcome.uncertain else [])
