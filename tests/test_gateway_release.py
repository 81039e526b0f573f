"""`poster recipients release` against the DecisionTelecom fake: the released numbers get the item.

Releasing a batch also offers its item to the destination again, whether the item's record
there says sent (poster was killed mid-group and the restart sent the rest) or uncertain (an
answer was lost), so the released numbers are sent on the next pass and nobody else is.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from feedserver import FeedServer
from support.daemon import Feeds, Post
from support.decisiontelecom import Clock, fake_gateway, gateway_project, inboxes, run_once
from support.wait import wait_for

from poster.cli import EXIT_ENVIRONMENT, EXIT_OK, main
from poster.destinations.decisiontelecom.adapter import CONCURRENCY
from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.gateway.destination import GROUP, item_ref
from poster.ops import inbox
from poster.store import Store
from poster.store.ledger import SENT
from poster.store.place import DAEMON
from poster.store.recipientledger import OpenBatch, RecipientLedger, ledger_path

KEY = "dt-release-key-never-shown-5151"
PHONES = [f"38050{n:07d}" for n in range(GROUP + 50)]


@pytest.fixture
def fake() -> Iterator[FakeDecisionTelecom]:
    with fake_gateway(KEY, Clock()) as server:
        server.gateway.balance = math.inf
        yield server


@pytest.fixture
def project(
    tmp_path: Path, fake: FakeDecisionTelecom, feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Path, Path, Feeds]:  # fmt: skip
    """Write feeds.toml posting feed "city" to the fake's ``PHONES``."""
    monkeypatch.setenv("POSTER_SUBS_TOKEN", KEY)
    return gateway_project(tmp_path, fake, Feeds(feed_server), PHONES)


def release(state: Path, batch: str) -> int:
    return main(["recipients", "release", "subs", batch, "--state-dir", str(state)])


def open_batch(state: Path) -> OpenBatch:
    with RecipientLedger(ledger_path(state, "subs"), read_only=True) as book:
        (batch,) = book.open_batches()
    return batch


def lose_an_answer(
    project: tuple[Path, Path, Feeds], fake: FakeDecisionTelecom
) -> tuple[Post, OpenBatch]:
    """Run a pass whose first message's answer is lost; return the item, uncertain, and its
    open batch."""
    config, state, feeds = project
    fake.gateway.inject("drop")  # the gateway takes the first message; its answer is lost
    (post,) = feeds.publish("city", 1)
    run_once(config, state)
    assert record_state(state, post.guid) == "uncertain"
    return post, open_batch(state)


def record_state(state: Path, key: str, feed: str = "city") -> str:
    with Store(state, read_only=True) as store:
        (record,) = [r for r in store.deliveries(feed=feed) if r.key == key]
    return record.state


def assert_everyone_has_it(state: Path, key: str, feed: str = "city") -> None:
    item = item_ref(feed, key)
    with RecipientLedger(ledger_path(state, "subs"), read_only=True) as book:
        assert (book.outcome(item).accepted, book.outcome(item).uncertain) == (len(PHONES), 0)
        assert book.plan(item, PHONES) == () and book.open_batches() == []


