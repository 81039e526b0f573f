"""Let one feed at a time hold a large body while it is being read, whatever runs beside it.

Every fetch may hold up to ``feed.max_bytes`` (10 MB by default), and ``max_fetches`` of them
run at once; a bomb, an endless body and a large real feed arriving together would each hold
their cap. Bodies stay free up to ``ALLOWANCE``; past it a fetch waits for the one large slot,
within its own deadline, so at most one body beyond the allowance is being read at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

ALLOWANCE = 1024 * 1024
"""Bytes of body any fetch may hold without waiting: more than most feeds ever send."""


class BodyBudget:
    """Share the large slots among the fetches of one client."""

    def __init__(self, allowance: int = ALLOWANCE, slots: int = 1) -> None:
        self.allowance = allowance
        self._slots = threading.BoundedSemaphore(slots)

    @property
    def taken(self) -> bool:
        """Tell whether every large slot is held."""
        if not self._slots.acquire(blocking=False):
            return True
        self._slots.release()
        return False

    @contextmanager
    def share(self) -> Iterator[Share]:
        """Yield one fetch's share, giving back its large slot, if it took one, at the end."""
        share = Share(self)
        try:
            yield share
        finally:
            if share.large:
                self._slots.release()

    def take_slot(self, deadline: float) -> bool:
        """Wait for a large slot until ``deadline`` (``time.monotonic()``); tell if one came."""
        return self._slots.acquire(timeout=max(0.0, deadline - time.monotonic()))


class Share:
    """What one fetch holds of the budget."""

    def __init__(self, budget: BodyBudget) -> None:
        self._budget = budget
        self.large = False

    def allows(self, size: int, deadline: float) -> bool:
        """Tell whether ``size`` bytes of body may be held, waiting for a slot by ``deadline``."""
        if self.large or size <= self._budget.allowance:
            return True
        self.large = self._budget.take_slot(deadline)
        return self.large
