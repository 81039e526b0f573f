"""Test the channel queue: order, busy keys, requeueing, finishing batches and dropping feeds."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from poster.config import FeedConfig
from poster.filters import FILTERED, POST, SEEN, Decision
from poster.models import FetchResult, Item, ParsedFeed, Validators
from poster.pipeline import DEFERRED, SENT, UNCERTAIN, Batch, FeedReport, Outcome
from poster.queue import ChannelQueue, Entry

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def batch(feed: str, *items: tuple[str, int | None] | tuple[str, int | None, str]) -> Batch:
    """Return a batch of ``(key, minutes after START or None, action)`` items, in that order."""
    decisions = []
    for key, minute, *action in items:
        date = None if minute is None else START + timedelta(minutes=minute)
        decisions.append(
            Decision(Item(key, title=key, published=date), action[0] if action else POST)
        )
    result = FetchResult(feed, f"https://{feed}.example.org/", 200, b"<rss/>", Validators('"v"'))
    config = FeedConfig(feed, f"https://{feed}.example.org/")
    return Batch(config, result, ParsedFeed(title=feed), tuple(decisions))


class Finished:
    """Record every batch the queue finishes, with its outcomes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str | None]]] = []

    def __call__(self, done: Batch, outcomes: Mapping[tuple[str, str], Outcome]) -> FeedReport:
        shown = {key: outcome.delivery for (_, key), outcome in outcomes.items()}
        self.calls.append((done.feed.name, shown))
        return FeedReport(done.feed.name)


@pytest.fixture
def finished() -> Finished:
    return Finished()


@pytest.fixture
def queue(finished: Finished) -> ChannelQueue:
    return ChannelQueue(finished)


def drain(queue: ChannelQueue) -> list[str]:
    """Take every waiting entry and return their keys in the order they came out."""
    keys = []
    while (entry := queue.get(0)) is not None:
        keys.append(entry.key)
    return keys


@pytest.mark.parametrize(
    ("batches", "order"),
    [
        ([batch("a", ("a1", 10), ("a2", 30))], ["a1", "a2"]),
        (
            [batch("a", ("a1", 10), ("a2", 30)), batch("b", ("b1", 5), ("b2", 20))],
            ["b1", "a1", "b2", "a2"],
        ),
        (
            [batch("a", ("a1", 10)), batch("b", ("b1", 10)), batch("c", ("c1", 10))],
            ["a1", "b1", "c1"],
        ),
        ([batch("a", ("a1", None), ("a2", None)), batch("b", ("b1", 50))], ["b1", "a1", "a2"]),
        ([batch("a", ("late", 90)), batch("a", ("early", 1))], ["early", "late"]),
    ],
    ids=["one-feed", "two-feeds-interleave", "same-date-by-arrival", "undated-last", "later-batch"],
)
def test_entries_come_out_by_item_date_then_arrival(
    queue: ChannelQueue, batches: list[Batch], order: list[str]
) -> None:
    for each in batches:
        assert queue.put(each) is None
    assert len(queue) == len(order)
    assert drain(queue) == order
    assert len(queue) == 0


def test_only_wanted_items_are_queued(queue: ChannelQueue) -> None:
    queue.put(batch("a", ("old", 1, SEEN), ("new", 2), ("spam", 3, FILTERED)))
    assert drain(queue) == ["new"]


def test_a_batch_with_nothing_to_post_is_finished_at_once(
    queue: ChannelQueue, finished: Finished
) -> None:
    report = queue.put(batch("a", ("old", 1, SEEN)))
    assert report == FeedReport("a")
    assert finished.calls == [("a", {})]
    assert len(queue) == 0


def test_get_waits_for_a_put_and_gives_up_after_its_timeout(queue: ChannelQueue) -> None:
    assert queue.get(0.05) is None
    later = threading.Timer(0.1, queue.put, [batch("a", ("a1", 1))])
    later.start()
    try:
        entry = queue.get(5)
    finally:
        later.join()
    assert entry is not None and entry.key == "a1" and entry.feed == "a"


def test_wake_releases_a_waiting_get(queue: ChannelQueue) -> None:
    got: list[Entry | None] = []
    waiting = threading.Thread(target=lambda: got.append(queue.get(30)))
    waiting.start()
    for _ in range(40):
        queue.wake()
        waiting.join(timeout=0.05)
    assert not waiting.is_alive(), "wake() did not end the wait"
    assert got == [None]


def test_busy_names_a_feeds_keys_waiting_or_in_flight_until_done(queue: ChannelQueue) -> None:
    queue.put(batch("a", ("a1", 1), ("a2", 2), ("a0", 0, SEEN)))
    queue.put(batch("b", ("b1", 3)))
    assert queue.busy("a") == {"a1", "a2"}
    first = queue.get(0)
    assert first is not None and first.key == "a1"
    assert queue.busy("a") == {"a1", "a2"}, "an entry being posted is still busy"
    queue.done(first, Outcome(first.decision, delivery=SENT))
    assert queue.busy("a") == {"a2"}
    assert queue.busy("b") == {"b1"}
    assert queue.busy("c") == frozenset()


def test_a_requeued_entry_keeps_its_place_ahead_of_newer_items(queue: ChannelQueue) -> None:
    queue.put(batch("a", ("a1", 1), ("a3", 3)))
    first = queue.get(0)
    assert first is not None
    queue.put(batch("b", ("b2", 2)))
    queue.requeue(first)
    assert queue.busy("a") == {"a1", "a3"}
    assert drain(queue) == ["a1", "b2", "a3"]


def test_done_finishes_each_batch_exactly_once_with_every_outcome(
    queue: ChannelQueue, finished: Finished
) -> None:
    queue.put(batch("a", ("a1", 1), ("a2", 4), ("a0", 0, SEEN)))
    queue.put(batch("b", ("b1", 2)))
    deliveries = {"a1": [DEFERRED, SENT], "b1": [UNCERTAIN], "a2": [SENT]}
    reports = []
    while (entry := queue.get(0)) is not None:
        delivery = deliveries[entry.key].pop(0)
        outcome = Outcome(entry.decision, delivery=delivery)
        if delivery == DEFERRED:
            queue.requeue(entry)
            continue
        reports.append(queue.done(entry, outcome))
    assert reports == [None, FeedReport("b"), FeedReport("a")]
    assert finished.calls == [("b", {"b1": UNCERTAIN}), ("a", {"a1": SENT, "a2": SENT})]


def test_two_batches_of_one_feed_finish_separately(queue: ChannelQueue, finished: Finished) -> None:
    queue.put(batch("a", ("a1", 1)))
    queue.put(batch("a", ("a2", 2)))
    for entry in (queue.get(0), queue.get(0)):
        assert entry is not None
        queue.done(entry, Outcome(entry.decision, delivery=SENT))
    assert finished.calls == [("a", {"a1": SENT}), ("a", {"a2": SENT})]


def test_drop_forgets_a_feeds_waiting_items_and_never_finishes_them(
    queue: ChannelQueue, finished: Finished
) -> None:
    queue.put(batch("a", ("a1", 1), ("a2", 2), ("a3", 3)))
    queue.put(batch("b", ("b1", 2)))
    in_flight = queue.get(0)
    assert in_flight is not None and in_flight.key == "a1"
    assert queue.drop("a") == 2
    assert queue.busy("a") == frozenset()
    assert len(queue) == 1
    # The post under way when the feed left the configuration ends without finishing its batch.
    assert queue.done(in_flight, Outcome(in_flight.decision, delivery=SENT)) is None
    assert drain(queue) == ["b1"]
    assert queue.drop("missing") == 0
    assert finished.calls == []
