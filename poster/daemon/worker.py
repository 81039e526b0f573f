"""Post queued items to the channel one by one: paced, backing off, stopping on fatal errors."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from poster.destinations.viber import ViberChannel
from poster.errors import DeliveryError, DestinationFatal
from poster.ledger import FATAL_META, sender_key
from poster.metrics import Metrics
from poster.pacing import Pacer
from poster.pipeline import DEFERRED, Deps, deliver
from poster.queue import ChannelQueue, Entry
from poster.schedule import CHANNEL_BACKOFF_BASE, CHANNEL_BACKOFF_MAX, backoff
from poster.store import Store

log = logging.getLogger(__name__)

TICK = 2.0
"""Seconds the worker waits for an item before it looks at its state again."""


class ChannelWorker:
    """Take items from the channel queue, oldest first, and post them."""

    def __init__(
        self,
        client: ViberChannel,
        queue: ChannelQueue,
        store: Store,
        metrics: Metrics,
        deps: Callable[[], Deps],
        *,
        min_gap: float,
        tick: float = TICK,
    ) -> None:
        self.client = client
        self.tick = tick
        self.queue = queue
        self.pacer = Pacer(min_gap, 1 << 62)
        self._store = store
        self._metrics = metrics
        self._deps = deps
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._thread = threading.Thread(target=self._work, name="poster-channel", daemon=True)
        self.fatal: str | None = None
        self._pause_until = 0.0
        self._failures = 0
        metrics.set("poster_channel_fatal", 0)

    @property
    def alive(self) -> bool:
        """Tell whether the posting thread runs (a dead one must stop the watchdog pings)."""
        return self._thread.is_alive()

    def start(self) -> None:
        """Start posting in a thread of its own."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the post in flight."""
        self._stop.set()
        self._resume.set()
        self.queue.wake()
        self._thread.join(timeout)

    def resume(self) -> None:
        """Post again after a fatal error or a pause (the operator reloaded)."""
        if self.fatal is not None:
            log.warning("event=channel-resumed")
        self.fatal = None
        self._pause_until = 0.0
        self._store.set_meta(FATAL_META, "")
        self._metrics.set("poster_channel_fatal", 0)
        self._resume.set()

    def _work(self) -> None:
        """Post queued items until stopped; pause on rate limits, wait out fatal errors."""
        while not self._stop.is_set():
            if self.fatal is not None:
                self._resume.wait(self.tick)
                continue
            pause = self._pause_until - time.monotonic()
            if pause > 0:
                self._stop.wait(min(pause, self.tick))
                continue
            entry = self.queue.get(self.tick)
            if entry is not None:
                self._post(entry)

    def _post(self, entry: Entry) -> None:
        """Post one entry and act on the outcome."""
        self.pacer.admit()
        self._remember_sender()
        outcome = deliver(entry.decision, entry.batch, self._deps())
        self._metrics.inc("poster_posts_total", outcome=outcome.delivery or "none")
        if outcome.delivery != DEFERRED:
            self._failures = 0
            self.queue.done(entry, outcome)
            return
        self.queue.requeue(entry)
        if outcome.fatal is not None:
            self._set_fatal(outcome.fatal)
            return
        self._failures += 1
        wait = backoff(
            self._failures,
            base=CHANNEL_BACKOFF_BASE,
            cap=CHANNEL_BACKOFF_MAX,
            retry_after=outcome.retry_after,
        )
        self._pause_until = time.monotonic() + wait.total_seconds()
        log.warning(
            "event=channel-paused seconds=%d reason=%r", wait.total_seconds(), outcome.error
        )

    def _remember_sender(self) -> None:
        """Keep the sender the channel looked up, so the next start need not ask again."""
        client = self.client
        if client.sender is not None:
            return
        try:
            client.sender = client.resolve_sender()
        except DestinationFatal as exc:
            self._set_fatal(exc)
            return
        except DeliveryError:
            return  # the send that follows asks again and reports what goes wrong
        self._store.set_meta(sender_key(client.api_url), client.sender)

    def _set_fatal(self, error: DestinationFatal) -> None:
        """Stop posting and say so loudly, once per change, until a reload."""
        text = str(error)
        if self.fatal == text:
            return
        self.fatal = text
        self._resume.clear()
        self._store.set_meta(FATAL_META, text)
        self._metrics.set("poster_channel_fatal", 1)
        log.error("event=channel-stopped error=%r fix=%r", text, "fix it, then reload (SIGHUP)")
