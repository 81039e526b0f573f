"""Hold posts waiting for each destination, oldest first, and send them lane by lane.

Each destination has its own lane: its queue, its pacing (``min_gap``, ``max_per_pass``), its
backoff after a retry-later answer, its fatal state and its gate (quiet hours, daily cap), so
one destination refusing or holding posts stops only its own lane. A one-shot run drains each
lane once; the daemon runs a worker per lane. An item is rendered once per kind, and goes to
each routed destination that does not know it yet.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from poster.backoff import CHANNEL_BACKOFF_BASE, CHANNEL_BACKOFF_MAX, backoff
from poster.destinations import Destination, Message
from poster.errors import DestinationFatal, RenderError, TemplateUnusable
from poster.frozen import replace
from poster.models import State
from poster.pipeline.gatekeeper import Gatekeeper
from poster.pipeline.pacing import Pacer
from poster.pipeline.stages import (
    DEFERRED,
    SENT,
    UNCERTAIN,
    Batch,
    Deps,
    FeedReport,
    Outcome,
    finish,
    render,
    send,
)

if TYPE_CHECKING:
    from poster.items import Item
    from poster.select import Decision

log = logging.getLogger(__name__)

UNLIMITED = 1 << 62
"""A ``max_per_pass`` that never stops a lane."""

Outcomes = Mapping[tuple[str, str], Sequence[Outcome]]


@dataclass(order=True)
class Entry:
    """One item waiting for one destination; entries sort by the item's date, then arrival."""

    when: float
    seq: int
    batch: Batch = field(compare=False)
    decision: Decision = field(compare=False)
    not_before: float = field(default=0.0, compare=False)
    """The lane's clock before which the entry is not tried again (its template is unusable)."""

    def later(self, now: float, wait: float) -> Entry:
        """Return the entry to try again after ``wait`` seconds of the lane's clock, behind the
        items waiting now: one item whose template cannot be used holds up no other."""
        return replace(self, when=max(self.when, time.time()), not_before=now + wait)

    @property
    def feed(self) -> str:
        """Return the name of the entry's feed."""
        return self.batch.feed.name

    @property
    def key(self) -> str:
        """Return the entry's item key."""
        return self.decision.item.key


ITEM_WAIT = 60.0
"""Seconds before the daemon tries again an item whose template cannot be used."""
STOPPING = "poster was asked to stop before it: waiting for the next pass"
"""Why the posts a pass did not start after a stop request wait."""


