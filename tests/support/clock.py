"""Give tests a clock that moves only when the test moves it."""

from __future__ import annotations


class Clock:
    """A wall clock in Unix seconds that tests move by hand (``clock.now += 5``)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class SleepingClock(Clock):
    """A clock whose ``sleep`` moves it on at once and keeps each wait (for pacing tests)."""

    def __init__(self, now: float = 100.0) -> None:
        super().__init__(now)
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
