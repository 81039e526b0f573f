"""Run the DecisionTelecom fake for tests, on a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.decisiontelecom.fakestate import Gateway
from poster.destinations.gateway.destination import close_ledgers


class Clock:
    """A clock the fake reads, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def fake_gateway(key: str, clock: Clock) -> Iterator[FakeDecisionTelecom]:
    """Serve the fake for ``key``, without a rate limit worth the name; close ledgers after."""
    with FakeDecisionTelecom(Gateway(key, clock=clock, rate_limit=10_000)) as server:
        yield server
    close_ledgers()
