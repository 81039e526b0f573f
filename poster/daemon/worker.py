"""Post each destination's queued items in a thread of its own, stopping only it on fatal errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from poster.daemon.metrics import Metrics
from poster.errors import DestinationFatal, StateError
from poster.models import State
from poster.pipeline import Outcome
from poster.pipeline.outbox import Lane, Outbox
from poster.select import Decision
from poster.store import Store
from poster.store.ledger import clear_refusal, fatal_key

log = logging.getLogger(__name__)

TICK = 2.0
"""Seconds a worker waits for an item before it looks at its state again."""
STATE_PAUSE = 60.0
"""Seconds a lane waits after the state could not be written, before it tries again."""


class LaneWorker:
    """Take one destination's items from the outbox, oldest first, and post them."""

    def __init__(
        self, outbox: Outbox, lane: Lane, store: Store, metrics: Metrics, *, tick: float = TICK
    ) -> None:
        self.outbox = outbox
        self.lane = lane
        self.tick = tick
        self._store = store
        self._metrics = metrics
        self._stop = threading.Event()
        self._resume = threading.Event()
        name = f"poster-post-{lane.name}"
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        metrics.set("poster_channel_fatal", 0, destination=lane.name)

    @property
    def alive(self) -> bool:
        """Tell whether the posting thread runs (a dead one must stop the watchdog pings)."""
        return self._thread.is_alive()

    def start(self) -> None:
        """Start posting in a thread of its own."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the post in flight; a gateway's send stops after the group in flight."""
        self._stop.set()
        self._resume.set()
        halt = getattr(self.lane.destination, "halt", None)
        if halt is not None:
            halt()
        self.lane.wake()
        self._thread.join(timeout)

    def resume(self) -> None:
        """Post again after a fatal error or a pause (the operator reloaded)."""
        lane = self.lane
        if lane.fatal is not None:
            log.warning("event=destination-resumed destination=%s", lane.name)
        lane.fatal = None
        lane.pause_until = 0.0
        self._store.set_meta(fatal_key(lane.name), "")
        self._metrics.set("poster_channel_fatal", 0, destination=lane.name)
        self._resume.set()

    def _work(self) -> None:
        """Post queued items until stopped; pause on rate limits, wait out fatal errors."""
        lane = self.lane
        while not self._stop.is_set():
            if lane.fatal is not None:
                self._resume.wait(self.tick)
                continue
            pause = lane.pause_until - lane.clock()
            if pause > 0:
                self._stop.wait(min(pause, self.tick))
                continue
            try:
                outcome = self.outbox.step(lane, self.tick)
            except StateError as exc:  # a full disk, say: wait for room, then post on
                log.error(
                    "event=destination-paused destination=%s seconds=%d error=%r",
                    lane.name, STATE_PAUSE, str(exc),
                )  # fmt: skip
                lane.pause_until = lane.clock() + STATE_PAUSE
                lane.unwritten = str(exc)
                continue
            except Exception as exc:  # a fault of poster's own: stop the lane, never the thread
                log.exception("event=lane-error destination=%s error=%r", lane.name, exc)
                why = f"{lane.name}: unexpected error: {type(exc).__name__}: {exc}; see the log"
                self._set_fatal(DestinationFatal(why))
                continue
            if outcome is None:
                continue
            lane.unwritten = outcome.error if outcome.unwritten else None
            result = str(outcome.delivery or "none")
            self._metrics.inc("poster_posts_total", outcome=result, destination=lane.name)
            if outcome.fatal is not None:
                self._set_fatal(outcome.fatal)
            elif outcome.delivery == State.SENT:
                self._accepted()

    def _accepted(self) -> None:
        """Forget a refusal kept from before (a run --once, an earlier start): a post went."""
        try:
            clear_refusal(self._store, self.lane.name)
        except StateError as exc:
            log.error("event=state-unwritten destination=%s error=%r", self.lane.name, str(exc))

    def _set_fatal(self, error: DestinationFatal) -> None:
        """Stop this destination and say so loudly, once per change, until a reload."""
        text = str(error)
        lane = self.lane
        if lane.fatal == text:
            return
        lane.fatal = text
        self._resume.clear()
        self._metrics.set("poster_channel_fatal", 1, destination=lane.name)
        try:
            self._store.set_meta(fatal_key(lane.name), text)
        except StateError as exc:  # status will not show it; the log and the metrics do
            log.error("event=state-unwritten destination=%s error=%r", lane.name, str(exc))
        log.error(
            "event=destination-stopped destination=%s error=%r fix=%r",
            lane.name, text, "fix it, then reload (SIGHUP)",
        )  # fmt: skip


def relane(
    outbox: Outbox,
    workers: dict[str, LaneWorker],
    fresh: Mapping[str, Lane],
    start: Callable[[Lane], LaneWorker],
) -> None:
    """Give each lane its reopened destination and pacing; start lanes for new ones.

    A destination gone from the configuration stops its worker, and its waiting items are
    done as not posted.
    """
    for name in set(outbox.lanes) - set(fresh):
        workers.pop(name).stop()
        for entry in outbox.lanes.pop(name).take_all():
            outbox.done(entry, _gone(entry.decision, name))
    for name, lane in fresh.items():
        kept = outbox.lanes.get(name)
        if kept is None:
            outbox.lanes[name] = lane
            workers[name] = start(lane)
            continue
        kept.destination = lane.destination
        kept.pacer.min_gap = lane.pacer.min_gap
        kept.pacer.max_per_pass = lane.pacer.max_per_pass
        kept.gate = lane.gate


def _gone(decision: Decision, name: str) -> Outcome:
    """Return the outcome of an item whose destination left the configuration: not posted."""
    error = f"destination {name} left the configuration"
    return Outcome(decision, delivery=State.DEFERRED, error=error, destination=name)
