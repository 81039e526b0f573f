"""Hand the content hubs push to the pipeline from threads of their own.

WebSub §7: a subscriber answers a content distribution request as quickly as possible, its 2xx
saying only that the content arrived. Reading it (parse, rules, media probes, the feed's read
lock) can take a minute, so the listener queues it here and answers at once. The queue is
bounded; when it is full the oldest content is dropped with a log line, and the feed's next
poll finds what it held. A few threads deliver, each feed's content in arrival order and one at
a time, so a slow feed holds up only its own.
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
WORKERS = 4
"""Threads delivering at once, each a different feed's content."""
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
    """Deliver pushed content from ``workers`` threads, started by the first push."""

    def __init__(self, deliver: Deliver, limit: int = QUEUE_MAX, workers: int = WORKERS) -> None:
        self._deliver = deliver
        self._limit = limit
        self._workers = workers
        self._queue: deque[Pushed] = deque()
        self._busy: set[str] = set()
        self._changed = threading.Condition()
        self._stopped = False
        self._threads: list[threading.Thread] = []

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
            self._changed.notify_all()
            if not self._threads:
                self._threads = [self._start(number) for number in range(self._workers)]

    def stop(self, timeout: float = STOP_WITHIN) -> None:
        """Stop after the deliveries under way; content still queued is left to the polls."""
        with self._changed:
            self._stopped = True
            self._queue.clear()
            self._changed.notify_all()
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def _start(self, number: int) -> threading.Thread:
        """Start one delivering thread."""
        name = f"poster-websub-content_{number}"
        thread = threading.Thread(target=self._run, name=name, daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        """Deliver queued content, a feed not being delivered already, until stopped."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._stopped or self._ready() is not None)
                if self._stopped:
                    return
                pushed = self._take()
            try:
                self._deliver(pushed.feed, pushed.body, pushed.headers)
            except Exception:
                log.exception("event=websub-content-failed feed=%s", pushed.feed)
            finally:
                with self._changed:
                    self._busy.discard(pushed.feed)
                    self._changed.notify_all()

    def _ready(self) -> int | None:
        """Return where the first queued content of a feed not being delivered is, if any."""
        return next((i for i, p in enumerate(self._queue) if p.feed not in self._busy), None)

    def _take(self) -> Pushed:
        """Take the first queued content of a feed not being delivered; mark its feed busy."""
        index = self._ready()
        assert index is not None
        pushed = self._queue[index]
        del self._queue[index]
        self._busy.add(pushed.feed)
        return pushed
