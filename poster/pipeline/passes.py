"""Run one pass: read every feed, then send what is new through the outbox, lane by lane."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from poster.config import FeedConfig
from poster.errors import ReadStopped
from poster.pipeline.outbox import Lane, Outbox, Outcomes
from poster.pipeline.stages import Batch, Deps, FeedReport, collect, finish

STOPPED = "not read: the pass was stopped; the next one reads it"
RAMP_WINDOW = 0.02
"""Seconds between looks at whether the readers wait enough for one more to help."""
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
    stopping: Callable[[], bool] = lambda: False,
) -> list[FeedReport]:
    """Read every feed, then post all new items oldest first across feeds, paced per lane.

    Without ``lanes`` the pass has one: its destination's, paced by ``deps.pacer``. Once
    ``stopping`` says so, no further post starts: the rest wait for the next pass.
    """
    collected = collect_all(feeds, deps, ready, stopping)
    if lanes is None:
        lanes = {} if deps.destination is None else _one_lane(deps)
    finished: dict[int, FeedReport] = {}

    def on_finish(batch: Batch, outcomes: Outcomes) -> FeedReport:
        finished[id(batch)] = report = finish(
            batch, outcomes, deps.ledger, own_routes=deps.own_routes
        )
        return report

    outbox = Outbox(lanes, lambda: deps, on_finish, stopping)
    for entry in collected:
        if isinstance(entry, Batch):
            outbox.put(entry)
    outbox.drain()
    return [finished[id(e)] if isinstance(e, Batch) else e for e in collected]


def collect_all(
    feeds: Sequence[FeedConfig],
    deps: Deps,
    ready: Ready | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> list[Batch | FeedReport]:
    """Read every feed, several at a time when allowed; results keep the feeds' order.

    Once ``stopping`` says so, no read starts, and one a stop broke off (its connection cut)
    is told as stopped, not failed.
    """

    def read(feed: FeedConfig) -> Batch | FeedReport:
        if stopping():
            return FeedReport(feed.name, error=ReadStopped(feed.name, STOPPED))
        entry = collect(feed, deps)
        if isinstance(entry, FeedReport) and entry.error is not None and stopping():
            return FeedReport(feed.name, error=ReadStopped(feed.name, STOPPED))
        if ready is not None and isinstance(entry, Batch) and entry.wanted():
            ready(entry)
        return entry

    if deps.workers <= 1 or len(feeds) <= 1:
        return [read(feed) for feed in feeds]
    return in_threads(read, feeds, deps.workers)


def in_threads(
    read: Callable[[FeedConfig], Batch | FeedReport],
    feeds: Sequence[FeedConfig],
    workers: int,
    window: float = RAMP_WINDOW,
) -> list[Batch | FeedReport]:
    """Read ``feeds`` on up to ``workers`` threads, each taking the next feed in turn; keep order.

    One thread starts reading; another joins after each ``window`` in which the process used
    less than half a core, that is while the readers mostly wait for the network. Where answers
    come back at once (a pass of 304s from a near server) one thread reads them all, without the
    hand-offs of the interpreter that cost four threads a tenth more CPU and no time. A pool's
    future per feed would wake this thread once per feed; here it wakes once a window until
    every reader has started. The first error stops the reading and is raised here.
    """
    results: list[Batch | FeedReport | None] = [None] * len(feeds)
    turns = itertools.count()  # its next() is atomic: each feed is read by one thread
    errors: list[BaseException] = []
    ended = threading.Event()  # set once any reader stops: the feeds are all taken, or one failed

    def work() -> None:
        try:
            for index in turns:
                if index >= len(feeds) or errors:
                    return
                try:
                    results[index] = read(feeds[index])
                except BaseException as exc:  # handed to the caller, as a pool's result would be
                    errors.append(exc)
                    return
        finally:
            ended.set()

    threads = _ramp(work, min(workers, len(feeds)), ended, window)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return cast(list[Batch | FeedReport], results)  # every feed was read: none is left None


def _ramp(
    work: Callable[[], None], count: int, ended: threading.Event, window: float
) -> list[threading.Thread]:
    """Start one reader, then up to ``count`` in all while the process waits more than it works."""
    threads = [_reader(work, 0)]
    while len(threads) < count:
        cpu, wall = time.process_time(), time.monotonic()
        if ended.wait(window):
            break
        if time.process_time() - cpu < (time.monotonic() - wall) / 2:
            threads.append(_reader(work, len(threads)))
    return threads


def _reader(work: Callable[[], None], number: int) -> threading.Thread:
    """Start one reading thread."""
    thread = threading.Thread(target=work, name=f"poster-read_{number}")
    thread.start()
    return thread


def _one_lane(deps: Deps) -> dict[str, Lane]:
    """Return the lane of a pass's one destination."""
    assert deps.destination is not None
    return {deps.destination.name: Lane(deps.destination, deps.pacer)}
