"""Add up the time spent in each pipeline stage, for benchmarks and ``run --once --timings``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Timings:
    """Total seconds and calls per stage, safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the body of a ``with`` block as part of stage ``name``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            with self._lock:
                self.seconds[name] = self.seconds.get(name, 0.0) + spent
                self.calls[name] = self.calls.get(name, 0) + 1

    def table(self) -> str:
        """Return one line per stage: total seconds, calls, and milliseconds per call."""
        lines = [f"{'stage':<8} {'seconds':>9} {'calls':>7} {'ms/call':>9}"]
        for name, seconds in self.seconds.items():
            calls = self.calls[name]
            lines.append(f"{name:<8} {seconds:>9.3f} {calls:>7} {1000 * seconds / calls:>9.3f}")
        return "\n".join(lines)
