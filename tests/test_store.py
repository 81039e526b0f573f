"""Test the persistent store: ledger semantics, durability, recovery, compaction and pruning."""

from __future__ import annotations

import errno
import itertools
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.blocking import finished
from tinydb import Query

from poster.destinations import Receipt
from poster.errors import StateError
from poster.models import Validators
from poster.store import RELEASED, FeedState, Store
from poster.store import journal as journal_module
from poster.store import seen as seen_module
from poster.store.documents import new_delivery_doc, to_iso
from poster.store.files import StateFiles, encode_snapshot, write_atomic
from poster.store.journal import JournalStorage
from poster.store.journaldb import JournalDB
from poster.store.ledger import (
    FAILED,
    PENDING,
    SEEN,
    SENT,
    UNCERTAIN,
    Ledger,
    MemoryLedger,
    Recall,
    recall_each,
)
from poster.store.place import read_holder

DATA = Path(__file__).parent / "data" / "store"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    """Tell a time the test sets."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with Store(tmp_path / "state", clock=clock) as opened:
        yield opened


def receipt(token: str = "5491411463282331111", destination: str = "viber") -> Receipt:
    return Receipt(destination, token, T0)


def post(ledger: Ledger, key: str, feed: str = "news", destination: str = "viber") -> None:
    ledger.record_pending(feed, key, destination)
    ledger.record_sent(feed, key, receipt(destination=destination))


def crash_copy(state: Path, to: Path) -> Path:
    """Copy the files as a crash would leave them: no close, no compaction."""
    to.mkdir()
    for name in ("poster.json", "poster.journal"):
        shutil.copy(state / name, to / name)
    return to


def prefill(state: Path, count: int, when: datetime = T0) -> None:
    """Write a snapshot holding ``count`` sent deliveries, as an old state would be."""
    now = to_iso(when)
    docs = {
        str(n): {**new_delivery_doc("old", f"old-{n:06d}", "viber", now), "state": SENT}
        for n in range(1, count + 1)
    }
    state.mkdir(exist_ok=True)
    # Changes numbered from 1001 on have the same number of digits for a while.
    snapshot = encode_snapshot("prefill", None, {"deliveries": docs}, seq=1000)
    write_atomic(state / "poster.json", snapshot)


# Ledger semantics, step by step against MemoryLedger

Step = Callable[[Ledger], None]
STEPS: dict[str, list[Step]] = {
    "post": [lambda ledger: post(ledger, "a")],
    "pending-only": [lambda ledger: ledger.record_pending("news", "a", "viber")],
    "deferred": [
        lambda ledger: ledger.record_pending("news", "a", "viber"),
        lambda ledger: ledger.release("news", "a", "viber"),
    ],
    "failed": [lambda ledger: ledger.record_failed("news", "a", "viber", "bad")],
    "uncertain": [
        lambda ledger: ledger.record_pending("news", "a", "viber"),
        lambda ledger: ledger.record_uncertain("news", "a", "viber", "timeout"),
    ],
    "backlog": [lambda ledger: ledger.mark_seen("news", ["a", "b", "a"])],
    "seen-after-post": [
        lambda ledger: post(ledger, "a"),
        lambda ledger: ledger.mark_seen("news", ["a", "c"]),
    ],
    "validators-only": [lambda ledger: ledger.save_validators("news", Validators("e", None, "h"))],
    "release-unknown": [lambda ledger: ledger.release("news", "zz", "viber")],
    "two-destinations": [
        lambda ledger: post(ledger, "a"),
        lambda ledger: post(ledger, "a", destination="mirror"),
        lambda ledger: ledger.release("news", "a", "viber"),
    ],
}


def assert_same_answers(store: Store, memory: MemoryLedger) -> None:
    for feed in ("news", "other"):
        assert store.has_history(feed) == memory.has_history(feed)
        assert store.validators(feed) == memory.validators(feed)
        for key in ("a", "b", "c", "zz"):
            for where in (None, "viber", "mirror"):
                answers = store.is_known(feed, key, where), memory.is_known(feed, key, where)
                assert answers[0] == answers[1], (feed, key, where)


@pytest.mark.parametrize("steps", STEPS.values(), ids=STEPS.keys())
def test_store_answers_like_the_memory_ledger(store: Store, steps: list[Step]) -> None:
    memory = MemoryLedger()
    for step in steps:
        step(memory)
        step(store)
        assert_same_answers(store, memory)
    live = {(r.feed, r.key, r.destination): r.state for r in store.deliveries()}
    live = {ident: state for ident, state in live.items() if state != RELEASED}
    assert live == {ident: d.state for ident, d in memory.deliveries.items()}
    store.close()
    with Store(store.path.parent) as reopened:
        assert_same_answers(reopened, memory)


@pytest.mark.parametrize("steps", STEPS.values(), ids=STEPS.keys())
def test_a_read_is_recalled_at_once_as_item_by_item(store: Store, steps: list[Step]) -> None:
    for step in steps:
        step(store)
    keys = ["a", "b", "c", "zz"]
    for feed in ("news", "other"):
        for where in ((), ("viber",), ("mirror",), ("viber", "mirror")):
            assert store.recall(feed, keys, where) == recall_each(store, feed, keys, where)


def test_recall_names_each_known_and_held_key(store: Store) -> None:
    post(store, "posted")
    store.mark_seen("news", ["held"])
    store.record_pending("news", "gone", "viber")
    store.release("news", "gone", "viber")
    keys = ["posted", "held", "gone", "new"]
    assert store.recall("news", keys, ("viber",)) == Recall(
        True, frozenset({"posted", "held"}), frozenset({"held"})
    )
    assert store.recall("news", keys, ("viber", "mirror")).known == {"held"}
    assert store.recall("blog", keys, ("viber",)) == Recall(False, frozenset(), frozenset())


def test_first_read_marks_reach_the_disk_with_the_next_change(store: Store, tmp_path: Path) -> None:
    store.mark_seen("news", ["a", "b"])
    with Store(crash_copy(store.path.parent, tmp_path / "before")) as crashed:
        assert not crashed.has_history("news"), "the next read is a first read again"
    store.save_validators("news", Validators("e", None, "h"))
    with Store(crash_copy(store.path.parent, tmp_path / "after")) as crashed:
        assert crashed.is_held_back("news", "a") and crashed.validators("news") is not None


def test_closing_writes_the_marks_that_wait_for_a_change(tmp_path: Path) -> None:
    with Store(tmp_path / "state") as store:
        store.mark_seen("news", ["a"])
    with Store(tmp_path / "state") as reopened:
        assert reopened.is_held_back("news", "a") and reopened.has_history("news")


def test_an_item_is_known_per_destination_and_a_backlog_for_all(store: Store) -> None:
    post(store, "posted")
    store.mark_seen("news", ["held"])
    store.record_pending("news", "later", "viber")
    store.release("news", "later", "viber")
    known = {
        (key, where): store.is_known("news", key, where)
        for key in ("posted", "held", "later")
        for where in (None, "viber", "sandbox")
    }
    assert [k for k, v in known.items() if v] == [
        ("posted", None),
        ("posted", "viber"),
        ("held", None),
        ("held", "viber"),
        ("held", "sandbox"),
    ]


def test_attempts_count_every_pending_record_across_deferrals(store: Store) -> None:
    for _ in range(2):
        store.record_pending("news", "a", "viber")
        store.release("news", "a", "viber")
    post(store, "a")
    [record] = store.deliveries()
    assert (record.state, record.attempts, record.message_token) == (SENT, 3, "5491411463282331111")
    assert (record.created, record.updated) == (T0, T0)


def test_records_keep_the_last_error_and_drop_it_once_sent(store: Store, clock: Clock) -> None:
    store.record_pending("news", "a", "viber")
    store.record_failed("news", "a", "viber", "Viber status 3: badData")
    assert store.deliveries()[0].last_error == "Viber status 3: badData"
    clock.now = T0 + timedelta(hours=1)
    assert store.retry("news", "a")
    post(store, "a")
    [record] = store.deliveries()
    assert (record.state, record.last_error, record.attempts) == (SENT, None, 2)
    assert (record.created, record.updated) == (T0, clock.now)


def test_deliveries_filter_by_state_and_feed_and_recent_is_newest_first(
    store: Store, clock: Clock
) -> None:
    for minute, (feed, key) in enumerate([("news", "a"), ("blog", "b"), ("news", "c")]):
        clock.now = T0 + timedelta(minutes=minute)
        post(store, key, feed=feed)
    store.record_failed("news", "d", "viber", "bad")
    assert [r.key for r in store.deliveries(feed="news")] == ["a", "c", "d"]
    assert [r.key for r in store.deliveries(states={FAILED})] == ["d"]
    assert [r.key for r in store.deliveries(states={SENT}, feed="blog")] == ["b"]
    assert [r.key for r in store.recent(3)] == ["d", "c", "b"]


def test_last_posts_are_each_destinations_newest_sent_record(store: Store, clock: Clock) -> None:
    assert store.last_posts() == {}
    for minute, (key, destination) in enumerate([("a", "viber"), ("b", "sms"), ("c", "viber")]):
        clock.now = T0 + timedelta(minutes=minute)
        post(store, key, destination=destination)
    clock.now = T0 + timedelta(minutes=5)
    store.record_pending("news", "d", "viber")
    store.record_failed("news", "d", "sms", "bad")
    newest = {
        name: max(r.updated for r in store.deliveries(states={SENT}) if r.destination == name)
        for name in ("viber", "sms")
    }
    assert newest == {"viber": T0 + timedelta(minutes=2), "sms": T0 + timedelta(minutes=1)}
    assert store.last_posts() == newest


def test_feed_state_counts_failures_and_resets_on_success(tmp_path: Path) -> None:
    later = T0 + timedelta(minutes=5)
    with Store(tmp_path) as store:
        assert store.feed_state("news") == FeedState("news")
        assert store.disabled("news") is None
        counts = [store.record_fetch_failed("news", T0, f"HTTP 50{n}", later) for n in range(3)]
        store.set_disabled("news", "HTTP 410: the feed is gone")
        assert counts == [1, 2, 3]
    with Store(tmp_path) as store:
        assert store.disabled("news") == "HTTP 410: the feed is gone"
        assert store.disabled("blog") is None
        assert store.feed_state("news") == FeedState(
            "news",
            last_error="HTTP 502",
            consecutive_failures=3,
            next_attempt=later,
            disabled="HTTP 410: the feed is gone",
            last_failure=T0,
        )
        store.record_fetch_ok("news", later)
        store.set_disabled("news", None)
        state = store.feed_state("news")
        assert store.disabled("news") is None
    assert (state.consecutive_failures, state.last_error, state.last_success) == (0, None, later)
    assert state.disabled is None
    assert not store.has_history("news"), "a fetch alone is no history, as in MemoryLedger"


def test_reads_of_many_feeds_are_recorded_in_one_write_per_table_change(tmp_path: Path) -> None:
    later = T0 + timedelta(minutes=5)
    with Store(tmp_path) as store:
        store.record_fetch_failed("news", T0, "HTTP 503", later)
        store.record_fetches_ok(["news", "blog", "shop", "blog"], later)
        store.record_fetches_ok([], later)
        tables = [line["table"] for line in journal_lines(tmp_path)]
    assert tables == ["feeds", "feeds", "feeds"], "the failure, then an update and an insert"
    with Store(tmp_path, read_only=True) as store:
        for name in ("news", "blog", "shop"):
            state = store.feed_state(name)
            assert (state.last_success, state.consecutive_failures) == (later, 0), name
            assert (state.last_error, state.next_attempt) == (None, None), name
        assert store.feed_state("news").last_failure == T0


def test_reads_of_many_feeds_journal_their_fields_once_not_each_document(tmp_path: Path) -> None:
    later = T0 + timedelta(minutes=5)
    names = [f"feed-{n:04d}" for n in range(300)]
    with Store(tmp_path) as store:
        for name in names:
            store.save_validators(name, Validators(etag=f'"{name}"', body_hash="ab" * 32))
        store.record_fetch_failed("feed-0007", T0, "HTTP 503", later)
        size = len(journal_lines(tmp_path))
        store.record_fetches_ok(names, later)
        line = journal_lines(tmp_path)[size:]
    assert len(line) == 1 and line[0]["put"] == {} and len(line[0]["set"]["ids"]) == 300
    assert "feed-0001" not in json.dumps(line[0]), "no document is repeated whole"
    with Store(tmp_path, read_only=True) as store:
        for name in names:
            state = store.feed_state(name)
            assert (state.last_success, state.consecutive_failures) == (later, 0), name
            assert store.validators(name) == Validators(f'"{name}"', None, "ab" * 32), name
        assert store.feed_state("feed-0007").last_failure == T0


def test_reads_that_cannot_be_recorded_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int, offset: int, data: bytes, mark_at: int | None) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with Store(tmp_path) as store:
        store.record_fetch_failed("news", T0, "HTTP 503", T0)
        store.record_fetch_ok("blog", T0)
        monkeypatch.setattr(journal_module, "append_at", disk_full)
        with pytest.raises(StateError, match="is full"):
            store.record_fetches_ok(["news", "blog"], T0 + timedelta(minutes=5))
        monkeypatch.undo()
        assert store.feed_state("news").consecutive_failures == 1
        assert store.feed_state("blog").last_success == T0
    with Store(tmp_path) as store:
        assert store.feed_state("news").last_error == "HTTP 503"
        assert store.feed_state("blog").last_success == T0


def test_feed_states_read_many_feeds_as_feed_state_reads_each(tmp_path: Path) -> None:
    later = T0 + timedelta(minutes=5)
    with Store(tmp_path) as store:
        store.record_fetch_failed("news", T0, "HTTP 503", later)
        store.record_fetch_ok("blog", later)
        store.set_disabled("shop", "HTTP 410: the feed is gone")
        names = ["news", "blog", "shop", "never-read"]
        in_memory = store.feed_states(names)
        assert in_memory == {name: store.feed_state(name) for name in names}
    with Store(tmp_path, read_only=True) as store:
        assert store.feed_states(names) == in_memory
        assert store.feed_states(["never-read"]) == {"never-read": FeedState("never-read")}
    assert in_memory["news"].consecutive_failures == 1
    assert all(
        vars(state).keys() == vars(FeedState(name)).keys() for name, state in in_memory.items()
    )
    assert in_memory["shop"].disabled == "HTTP 410: the feed is gone"


def test_meta_values_survive_a_restart(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        assert store.get_meta("sender") is None
        store.set_meta("sender", "pa:1")
        store.set_meta("sender", "pa:2")
    with Store(tmp_path) as store:
        assert store.get_meta("sender") == "pa:2"


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        store.record_fetch_ok("news", datetime(2024, 5, 1))


# Restart semantics


def test_a_post_in_flight_at_a_crash_becomes_uncertain(tmp_path: Path, clock: Clock) -> None:
    running = Store(tmp_path / "state", clock=clock)
    post(running, "a")
    running.record_pending("news", "b", "viber")
    copy = crash_copy(tmp_path / "state", tmp_path / "after-crash")
    running.close()
    with Store(copy, clock=clock) as store:
        assert store.recovered == 1
        assert store.is_known("news", "b"), "an uncertain post must not be sent again"
        [record] = store.deliveries(states={UNCERTAIN})
        assert (record.key, record.attempts) == ("b", 1)
        assert record.last_error is not None and "may have arrived" in record.last_error
        assert store.retry("news", "b")
        assert not store.is_known("news", "b")
        assert not store.retry("news", "a"), "a sent post is not retried"
    with Store(copy, clock=clock) as store:
        assert store.recovered == 0
        assert not store.is_known("news", "b")
        assert store.is_known("news", "a")


def test_a_state_written_by_this_version_still_opens() -> None:
    # The files under v1/ were written by the first format; later versions must read them.
    with Store(DATA / "v1", read_only=True) as store:
        assert store.validators("news") == Validators(
            '"abc"', "Wed, 01 May 2024 11:00:00 GMT", "sha256:00ff"
        )
        states = {r.key: r.state for r in store.deliveries()}
        assert states == {
            "old-1": SEEN,
            "old-2": SEEN,
            "post-1": SENT,
            "post-2": FAILED,
            "post-3": PENDING,
        }
        assert store.feed_state("blog").consecutive_failures == 1
        assert store.get_meta("sender") == "pa:1234"


def test_read_only_opens_beside_a_writer_and_refuses_to_write(store: Store) -> None:
    post(store, "a")
    with pytest.raises(StateError, match="another poster process") as caught:
        Store(store.path.parent)
    assert caught.value.path == store.path.with_suffix(".lock")
    with Store(store.path.parent, read_only=True) as reader:
        assert reader.is_known("news", "a")
        with pytest.raises(StateError, match="read-only"):
            reader.record_pending("news", "b", "viber")
        assert not reader.is_known("news", "b"), "a refused write leaves no trace"


def journal_lines(state: Path) -> list[dict[str, object]]:
    lines = (state / "poster.journal").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:]]


def test_a_backlog_is_kept_as_one_document_of_keys_per_read(tmp_path: Path) -> None:
    with Store(tmp_path, clock=Clock()) as store:
        store.mark_seen("news", ["a", "b", "a"])
        store.mark_seen("news", ["b", "c"])
        store.mark_seen("news", ["c"])
        store.mark_seen("blog", [])
    lines = journal_lines(tmp_path)  # closing writes the marks waiting for a next change
    at = to_iso(T0)
    assert [(line["table"], line["put"], line["delete"]) for line in lines] == [
        ("seen", {"1": {"feed": "news", "at": at, "keys": ["a", "b"]}}, []),
        ("seen", {"2": {"feed": "news", "at": at, "keys": ["c"]}}, []),
    ]
    with Store(tmp_path, read_only=True) as reopened:
        assert [reopened.is_known("news", key) for key in "abcd"] == [True, True, True, False]
        assert reopened.has_history("news") and not reopened.has_history("blog")


def test_a_deferred_record_waits_for_the_next_write_or_flush(tmp_path: Path) -> None:
    with Store(tmp_path, clock=Clock()) as store:
        with store.deferred():
            store.record_fetch_ok("news", T0)
            store.save_validators("news", Validators(etag='"1"'))
        assert journal_lines(tmp_path) == [], "nothing written when the block ends"
        with Store(tmp_path, read_only=True) as reader:
            assert reader.feed_state("news").last_success is None
        store.record_fetch_ok("blog", T0)  # any write takes the waiting records with it
        assert [line["table"] for line in journal_lines(tmp_path)] == ["feeds"] * 3
        with store.deferred():
            store.record_fetch_ok("news", T0 + timedelta(minutes=1))
        store.flush()
        assert len(journal_lines(tmp_path)) == 4
    with Store(tmp_path, read_only=True) as reader:
        assert reader.feed_state("news").last_success == T0 + timedelta(minutes=1)
        assert reader.validators("news") == Validators(etag='"1"')


def test_only_the_deferring_thread_waits(tmp_path: Path) -> None:
    with Store(tmp_path, clock=Clock()) as store:
        inside, done = threading.Event(), threading.Event()

        def read() -> None:
            with store.deferred():
                store.record_fetch_ok("news", T0)
                inside.set()
                done.wait(5)

        reader = threading.Thread(target=read)
        reader.start()
        assert inside.wait(5)
        post(store, "a")  # another thread's record is written at once, the waiting one with it
        done.set()
        reader.join()
        tables = [line["table"] for line in journal_lines(tmp_path)]
        assert tables == ["feeds", "deliveries", "deliveries"]
        with Store(tmp_path, read_only=True) as other:
            assert other.is_known("news", "a")
            assert other.feed_state("news").last_success == T0


def test_an_intent_is_written_at_once_inside_a_deferred_block(tmp_path: Path) -> None:
    with Store(tmp_path, clock=Clock()) as store, store.deferred():
        store.record_fetch_ok("news", T0)
        store.record_pending("news", "a", "viber")
        assert [line["table"] for line in journal_lines(tmp_path)] == ["feeds", "deliveries"]
        store.record_sent("news", "a", receipt())
        assert len(journal_lines(tmp_path)) == 2, "an answer may wait: the intent is on disk"


def test_seen_records_of_the_first_format_are_honoured_and_not_repeated(tmp_path: Path) -> None:
    shutil.copytree(DATA / "v1", tmp_path, dirs_exist_ok=True)
    with Store(tmp_path, clock=Clock()) as store:
        store.mark_seen("news", ["old-1", "fresh"])
        store.flush()
        assert journal_lines(tmp_path)[-1]["put"] == {
            "1": {"feed": "news", "at": to_iso(T0), "keys": ["fresh"]}
        }
        seen = [r.key for r in store.deliveries(states=[SEEN], feed="news")]
        assert seen == ["old-1", "old-2", "fresh"]
        # old-1 and fresh, and the settled post-1 and post-2 of the same feed.
        assert store.prune(T0 + timedelta(days=365), {"news": ["old-2"]}) == 4
        assert [store.is_known("news", k) for k in ("old-1", "old-2", "fresh")] == [
            False,
            True,
            False,
        ]


def test_seen_records_are_listed_with_the_others_in_order_of_change(
    store: Store, clock: Clock
) -> None:
    store.mark_seen("news", ["s1"])
    clock.now = T0 + timedelta(days=1)
    post(store, "p1")
    clock.now = T0 + timedelta(days=2)
    store.mark_seen("blog", ["s2"])
    listed = [(r.key, r.state, r.destination, r.updated) for r in store.deliveries()]
    assert listed == [
        ("s1", SEEN, "", T0),
        ("p1", SENT, "viber", T0 + timedelta(days=1)),
        ("s2", SEEN, "", T0 + timedelta(days=2)),
    ]
    assert [r.key for r in store.recent(2)] == ["s2", "p1"]
    assert [r.key for r in store.recent(5, states=[SENT])] == ["p1"]
    assert [r.key for r in store.deliveries(feed="blog")] == ["s2"]
    assert store.feed_names() == ["blog", "news"]


def test_prune_keeps_held_back_keys_their_feed_still_lists(store: Store, clock: Clock) -> None:
    store.mark_seen("news", ["gone", "listed"])
    store.mark_seen("blog", ["other"])
    clock.now = T0 + timedelta(days=50)
    store.mark_seen("news", ["young"])
    assert store.prune(T0 + timedelta(days=100), {"news": ["listed"]}) == 1
    assert [store.is_known("news", k) for k in ("gone", "listed", "young")] == [False, True, True]
    assert store.is_known("blog", "other"), "a feed not named keeps its records"
    assert store.prune(T0 + timedelta(days=100), {"news": ()}) == 1
    assert store.prune(T0 + timedelta(days=200), {"news": (), "blog": ()}) == 2
    assert store.deliveries() == [] and not store.has_history("news")


# Durability: a flat cost per post, atomic files, torn lines


def journal_growth_per_post(state: Path, posts: int) -> list[int]:
    with Store(state, clock=Clock()) as store:
        snapshot_before = store.path.stat()
        sizes = [store.path.with_suffix(".journal").stat().st_size]
        for n in range(posts):
            post(store, f"new-{n:06d}")
            sizes.append(store.path.with_suffix(".journal").stat().st_size)
        snapshot_after = store.path.stat()
    assert (snapshot_after.st_ino, snapshot_after.st_mtime_ns) == (
        snapshot_before.st_ino,
        snapshot_before.st_mtime_ns,
    ), "the snapshot must not be rewritten by a post"
    return [after - before for before, after in itertools.pairwise(sizes)]


def test_the_bytes_written_per_post_do_not_grow_with_history(tmp_path: Path) -> None:
    # Pre-fill 1,000 and 9,000 records so new document ids have the same number of digits.
    prefill(tmp_path / "small", 1_000)
    prefill(tmp_path / "large", 9_000)
    small = journal_growth_per_post(tmp_path / "small", 20)
    large = journal_growth_per_post(tmp_path / "large", 20)
    assert small == large
    assert len(set(small)) == 1, "every post costs the same"
    assert small[0] < 1_000 < (tmp_path / "small" / "poster.json").stat().st_size


def test_a_torn_last_line_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(tmp_path) as store:
        post(store, "a")
        post(store, "b")
    journal = tmp_path / "poster.journal"
    whole = journal.read_bytes()
    journal.write_bytes(whole[: whole.rindex(b'"state"')])  # cut the last line mid-record
    with caplog.at_level(logging.WARNING), Store(tmp_path) as store:
        assert "state=torn-journal" in caplog.text
        [b] = store.deliveries(feed="news", states={UNCERTAIN})
        assert (b.key, store.is_known("news", "a")) == ("b", True)
        post(store, "c")
    caplog.clear()
    with caplog.at_level(logging.WARNING), Store(tmp_path) as store:
        assert caplog.text == "", "the torn tail was cut off, so later lines follow good ones"
        assert {r.key: r.state for r in store.deliveries()} == {
            "a": SENT,
            "b": UNCERTAIN,
            "c": SENT,
        }


def test_a_line_without_its_newline_counts_as_torn(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        post(store, "a")
    journal = tmp_path / "poster.journal"
    journal.write_bytes(journal.read_bytes()[:-1])
    with Store(tmp_path) as store:
        assert [r.state for r in store.deliveries()] == [UNCERTAIN]


def test_damage_before_the_last_journal_line_is_an_error(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        post(store, "a")
    journal = tmp_path / "poster.journal"
    lines = journal.read_bytes().split(b"\n")
    lines[1] = lines[1][:20] + b"#" * (len(lines[1]) - 20)  # damaged, its length kept
    journal.write_bytes(b"\n".join(lines))
    with pytest.raises(StateError, match="line 2 is not valid JSON") as caught:
        Store(tmp_path)
    assert caught.value.path == journal
    assert "move the journal aside" in str(caught.value)


def test_a_failed_append_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int, offset: int, data: bytes, mark_at: int | None) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with Store(tmp_path) as store:
        post(store, "a")
        monkeypatch.setattr(journal_module, "append_at", disk_full)
        with pytest.raises(StateError, match="is full; free space \\(the state keeps all it had"):
            store.record_pending("news", "b", "viber")
        with pytest.raises(StateError):
            store.record_sent("news", "a", receipt("other-token"))
        monkeypatch.undo()
        assert not store.is_known("news", "b")
        assert [r.message_token for r in store.deliveries()] == ["5491411463282331111"]
        post(store, "c")
    with Store(tmp_path) as store:
        assert [r.key for r in store.deliveries()] == ["a", "c"]


def test_an_intent_that_cannot_be_written_in_a_batch_is_undone_and_what_was_held_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int, offset: int, data: bytes, mark_at: int | None) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with Store(tmp_path) as store, store.batched():
        post(store, "a")  # its result is held
        monkeypatch.setattr(journal_module, "append_at", disk_full)
        with pytest.raises(StateError, match="is full; free space \\(the state keeps all it had"):
            store.record_pending("news", "b", "viber")
        monkeypatch.undo()
        assert not store.is_known("news", "b")
        crashed = crash_copy(tmp_path, tmp_path / "crashed")
        post(store, "c")
    with Store(crashed) as store:
        assert {r.key: r.state for r in store.deliveries()} == {"a": UNCERTAIN}
    with Store(tmp_path) as store:
        assert {r.key: r.state for r in store.deliveries()} == {"a": SENT, "c": SENT}


# Compaction and the backup


def test_compaction_keeps_the_state_and_the_previous_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(JournalStorage, "min_compact_bytes", 0)
    with Store(tmp_path) as store:
        first = store.path.read_bytes()
        for n in range(5):
            post(store, f"k{n}")
        journal_bytes = store.path.with_suffix(".journal").stat().st_size
        assert journal_bytes < store.path.stat().st_size / 2, "compacted as the journal grew"
        assert store.path.read_bytes() != first
        assert store.path.with_name("poster.json.bak").exists()
    with Store(tmp_path) as store:
        assert [r.key for r in store.deliveries(states={SENT})] == [f"k{n}" for n in range(5)]


def test_a_failed_compaction_keeps_every_post(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def disk_full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(JournalStorage, "min_compact_bytes", 0)
    with Store(tmp_path) as store:
        monkeypatch.setattr(journal_module, "write_atomic", disk_full)
        with caplog.at_level(logging.WARNING):
            for n in range(5):
                post(store, f"k{n}")
        assert "state=compact-failed" in caplog.text
        monkeypatch.undo()
    with Store(tmp_path) as store:
        assert len(store.deliveries(states={SENT})) == 5


def test_read_only_on_a_new_directory_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "absent", read_only=True) as store:
        assert not store.is_known("news", "a")
        assert not store.has_history("news")
    assert not (tmp_path / "absent").exists()


def test_a_crash_between_snapshot_and_new_journal_applies_nothing_twice(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(tmp_path, clock=clock) as store:
        store.mark_seen("news", ["a"])
        shutil.copy(tmp_path / "poster.journal", tmp_path / "old.journal")
        store.prune(T0 + timedelta(days=365), {"news": ()})  # deletes "a", replayed once
        store.compact()
    shutil.move(tmp_path / "old.journal", tmp_path / "poster.journal")
    with caplog.at_level(logging.INFO), Store(tmp_path, clock=clock) as store:
        assert "state=journal-in-snapshot" in caplog.text
        assert not store.is_known("news", "a")


def post_across_compactions(state: Path, *after: str) -> None:
    """Post "a", compact, post "b", compact (the journal is empty then), then post ``after``."""
    with Store(state) as store:
        post(store, "a")
        store.compact()
        post(store, "b")
        store.compact()
        for key in after:
            post(store, key)


def test_a_snapshot_put_back_from_its_backup_is_brought_up_to_date_by_the_kept_journal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    post_across_compactions(tmp_path, "c")
    (tmp_path / "poster.json").write_bytes(b'{"format": 1, "tab')  # damaged
    with pytest.raises(StateError, match="move it into place"):
        Store(tmp_path).close()
    shutil.copy(tmp_path / "poster.json.bak", tmp_path / "poster.json")
    with caplog.at_level(logging.WARNING), Store(tmp_path, read_only=True) as store:
        assert sorted(r.key for r in store.deliveries()) == ["a", "b", "c"]
    with Store(tmp_path) as store:
        assert sorted(r.key for r in store.deliveries()) == ["a", "b", "c"]
        assert "state=restored-from-backup" in caplog.text
        post(store, "d")
    with Store(tmp_path) as store:  # the journals were folded into a new snapshot
        assert sorted(r.key for r in store.deliveries()) == ["a", "b", "c", "d"]


def test_a_crash_in_the_compaction_after_a_restore_from_backup_loses_and_refuses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_across_compactions(tmp_path)
    shutil.copy(tmp_path / "poster.json.bak", tmp_path / "poster.json")

    def crash(self: JournalStorage, generation: str) -> None:
        raise OSError(errno.EIO, "the machine stopped")

    monkeypatch.setattr(JournalStorage, "_start_journal", crash)
    with pytest.raises(StateError):
        Store(tmp_path)  # the new snapshot is written; its journal never starts
    monkeypatch.undo()
    with Store(tmp_path) as store:
        assert sorted(r.key for r in store.deliveries()) == ["a", "b"]
    # The backup now has no journal that continues it: putting it back again is refused.
    assert not (tmp_path / "poster.journal.bak").exists()
    shutil.copy(tmp_path / "poster.json.bak", tmp_path / "poster.json")
    with pytest.raises(StateError, match="continues a later state"):
        Store(tmp_path).close()


def test_a_journal_continuing_a_later_snapshot_than_the_one_in_place_stops_poster(
    tmp_path: Path,
) -> None:
    with Store(tmp_path) as store:
        post(store, "a")
        store.compact()
        post(store, "b")
    shutil.copy(tmp_path / "poster.json.bak", tmp_path / "poster.json")
    (tmp_path / "poster.journal.bak").unlink()  # as a release that kept none left it
    with pytest.raises(StateError) as refused:
        Store(tmp_path).close()
    assert "continues a later state than poster.json" in str(refused.value)
    assert "move the journal aside" in str(refused.value)
    (tmp_path / "poster.journal").rename(tmp_path / "aside.journal")  # the operator's choice
    with Store(tmp_path) as store:
        assert store.deliveries() == []


def test_a_journal_older_than_the_snapshot_is_set_aside_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(tmp_path) as store:
        post(store, "a")
        shutil.copy(tmp_path / "poster.journal", tmp_path / "old.journal")
        store.compact()
        store.compact()
        post(store, "b")
    shutil.copy(tmp_path / "old.journal", tmp_path / "poster.journal")
    with caplog.at_level(logging.WARNING), Store(tmp_path) as store:
        assert "state=journal-ignored" in caplog.text
        assert [r.key for r in store.deliveries()] == ["a"]
    assert (tmp_path / "poster.journal.stale").exists()


def test_tinydb_writes_by_query_journal_only_what_changed(tmp_path: Path) -> None:
    db = JournalDB(JournalStorage(tmp_path / "db.json"))
    table = db.table("t")
    table.insert_multiple([{"n": n} for n in range(10)])
    before = db.journal.journal_bytes
    table.update({"n": 100}, Query().n == 3)
    table.remove(Query().n == 5)
    line_bytes = db.journal.journal_bytes - before
    db.close()
    lines = (tmp_path / "db.journal").read_bytes().splitlines()[-2:]
    assert lines == [
        b'{"seq":2,"table":"t","put":{"4":{"n":100}},"delete":[]}',
        b'{"seq":3,"table":"t","put":{},"delete":["6"]}',
    ]
    assert line_bytes == sum(len(line) + 1 for line in lines)


def test_one_document_updated_journals_only_its_changed_fields(tmp_path: Path) -> None:
    from tinydb.operations import delete

    db = JournalDB(JournalStorage(tmp_path / "db.json"))
    table = db.table("t")
    table.insert_multiple([{"n": 1, "big": "x" * 100, "gone": 0}, {"n": 2}])
    table.update({"n": 10, "new": [1]}, doc_ids=[1])
    table.update({"n": 10}, doc_ids=[1])  # nothing changes: nothing is journaled
    table.update(delete("gone"), doc_ids=[1])  # a field taken away: the document whole
    table.update({"n": 20}, doc_ids=[1, 2])  # two documents: each whole
    db.close()
    lines = (tmp_path / "db.journal").read_bytes().splitlines()[2:]
    assert lines == [
        b'{"seq":2,"table":"t","put":{},"delete":[],"set":{"fields":{"n":10,"new":[1]},"ids":["1"]}}',
        b'{"seq":3,"table":"t","put":{"1":{"n":10,"big":"'
        + b"x" * 100
        + b'","new":[1]}},"delete":[]}',
        b'{"seq":4,"table":"t","put":{"1":{"n":20,"big":"'
        + b"x" * 100
        + b'","new":[1]},"2":{"n":20}},"delete":[]}',
    ]
    reopened = JournalDB(JournalStorage(tmp_path / "db.json"))
    assert reopened.table("t").all() == [{"n": 20, "big": "x" * 100, "new": [1]}, {"n": 20}]
    reopened.close()


def test_a_feeds_new_validators_are_journaled_without_the_rest_of_its_record(
    tmp_path: Path,
) -> None:
    with Store(tmp_path) as store:
        store.save_validators("news", Validators(etag='"v1"', last_modified="Mon, 01 Jan 2024"))
        store.save_validators("news", Validators(etag='"v2"', last_modified="Mon, 01 Jan 2024"))
        last = journal_lines(tmp_path)[-1]
        assert last["put"] == {} and last["set"] == {"fields": {"etag": '"v2"'}, "ids": ["1"]}
    with Store(tmp_path, read_only=True) as reader:
        assert reader.validators("news") == Validators('"v2"', "Mon, 01 Jan 2024")


def test_a_process_that_wrote_much_leaves_the_state_compacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(JournalStorage, "leave_compacted_bytes", 4096)
    journal = tmp_path / "poster.journal"
    with Store(tmp_path) as store:
        store.mark_seen("news", ["a"])
    assert len(journal_lines(tmp_path)) == 1, "a little written: the journal is left as it is"
    with Store(tmp_path) as store:
        for n in range(40):
            store.save_validators(f"feed-{n}", Validators(etag=f'"{n}"'))
        assert journal.stat().st_size > 4096
    assert journal_lines(tmp_path) == []
    assert (tmp_path / "poster.json.bak").exists()
    with Store(tmp_path, read_only=True) as reader:
        assert reader.validators("feed-39") == Validators(etag='"39"')
        assert reader.is_held_back("news", "a")
    snapshot = (tmp_path / "poster.json").read_bytes()
    with Store(tmp_path, read_only=True) as reader:
        assert reader.validators("feed-0") == Validators(etag='"0"')
    assert (tmp_path / "poster.json").read_bytes() == snapshot, "a reader writes nothing"


def test_a_compaction_on_closing_that_fails_is_logged_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(JournalStorage, "leave_compacted_bytes", 1024)
    with Store(tmp_path) as store:
        monkeypatch.setattr(
            JournalStorage, "_compact", lambda self: (_ for _ in ()).throw(OSError(28, "full"))
        )
        for n in range(20):
            store.save_validators(f"feed-{n}", Validators(etag=f'"{n}"'))
    assert "state=compact-failed" in caplog.text
    assert len(journal_lines(tmp_path)) == 20
    monkeypatch.undo()
    with Store(tmp_path, read_only=True) as reader:
        assert reader.validators("feed-19") == Validators(etag='"19"')


# Start-up errors: never a silent reset

BAD_SNAPSHOTS = {
    "garbage-bytes": ("garbage.bin", "is not (UTF-8 text|valid JSON)"),
    "empty-file": ("empty.json", "is not valid JSON"),
    "json-list": ("list.json", "not a poster state file"),
    "plain-tinydb": ("plain_tinydb.json", "not a poster state file"),
    "bad-document-id": ("bad_doc_id.json", "document 'one' is not a numbered object"),
    "record-without-key": ("record_without_key.json", "delivery record 1 has no text 'key'"),
    "unknown-state": ("unknown_state.json", "unknown state 'posted'"),
    "seen-without-keys": ("seen_without_keys.json", "seen record 1 has no list of text 'keys'"),
    "seen-key-not-text": ("seen_key_not_text.json", "seen record 1 has no list of text 'keys'"),
    "feed-without-fields": (
        "feed_without_fields.json",
        "feed record 1 lacks disabled, next_attempt",
    ),
}


@pytest.mark.parametrize(("name", "problem"), BAD_SNAPSHOTS.values(), ids=BAD_SNAPSHOTS.keys())
@pytest.mark.parametrize("backup", [True, False], ids=["with-backup", "no-backup"])
def test_an_unusable_snapshot_stops_start_up_and_is_left_alone(
    tmp_path: Path, name: str, problem: str, backup: bool
) -> None:
    snapshot = tmp_path / "poster.json"
    shutil.copy(DATA / name, snapshot)
    if backup:
        shutil.copy(DATA / "v1" / "poster.json", tmp_path / "poster.json.bak")
    with pytest.raises(StateError, match=problem) as caught:
        Store(tmp_path)
    message = str(caught.value)
    assert caught.value.path == snapshot and str(snapshot) in message
    if backup:
        assert f"the last good copy is at {snapshot}.bak; move it into place" in message
    else:
        assert "there is no backup copy" in message
    assert (
        "remove the file to start empty (every current item will then be treated as new)" in message
    )
    assert snapshot.read_bytes() == (DATA / name).read_bytes()


# Retention


def test_prune_drops_old_settled_records_except_items_still_in_the_feed(
    tmp_path: Path, clock: Clock
) -> None:
    with Store(tmp_path, clock=clock, retention=timedelta(days=90)) as store:
        post(store, "old-gone")
        post(store, "old-listed")
        store.record_failed("news", "old-failed", "viber", "bad")
        store.mark_seen("news", ["old-seen"])
        store.record_pending("news", "old-pending", "viber")
        store.record_uncertain("news", "old-uncertain", "viber", "timeout")
        post(store, "other-feed", feed="blog")
        clock.now = T0 + timedelta(days=80)
        post(store, "recent")
        removed = store.prune(T0 + timedelta(days=100), {"news": ["old-listed", "recent"]})
    assert removed == 3
    with Store(tmp_path, clock=clock) as store:
        states = {r.key: r.state for r in store.deliveries()}
        assert not store.is_known("news", "old-gone")
        # A feed whose current items are unknown keeps its records.
        assert store.is_known("blog", "other-feed")
        assert store.prune(T0 + timedelta(days=100), {"blog": ()}) == 1
        assert not store.has_history("blog")
    assert states == {
        "other-feed": SENT,
        "old-listed": SENT,
        "old-pending": UNCERTAIN,
        "old-uncertain": UNCERTAIN,
        "recent": SENT,
    }


def test_a_removed_feed_keeps_its_records_until_every_configured_feed_has_read(
    tmp_path: Path, clock: Clock
) -> None:
    from poster.config import load_config
    from poster.daemon.core import gone_to_prune

    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    config_file = tmp_path / "feeds.toml"
    config_file.write_text('[[feeds]]\nname = "city-news"\nurl = "https://e.org/f"\n')
    config = load_config(config_file)
    with Store(tmp_path / "state", clock=clock) as store:
        post(store, "old")  # as feed "news", which feeds.toml no longer names
        assert gone_to_prune(config, store) == [], "city-news may be news renamed"
        post(store, "first", feed="city-news")
        assert gone_to_prune(config, store) == ["news"]


# Threads


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    with Store(tmp_path) as store:

        def work(feed: str) -> None:
            for n in range(25):
                post(store, f"k{n}", feed=feed)

        threads = [threading.Thread(target=work, args=(f"feed{t}",)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    with Store(tmp_path) as store:
        assert len(store.deliveries(states={SENT})) == 100
        assert all(store.is_known(f"feed{t}", f"k{n}") for t in range(4) for n in range(25))


def test_state_files_are_named_after_the_snapshot() -> None:
    files = StateFiles(Path("/var/lib/poster/poster.json"))
    assert (files.backup.name, files.journal.name, files.lock.name) == (
        "poster.json.bak",
        "poster.journal",
        "poster.lock",
    )


def test_held_back_keys_are_sorted_only_for_the_feeds_looked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(tmp_path) as store:
        for feed in ("a", "b", "c"):
            store.mark_seen(feed, [f"{feed}-2", f"{feed}-1", f"{feed}-2"])
    sorted_for: list[list[str]] = []
    original = seen_module._sorted

    def counted(keys: Iterable[str]) -> tuple[str, ...]:
        kept = list(keys)
        sorted_for.append(kept)
        return original(kept)

    monkeypatch.setattr(seen_module, "_sorted", counted)
    with Store(tmp_path, read_only=True) as store:
        assert sorted_for == []
        assert store.has_history("b") and store.is_held_back("b", "b-1")
        assert not store.is_held_back("b", "b-3")
        assert [sorted(keys) for keys in sorted_for] == [["b-1", "b-2"]]


def test_a_write_journals_only_documents_whose_fields_changed(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        journal = store.path.with_suffix(".journal")
        store.save_validators("news", Validators(etag='"v1"'))
        store.save_validators("sport", Validators(etag='"s1"'))
        before = journal.read_bytes()
        store.save_validators("news", Validators(etag='"v1"'))  # the same fields: no write
        assert journal.read_bytes() == before
        store.record_fetches_ok(["news", "sport"], datetime(2026, 11, 23, tzinfo=UTC))
        store.record_fetches_ok(["news", "sport"], datetime(2026, 11, 23, tzinfo=UTC))
        lines = journal.read_bytes()[len(before) :].splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["set"]["ids"] == ["1", "2"]
    with Store(tmp_path) as store:
        assert store.validators("news") == Validators(etag='"v1"')
        assert store.feed_state("sport").last_success is not None


@pytest.mark.parametrize("name", ["poster.json", "poster.journal"])
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_state_file_replaced_by_a_fifo_or_a_device_is_refused_at_once(
    tmp_path: Path, name: str, kind: str
) -> None:
    with Store(tmp_path) as store:
        store.mark_seen("news", ["a"])
    target = tmp_path / name
    target.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    refused = finished(lambda: Store(tmp_path, read_only=True))
    assert isinstance(refused, StateError)
    assert f"{target}: cannot be read (not a regular file)" in str(refused)


def test_a_holder_note_replaced_by_a_fifo_is_no_holder(tmp_path: Path) -> None:
    files = StateFiles(tmp_path / "poster.json")
    os.mkfifo(files.holder)
    assert finished(lambda: read_holder(files)) is None


@pytest.mark.parametrize(
    ("module", "name"),
    [("poster.store.files", "poster.json"), ("poster.store.journalread", "poster.journal")],
)
def test_a_state_file_poster_may_not_read_is_never_to_be_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, name: str
) -> None:
    with Store(tmp_path) as store:
        store.mark_seen("news", ["a"])

    def refuse(path: Path, *_: object) -> bytes:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(f"{module}.read_regular", refuse)
    refused = finished(lambda: Store(tmp_path, read_only=True))
    assert isinstance(refused, StateError)
    text = str(refused)
    assert "(Permission denied); run `chown -R " in text and "nothing is lost" in text
    assert "remove" not in text and "aside" not in text and "start empty" not in text


def test_a_state_folder_that_is_a_file_is_said_to_be_no_folder(tmp_path: Path) -> None:
    file = tmp_path / "afile"
    file.write_text("", encoding="utf-8")
    refused = finished(lambda: Store(file, read_only=True))
    assert isinstance(refused, StateError)
    assert str(refused) == f"state file {file}: is not a folder; use --state-dir with a folder"
