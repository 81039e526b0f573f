"""Wait longer after each failure in a row: doubling from a base, capped, jittered.

Feeds back off in the daemon, destinations after a retry-later answer in every pass; kept
apart from ``daemon.schedule`` so that a one-shot pass loads none of the daemon's timing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from poster.fetch.headers import MAX_DELTA

BACKOFF_BASE = timedelta(minutes=1)
CHANNEL_BACKOFF_BASE = timedelta(seconds=5)
CHANNEL_BACKOFF_MAX = timedelta(minutes=15)


def backoff(
    failures: int,
    *,
    base: timedelta = BACKOFF_BASE,
    cap: timedelta,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> timedelta:
    """Return how long to wait after ``failures`` failures in a row: doubling, capped, jittered.

    The wait is at least what the server asked for with Retry-After (RFC 9110 §10.2.3), taken
    as at most ``MAX_DELTA`` seconds (RFC 9111 §1.2.2) so that no answer overflows the sum.
    """
    doubled: timedelta = base * (2 ** min(max(failures - 1, 0), 30))
    # Jittered, then capped: the cap is the longest wait, jitter included.
    wait: timedelta = min(doubled * (0.8 + 0.4 * rand()), cap)
    asked = timedelta(seconds=min(retry_after or 0, MAX_DELTA))
    return max(wait, asked)