def test_a_released_group_of_a_killed_run_is_sent_on_the_next_pass(
    project: tuple[Path, Path, Feeds],
    fake: FakeDecisionTelecom,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, state, feeds = project
    (post,) = feeds.publish("city", 1)
    held = GROUP + 10  # a request in the middle of the second group
    fake.gateway.inject(*["slow:0"] * (held - 1), "slow:20")
    command = [sys.executable, "-m", "poster", "-c", str(config), "run", "--once"]
    child = subprocess.Popen([*command, "--state-dir", str(state)], stdout=subprocess.DEVNULL)
    wait_for(lambda: len(fake.gateway.messages) >= held, "the held request", timeout=20)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    # The restart sends nobody (the first group went, the second is uncertain): the item is sent.
    assert run_once(config, state) == EXIT_OK
    assert record_state(state, post.guid) == SENT
    batch = open_batch(state)
    assert (batch.item, batch.size, batch.state) == (item_ref("city", post.guid), 50, "uncertain")
    capsys.readouterr()

    assert release(state, batch.batch_id) == EXIT_OK
    out = capsys.readouterr().out
    assert f"released batch {batch.batch_id} of item {post.guid!r}" in out
    assert "it was sent" in out and "next pass of feed 'city' sends it" in out
    assert run_once(config, state) == EXIT_OK

    got = inboxes(fake)
    assert set(got) == set(PHONES)
    assert all(got[phone] == 1 for phone in PHONES[:GROUP])
    assert_everyone_has_it(state, post.guid)
    assert record_state(state, post.guid) == SENT


def test_sigterm_ends_a_single_pass_after_the_requests_in_flight(
    project: tuple[Path, Path, Feeds], fake: FakeDecisionTelecom
) -> None:
    config, state, feeds = project
    (post,) = feeds.publish("city", 1)
    # Requests in the middle of the first group, one for each of the requests at a time: the
    # SIGTERM lands while they are in flight, however slowly the machine runs.
    fake.gateway.inject(*["slow:0"] * 9, *["slow:2"] * CONCURRENCY)
    command = [sys.executable, "-m", "poster", "-c", str(config), "run", "--once"]
    child = subprocess.Popen(
        [*command, "--state-dir", str(state)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wait_for(lambda: len(fake.gateway.messages) >= 10, "the slow request", timeout=20)
    os.kill(child.pid, signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 128 + signal.SIGTERM, err
    assert b"stopped by SIGTERM" in err
    got = inboxes(fake)
    assert 10 <= len(got) < GROUP, "the requests in flight finished; no other was started"
    with RecipientLedger(ledger_path(state, "subs"), read_only=True) as book:
        assert book.open_batches() == [], "nothing left pending or uncertain"
    assert run_once(config, state) == EXIT_OK
    assert_everyone_has_it(state, post.guid)
    assert all(count == 1 for count in inboxes(fake).values())


@pytest.mark.parametrize("renamed", [False, True], ids=["as-sent", "feed-renamed-since"])
def test_a_released_lost_answer_is_sent_without_a_retry(
    project: tuple[Path, Path, Feeds],
    fake: FakeDecisionTelecom,
    capsys: pytest.CaptureFixture[str],
    renamed: bool,
) -> None:
    config, state, _ = project
    post, batch = lose_an_answer(project, fake)
    feed = "town" if renamed else "city"
    if renamed:  # the first read of "town" goes on where "city" stopped: nothing is sent
        config.write_text(config.read_text().replace('name = "city"', 'name = "town"'))
        assert run_once(config, state) == EXIT_OK
        assert sum(inboxes(fake).values()) == len(PHONES)
    capsys.readouterr()

    assert release(state, batch.batch_id) == EXIT_OK
    out = capsys.readouterr().out
    assert "it was uncertain" in out and f"next pass of feed {feed!r} sends it" in out
    assert run_once(config, state) == EXIT_OK

    # The operator released a number that had it, so that one number gets it twice.
    assert sorted(inboxes(fake).values()) == [1] * (len(PHONES) - 1) + [2]
    assert_everyone_has_it(state, post.guid, feed)
    assert record_state(state, post.guid, feed) == SENT


def test_a_release_while_the_daemon_holds_the_state_is_queued_for_it(
    project: tuple[Path, Path, Feeds],
    fake: FakeDecisionTelecom,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, state, _ = project
    post, batch = lose_an_answer(project, fake)
    capsys.readouterr()
    with Store(state, role=DAEMON) as daemon:
        assert release(state, batch.batch_id) == EXIT_OK
        assert "queued for the running daemon: reopen city/" in capsys.readouterr().out
        assert daemon.is_known("city", post.guid)
        (line,) = inbox.drain(state, daemon)
        assert "released (it was uncertain)" in line
        assert not daemon.is_known("city", post.guid)
    assert run_once(config, state) == EXIT_OK
    assert_everyone_has_it(state, post.guid)


def test_a_release_while_a_run_holds_the_state_changes_nothing(
    project: tuple[Path, Path, Feeds],
    fake: FakeDecisionTelecom,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = project[1]
    post, batch = lose_an_answer(project, fake)
    monkeypatch.setattr(inbox, "LOCK_WAIT", 0.0)
    with Store(state):
        assert release(state, batch.batch_id) == EXIT_ENVIRONMENT
    assert "is locked" in capsys.readouterr().err
    assert open_batch(state) == batch
    assert record_state(state, post.guid) == "uncertain"


def test_a_settled_lost_answer_leaves_nothing_uncertain_in_status(
    project: tuple[Path, Path, Feeds], fake: FakeDecisionTelecom, capsys: pytest.CaptureFixture[str]
) -> None:
    post, batch = lose_an_answer(project, fake)
    config, state = project[0], project[1]
    words = ["recipients", "settle", "subs", batch.batch_id, "--state-dir", str(state)]
    assert main(words) == EXIT_OK
    assert "is recorded as sent at 'subs'" in capsys.readouterr().out
    assert record_state(state, post.guid) == SENT
    status = ["-c", str(config), "--state-dir", str(state), "status"]
    assert main(status) == EXIT_OK, capsys.readouterr().out
