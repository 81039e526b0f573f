"""Run one pass: read every feed, then send what is new through the outbox, lane by lane."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from poster.config import FeedConfig
from poster.pipeline.outbox import Lane, Outbox, Outcomes
from poster.pipeline.stages import Batch, Deps, FeedReport, collect, finish

Ready = Callable[[Batch], None]
"""Told, in the reading thread, of each batch with items to post, before any is posted."""


def run_feed(feed: FeedConfig, deps: Deps) -> FeedReport:
    """Run one pass over one feed; a feed's failure is reported, never raised."""
    return run_pass([feed], deps)[0]


def run_pass(
    feeds: Sequence[FeedConfig],
    deps: Deps,
    lanes: Mapping[str, Lane] | None = None,
    ready: Ready | None = None,
) -> list[FeedReport]:
    """Read every feed, then post all new items oldest first across feeds, paced per lane.

    Without ``lanes`` the pass has one: its destination's, paced by ``deps.pacer``.
    """
    collected = collect_all(feeds, deps, ready)
    if lanes is None:
        lanes = {} if deps.destination is None else _one_lane(deps)
    finished: dict[int, FeedReport] = {}

    def on_finish(batch: Batch, outcomes: Outcomes) -> FeedReport:
        finished[id(batch)] = report = finish(batch, outcomes, deps.ledger)
        return report

    outbox = Outbox(lanes, lambda: deps, on_finish)
    for entry in collected:
        if isinstance(entry, Batch):
            outbox.put(entry)
    outbox.drain()
    return [finished[id(e)] if isinstance(e, Batch) else e for e in collected]


def collect_all(
    feeds: Sequence[FeedConfig], deps: Deps, ready: Ready | None = None
) -> list[Batch | FeedReport]:
    """Read every feed, several at a time when allowed; results keep the feeds' order."""

    def read(feed: FeedConfig) -> Batch | FeedReport:
        entry = collect(feed, deps)
        if ready is not None and isinstance(entry, Batch) and entry.wanted():
            ready(entry)
        return entry

    if deps.workers <= 1 or len(feeds) <= 1:
        return [read(feed) for feed in feeds]
    return in_threads(read, feeds, deps.workers)


def in_threads(
    read: Callable[[FeedConfig], Batch | FeedReport], feeds: Sequence[FeedConfig], workers: int
) -> list[Batch | FeedReport]:
    """Read ``feeds`` on ``workers`` threads, each taking the next feed in turn; keep their order.

    A pool's future per feed would wake this thread once per feed, taking the interpreter from
    the reading threads each time; here it waits once for them all. The first error stops the
    reading and is raised here.
    """
    results: list[Batch | FeedReport | None] = [None] * len(feeds)
    turns = itertools.count()  # its next() is atomic: each feed is read by one thread
    errors: list[BaseException] = []

    def work() -> None:
        for index in turns:
            if index >= len(feeds) or errors:
                return
            try:
                results[index] = read(feeds[index])
            except BaseException as exc:  # handed to the caller, as a pool's result would be
                errors.append(exc)
                return

    count = min(workers, len(feeds))
    threads = [threading.Thread(target=work, name=f"poster-read_{n}") for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return cast(list[Batch | FeedReport], results)  # every feed was read: none is left None


def _one_lane(deps: Deps) -> dict[str, Lane]:
    """Return the lane of a pass's one destination."""
    assert deps.destination is not None
    return {deps.destination.name: Lane(deps.destination, deps.pacer)}
