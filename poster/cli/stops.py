"""Let SIGTERM and SIGINT stop a single pass between two posts, as the daemon stops.

Killed at once, a pass could leave a post it had sent recorded as pending, which the next start
makes uncertain: a person must then check the channel. Asked to stop, it finishes and records
the post in flight (a gateway send, the group of numbers in flight), starts no other, keeps the
rest waiting for the next pass, and ends with the signal's exit code. The reads and media
probes under way end at once (their connections cut; no destination's call is), and no other
read starts. A second signal ends the process at once, as by default.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequests:
    """SIGTERM and SIGINT asking a pass to stop: it finishes the post in flight, then ends."""

    TICK = 0.2
    """How often a pacing wait looks whether a stop was asked."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None
        self.halts: list[Callable[[], None]] = []
        """What to tell when a stop is asked: the gateways, which end a send between groups."""
        self.ending: threading.Thread | None = None
        """The thread that ends the reads under way, once a stop is asked."""

    def stopping(self) -> bool:
        """Tell whether a stop was asked."""
        return self.signal is not None

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` between two posts, or until a stop is asked."""
        end = time.monotonic() + seconds
        while self.signal is None and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, self.TICK))

    def ask(self, number: int, _frame: object) -> None:
        """Note the first stop asked; a second one ends the process at once, by the signal."""
        if self.signal is not None:
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)
            return
        self.signal = signal.Signals(number)
        for halt in self.halts:
            halt()
        # From a thread of its own: the handler may have broken into the watchdog's own work.
        self.ending = threading.Thread(target=_end_reads, name="end-reads", daemon=True)
        self.ending.start()


def _end_reads() -> None:
    """Cut the connections of the reads and probes under way (a feed or image host that drips
    its bytes would hold the stop until its deadline); destinations' calls have none to cut."""
    from poster.fetch.watchdog import WATCHDOG

    WATCHDOG.end_all()


@contextlib.contextmanager
def stop_requests() -> Iterator[StopRequests]:
    """Let SIGTERM and SIGINT stop a pass between two posts while it runs."""
    asked = StopRequests()
    if threading.current_thread() is not threading.main_thread():
        yield asked  # only the main thread may take signals (a test's pass, say)
        return
    before = {number: signal.signal(number, asked.ask) for number in STOP_SIGNALS}
    try:
        yield asked
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
        if asked.ending is not None:
            from poster.fetch.watchdog import WATCHDOG

            asked.ending.join()
            WATCHDOG.resume()  # the pass is over: a caller in the same process reads on