class Lane:
    """One destination's queue, pacing, backoff and fatal state."""

    def __init__(
        self,
        destination: Destination,
        pacer: Pacer | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        gate: Gatekeeper | None = None,
    ) -> None:
        self.destination = destination
        self.pacer = pacer or Pacer(0.0, UNLIMITED, clock=clock)
        self.clock = clock
        self.gate = gate
        self.fatal: str | None = None
        self.unwritten: str | None = None
        """Why the state could not record this destination's last post, while that lasts."""
        self.pause_until = 0.0
        self.failures = 0
        self.last_post: datetime | None = None
        self._heap: list[Entry] = []
        self._ready = threading.Condition()

    @property
    def name(self) -> str:
        """Return the destination's name."""
        return self.destination.name

    def __len__(self) -> int:
        with self._ready:
            return len(self._heap)

    def push(self, entry: Entry) -> None:
        """Put an entry in its place (a requeued one keeps its place ahead of newer items)."""
        with self._ready:
            heapq.heappush(self._heap, entry)
            self._ready.notify_all()

    def get(self, timeout: float) -> Entry | None:
        """Return the oldest waiting entry, waiting up to ``timeout`` seconds for one."""
        with self._ready:
            if not self._heap:
                self._ready.wait(timeout)
            return heapq.heappop(self._heap) if self._heap else None

    def take_all(self) -> list[Entry]:
        """Return every waiting entry, oldest first, leaving the lane empty."""
        with self._ready:
            taken, self._heap = sorted(self._heap), []
        return taken

    def entries(self) -> list[Entry]:
        """Return every waiting entry, oldest first, leaving them waiting."""
        with self._ready:
            return sorted(self._heap)

    def remove(self, entry: Entry) -> bool:
        """Take ``entry`` out of the lane; tell whether it was there."""
        with self._ready:
            if entry not in self._heap:
                return False
            self._heap.remove(entry)
            heapq.heapify(self._heap)
            return True

    def idle(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds, or until an entry arrives or a stop wakes the lane."""
        with self._ready:
            self._ready.wait(timeout)

    def wake(self) -> None:
        """Wake a worker waiting in ``get`` (to notice a stop at once)."""
        with self._ready:
            self._ready.notify_all()

    def drop(self, feed: str) -> list[Entry]:
        """Forget and return every waiting entry of ``feed``."""
        with self._ready:
            dropped = [e for e in self._heap if e.feed == feed]
            self._heap = [e for e in self._heap if e.feed != feed]
            heapq.heapify(self._heap)
        return dropped

    def after(self, outcome: Outcome) -> float:
        """Update the lane's state after a send; return the seconds to pause (0: go on)."""
        if outcome.item_waits:
            return 0.0  # the destination is not at fault: the others go on
        if outcome.delivery != DEFERRED:
            self.failures = 0
            if outcome.delivery == SENT:
                self.last_post = datetime.now(UTC)
            return 0.0
        if outcome.fatal is not None:
            return 0.0
        self.failures += 1
        wait = backoff(
            self.failures,
            base=CHANNEL_BACKOFF_BASE,
            cap=CHANNEL_BACKOFF_MAX,
            retry_after=outcome.retry_after,
        )
        self.pause_until = self.clock() + wait.total_seconds()
        return wait.total_seconds()


def _placed(decisions: Sequence[Decision]) -> dict[int, float]:
    """Return when each of a feed's decisions is placed among all feeds' items, by identity.

    Dated items go by date, as selection orders them. When some are undated, selection keeps
    the feed's own order, and so does this: each item is placed at the latest date of the
    items up to it (the first date there is, for those before any), so none passes another
    of its feed; items without any date come after those of every feed that has one.
    """
    times = [d.item.date.timestamp() if d.item.date is not None else None for d in decisions]
    first = next((t for t in times if t is not None), math.inf)
    placed: dict[int, float] = {}
    latest = first
    for decision, stamp in zip(decisions, times, strict=True):
        latest = max(latest, stamp) if stamp is not None else latest
        placed[id(decision)] = latest
    return placed


@dataclass
class _Progress:
    """What is left of one batch, what became of the rest, and its messages by kind."""

    batch: Batch
    remaining: int
    outcomes: dict[tuple[str, str], list[Outcome]] = field(default_factory=dict)
    messages: dict[tuple[str, str], Message | RenderError] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Outbox:
    """Queue each batch's wanted items per destination and finish a batch once all are done."""

    def __init__(
        self,
        lanes: Mapping[str, Lane],
        deps: Callable[[], Deps],
        on_finish: Callable[[Batch, Outcomes], FeedReport] | None = None,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        """``stopping`` tells a pass that poster was asked to stop: it sends no further post."""
        self.lanes = dict(lanes)
        self._deps = deps
        self._stopping = stopping
        self._on_finish = on_finish or (
            lambda batch, done: finish(batch, done, deps().ledger, own_routes=deps().own_routes)
        )
        self._progress: dict[int, _Progress] = {}
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(lane) for lane in self.lanes.values())

    def put(self, batch: Batch) -> FeedReport | None:
        """Queue a batch's wanted items for each routed destination that does not know them."""
        deps = self._deps()
        routes = [self.lanes[n] for n in deps.routes(batch.feed) if n in self.lanes]
        feed = batch.feed.name
        plan = [
            (lane, decision)
            for decision in batch.wanted()
            for lane in routes
            if not deps.ledger.is_known(feed, decision.item.key, lane.name)
        ]
        if not plan:
            return self._on_finish(batch, {})
        at = _placed(batch.wanted())
        with self._lock:
            self._progress[id(batch)] = _Progress(batch, len(plan))
            entries = [(lane, self._entry(batch, decision, at)) for lane, decision in plan]
        for lane, entry in entries:
            lane.push(entry)
        return None

    def _entry(self, batch: Batch, decision: Decision, at: dict[int, float]) -> Entry:
        """Return a new entry for ``decision``, placed at its time in ``at`` (see ``_placed``)."""
        return Entry(at[id(decision)], next(self._seq), batch, decision)

    def send(self, lane: Lane, entry: Entry) -> Outcome:
        """Render (once per item and kind) and send one entry, recording intent and result."""
        deps = self._deps()
        return send(entry.decision, entry.batch, deps, lane.destination, self._message(lane, entry))

    def _message(self, lane: Lane, entry: Entry) -> Message | RenderError:
        """Return the entry's message for the lane's kind, rendered on first need."""
        kind = lane.destination.kind
        with self._lock:
            progress = self._progress.get(id(entry.batch))
        if progress is None:
            return render(entry.decision, entry.batch, self._deps(), kind)
        with progress.lock:
            cache = (entry.key, kind.name)
            if cache not in progress.messages:
                made = render(entry.decision, entry.batch, self._deps(), kind)
                if isinstance(made, TemplateUnusable):
                    return made  # rendered again at the next try: it may be mended by then
                progress.messages[cache] = made
            return progress.messages[cache]

    def done(self, entry: Entry, outcome: Outcome) -> FeedReport | None:
        """Record an entry's outcome; return the batch's report when it was the last one."""
        with self._lock:
            progress = self._progress.get(id(entry.batch))
            if progress is None:
                return None
            progress.outcomes.setdefault((entry.feed, entry.key), []).append(outcome)
            progress.remaining -= 1
            if progress.remaining:
                return None
            del self._progress[id(entry.batch)]
        return self._on_finish(entry.batch, progress.outcomes)

    def busy(self, feed: str) -> frozenset[str]:
        """Return the keys of a feed's items in batches not finished yet, waiting anywhere."""
        return frozenset(item.key for item in self.in_flight(feed))

    def in_flight(self, feed: str) -> list[Item]:
        """Return the items of a feed's batches not finished yet, waiting or being sent."""
        with self._lock:
            return [
                decision.item
                for progress in self._progress.values()
                if progress.batch.feed.name == feed
                for decision in progress.batch.wanted()
            ]

    def drop(self, feed: str) -> list[Entry]:
        """Forget and return every waiting entry of a feed (it left or changed its settings)."""
        dropped = [entry for lane in self.lanes.values() for entry in lane.drop(feed)]
        with self._lock:
            for entry in dropped:
                self._progress.pop(id(entry.batch), None)
        return dropped

    def _dropped(self, entry: Entry) -> bool:
        """Tell whether ``entry``'s batch was dropped (``drop``) while the entry was in hand."""
        with self._lock:
            return id(entry.batch) not in self._progress

    def drain(self) -> None:
        """Send what each lane holds, up to its ``max_per_pass``; the rest waits (a run --once)."""
        for lane in self.lanes.values():
            lane.pacer.start_pass()
            stop: str | None = None
            held = 0
            for entry in lane.take_all():
                if self._skipped(lane, entry):
                    continue
                hold = lane.gate.hold(held) if lane.gate is not None else None
                if hold is not None and lane.gate is not None:
                    lane.gate.note(entry.feed, entry.key)
                    held += 1
                elif stop is None and self._stopping():
                    stop = STOPPING
                elif stop is None and not lane.pacer.admit():
                    stop = f"waiting for the next pass (max_per_pass={lane.pacer.max_per_pass})"
                elif stop is None and self._stopping():  # the stop cut the gap's wait short
                    stop = STOPPING
                if hold is not None or stop is not None:
                    waiting = Outcome(entry.decision, delivery=DEFERRED, error=str(hold or stop))
                    self.done(entry, _at(waiting, lane))
                    continue
                outcome = self._send(lane, entry)
                if outcome.delivery in (DEFERRED, UNCERTAIN) and not outcome.item_waits:
                    stop = f"held back after: {outcome.error}"
                self.done(entry, outcome)
            if lane.gate is not None:
                lane.gate.save()

    def step(self, lane: Lane, tick: float) -> Outcome | None:
        """Post the lane's oldest entry when it may post, waiting up to ``tick`` for one.

        The gap between posts is waited out here, a tick at a time and with no entry in hand,
        so a stop or a reload is noticed at once; ``max_per_pass`` is a pass's, not the
        daemon's, which has none.
        """
        if lane.fatal is not None or lane.pause_until > lane.clock():
            return None
        if self._gated(lane):
            lane.idle(tick)
            return None
        gap = lane.pacer.wait_left()
        if gap > 0:
            lane.idle(min(gap, tick))
            return None
        entry = lane.get(tick)
        if entry is None:
            return None
        if self._dropped(entry):  # its feed changed while it was in hand: read it again
            return None
        wait = entry.not_before - lane.clock()
        if wait > 0:  # the only entry left, its template still to be mended
            lane.push(entry)
            lane.idle(min(wait, tick))
            return None
        lane.pacer.take()
        try:
            outcome = self._send(lane, entry)
        except Exception as exc:  # a fault of poster's own: stop the lane, never the thread
            outcome = self._broken(lane, entry, exc)
        pause = lane.after(outcome)
        if outcome.item_waits:
            lane.push(entry.later(lane.clock(), ITEM_WAIT))
        elif outcome.delivery == DEFERRED:
            lane.push(entry)
            if pause:
                log.warning(
                    "event=destination-paused destination=%s seconds=%d reason=%r",
                    lane.name, pause, outcome.error,
                )  # fmt: skip
        else:
            self.done(entry, outcome)
        return outcome

    def _send(self, lane: Lane, entry: Entry) -> Outcome:
        """Send one entry and let the lane's gate count it."""
        outcome = self.send(lane, entry)
        if lane.gate is not None and outcome.delivery != DEFERRED:
            went = outcome.receipt is not None or outcome.delivery == UNCERTAIN
            lane.gate.done(entry.feed, entry.key, counted=went)
            lane.gate.save()
        return outcome

    def _broken(self, lane: Lane, entry: Entry, exc: Exception) -> Outcome:
        """Record an entry whose send raised an unforeseen error as uncertain; stop its lane.

        The send may have reached the destination before the error, so the item is not offered
        again by itself, and the destination refuses posts until a reload, saying why.
        """
        where, error = lane.name, f"{type(exc).__name__}: {exc}"
        why = f"unexpected error while sending {entry.feed}/{entry.key}: {error}"
        log.error(
            "feed=%s item=%s destination=%s status=uncertain error=%r",
            entry.feed, entry.key, where, error, exc_info=exc,
        )  # fmt: skip
        self._deps().ledger.record_uncertain(entry.feed, entry.key, where, why)
        if lane.gate is not None:
            lane.gate.done(entry.feed, entry.key, counted=True)
            lane.gate.save()
        fatal = DestinationFatal(f"{where}: {why}; see the log, then reload")
        return Outcome(
            entry.decision, delivery=UNCERTAIN, error=why, fatal=fatal, destination=where
        )

    def _gated(self, lane: Lane) -> bool:
        """Skip the lane's stale entries; tell whether its gate holds the rest back now."""
        gate = lane.gate
        if gate is None:
            return False
        for entry in lane.entries():
            if gate.stale(entry.feed, entry.key) is not None and lane.remove(entry):
                self._skipped(lane, entry)
        if gate.hold() is None:
            gate.save()
            return False
        for entry in lane.entries():
            gate.note(entry.feed, entry.key)
        gate.save()
        return True

    def _skipped(self, lane: Lane, entry: Entry) -> bool:
        """Skip and record an entry held longer than its destination's ``max_wait``."""
        reason = lane.gate.stale(entry.feed, entry.key) if lane.gate is not None else None
        if reason is None or lane.gate is None:
            return False
        self._deps().ledger.record_skipped(entry.feed, entry.key, lane.name, reason)
        lane.gate.done(entry.feed, entry.key, counted=False)
        log.warning(
            "feed=%s item=%s destination=%s status=skipped reason=%r",
            entry.feed, entry.key, lane.name, reason,
        )  # fmt: skip
        skipped = Outcome(entry.decision, delivery=State.SKIPPED, error=reason)
        self.done(entry, _at(skipped, lane))
        return True


def _at(outcome: Outcome, lane: Lane) -> Outcome:
    """Return ``outcome`` marked as the lane's destination's."""
    return replace(outcome, destination=lane.name)
