"""Hand the content hubs push to the pipeline from a thread of its own.

WebSub §7: a subscriber answers a content distribution request as quickly as possible, its 2xx
saying only that the content arrived. Reading it (parse, rules, media probes, the feed's read
lock) can take a minute, so the listener queues it here and answers at once. The queue is
bounded; when it is full the oldest content is dropped with a log line, and the feed's next
poll finds what it held.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from poster.frozen import frozen

log = logging.getLogger(__name__)

QUEUE_MAX = 16
"""Pushed bodies waiting at most; with feeds' 10 MB cap, 160 MB at worst."""
STOP_WITHIN = 5.0

Deliver = Callable[[str, bytes, tuple[tuple[str, str], ...]], None]
"""Run pushed content of a feed through the pipeline: (feed, body, headers)."""


@frozen
class Pushed:
    """One signed body a hub pushed for a feed."""

    feed: str
    body: bytes
    headers: tuple[tuple[str, str], ...]


class Handoff:
    """Deliver pushed content in arrival order from one thread, started by the first push."""

    def __init__(self, deliver: Deliver, limit: int = QUEUE_MAX) -> None:
        self._deliver = deliver
        self._limit = limit
        self._queue: deque[Pushed] = deque()
        self._changed = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def put(self, pushed: Pushed) -> None:
        """Queue content for delivery; drop the oldest queued when the queue is full."""
        with self._changed:
            if self._stopped:
                return
            if len(self._queue) >= self._limit:
                dropped = self._queue.popleft()
                log.warning(
                    "event=websub-content-dropped feed=%s reason=queue-full queued=%d "
                    "action=polling", dropped.feed, self._limit,
                )  # fmt: skip
            self._queue.append(pushed)
            self._changed.notify()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="poster-websub-content", daemon=True
                )
                self._thread.start()

    def stop(self, timeout: float = STOP_WITHIN) -> None:
        """Stop after the delivery under way; content still queued is left to the polls."""
        with self._changed:
            self._stopped = True
            self._queue.clear()
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        """Deliver queued content until stopped."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queue or self._stopped)
                if self._stopped:
                    return
                pushed = self._queue.popleft()
            try:
                self._deliver(pushed.feed, pushed.body, pushed.headers)
            except Exception:
                log.exception("event=websub-content-failed feed=%s", pushed.feed)
