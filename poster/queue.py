"""Hold items waiting for one channel, oldest first, and finish each feed's batch when done."""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from poster.filters import Decision
from poster.pipeline import Batch, FeedReport, Outcome


@dataclass(order=True)
class Entry:
    """One item waiting to be posted; entries sort by the item's date, then arrival."""

    when: float
    seq: int
    batch: Batch = field(compare=False)
    decision: Decision = field(compare=False)

    @property
    def feed(self) -> str:
        """Return the name of the entry's feed."""
        return self.batch.feed.name

    @property
    def key(self) -> str:
        """Return the entry's item key."""
        return self.decision.item.key


@dataclass
class _Progress:
    """What is left of one batch, and what became of the rest."""

    batch: Batch
    remaining: int
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)


class ChannelQueue:
    """Order waiting items oldest first; call ``on_finish`` when a batch has nothing left."""

    def __init__(self, on_finish: Callable[[Batch, dict[tuple[str, str], Outcome]], FeedReport]):
        self._on_finish = on_finish
        self._heap: list[Entry] = []
        self._progress: dict[int, _Progress] = {}
        self._seq = itertools.count()
        self._ready = threading.Condition()

    def __len__(self) -> int:
        with self._ready:
            return len(self._heap)

    def put(self, batch: Batch) -> FeedReport | None:
        """Queue a batch's wanted items; a batch with none is finished at once."""
        wanted = batch.wanted()
        if not wanted:
            return self._on_finish(batch, {})
        with self._ready:
            self._progress[id(batch)] = _Progress(batch, len(wanted))
            for decision in wanted:
                date = decision.item.date
                when = date.timestamp() if date is not None else math.inf
                heapq.heappush(self._heap, Entry(when, next(self._seq), batch, decision))
            self._ready.notify_all()
        return None

    def get(self, timeout: float) -> Entry | None:
        """Return the oldest waiting entry, waiting up to ``timeout`` seconds for one."""
        with self._ready:
            if not self._heap:
                self._ready.wait(timeout)
            return heapq.heappop(self._heap) if self._heap else None

    def wake(self) -> None:
        """Wake a worker waiting in ``get`` (to notice a stop at once)."""
        with self._ready:
            self._ready.notify_all()

    def requeue(self, entry: Entry) -> None:
        """Put an entry back in its place, to be tried again."""
        with self._ready:
            heapq.heappush(self._heap, entry)
            self._ready.notify_all()

    def done(self, entry: Entry, outcome: Outcome) -> FeedReport | None:
        """Record an entry's outcome; return the batch's report when it was the last one."""
        with self._ready:
            progress = self._progress.get(id(entry.batch))
            if progress is None:
                return None
            progress.outcomes[(entry.feed, entry.key)] = outcome
            progress.remaining -= 1
            if progress.remaining:
                return None
            del self._progress[id(entry.batch)]
        return self._on_finish(entry.batch, progress.outcomes)

    def busy(self, feed: str) -> frozenset[str]:
        """Return the keys of a feed's items that are waiting or being posted."""
        with self._ready:
            return frozenset(
                decision.item.key
                for progress in self._progress.values()
                if progress.batch.feed.name == feed
                for decision in progress.batch.wanted()
                if (feed, decision.item.key) not in progress.outcomes
            )

    def drop(self, feed: str) -> int:
        """Forget every waiting item of a feed (it left the configuration)."""
        with self._ready:
            dropped = [e for e in self._heap if e.feed == feed]
            self._heap = [e for e in self._heap if e.feed != feed]
            heapq.heapify(self._heap)
            for entry in dropped:
                self._progress.pop(id(entry.batch), None)
        return len(dropped)
