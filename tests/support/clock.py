"""Give tests a clock that moves only when the test moves it."""

from __future__ import annotations


class Clock:
    """A wall clock in Unix seconds that tests move by hand (``clock.now += 5``)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
