"""Run one pass: read every feed, then send what is new through the outbox, lane by lane."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

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
    with ThreadPoolExecutor(deps.workers, thread_name_prefix="poster-read") as pool:
        return list(pool.map(read, feeds))


def _one_lane(deps: Deps) -> dict[str, Lane]:
    """Return the lane of a pass's one destination."""
    assert deps.destination is not None
    return {deps.destination.name: Lane(deps.destination, deps.pacer)}
