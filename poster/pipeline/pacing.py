"""Space posts to one channel: a least gap between posts and a most per pass."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    """Admit posts no closer than ``min_gap`` seconds, at most ``max_per_pass`` per pass."""

    def __init__(
        self,
        min_gap: float,
        max_per_pass: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_gap = min_gap
        self.max_per_pass = max_per_pass
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last: float | None = None
        self._count = 0

    def posted_ago(self, seconds: float) -> None:
        """Count the last post as made ``seconds`` ago (before a start), so the gap holds."""
        with self._lock:
            if self._last is None and 0 <= seconds < self.min_gap:
                self._last = self._clock() - seconds

    def start_pass(self) -> None:
        """Begin a new pass: the per-pass count starts again, the gap still holds."""
        with self._lock:
            self._count = 0

    def wait_left(self) -> float:
        """Return the seconds the gap still asks for before the next post (0: none)."""
        with self._lock:
            if self._last is None:
                return 0.0
            return max(self._last + self.min_gap - self._clock(), 0.0)

    def take(self) -> None:
        """Count a post made now, the gap passed: the daemon's, which has no passes."""
        with self._lock:
            self._last = self._clock()

    def admit(self) -> bool:
        """Wait out the gap and admit one post, or refuse when the pass has had its share."""
        with self._lock:
            if self._count >= self.max_per_pass:
                return False
            if self._last is not None:
                wait = self._last + self.min_gap - self._clock()
                if wait > 0:
                    self._sleep(wait)
            self._last = self._clock()
            self._count += 1
            return True
