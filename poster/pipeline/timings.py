"""Add up the time spent in each pipeline stage, for benchmarks and ``run --once --timings``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Timings:
    """Total seconds, CPU seconds and calls per stage, safe to share between threads.

    A stage's seconds include waiting (for the network, the disk, a lock, or the interpreter
    while another thread runs); its CPU seconds are what its own thread computed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the body of a ``with`` block as part of stage ``name``."""
        started, started_cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            spent, computed = time.perf_counter() - started, time.thread_time() - started_cpu
            with self._lock:
                self.seconds[name] = self.seconds.get(name, 0.0) + spent
                self.cpu[name] = self.cpu.get(name, 0.0) + computed
                self.calls[name] = self.calls.get(name, 0) + 1

    def table(self) -> str:
        """Return one line per stage: total seconds, calls, milliseconds per call, CPU seconds."""
        lines = [f"{'stage':<8} {'seconds':>9} {'calls':>7} {'ms/call':>9} {'cpu':>9}"]
        for name, seconds in self.seconds.items():
            calls, cpu = self.calls[name], self.cpu[name]
            per_call = 1000 * seconds / calls
            lines.append(f"{name:<8} {seconds:>9.3f} {calls:>7} {per_call:>9.3f} {cpu:>9.3f}")
        return "\n".join(lines)
