"""Tell when a gateway's status poll stops: when the gateway, not one message, is failing."""

from __future__ import annotations

from http import HTTPStatus

from poster.errors import RetryLater

PAUSE_AFTER = 3
"""Server errors for this many look-ups in a row pause a poll: the gateway itself is failing."""


class PollPause:
    """Count the look-ups of one poll that the gateway asked to wait for, in a row.

    A rate limit or no answer at all stops the poll at once. A server error for one look-up
    alone does not, so that one message the gateway cannot answer for, polled first as the
    oldest, never holds up the newer ones.
    """

    def __init__(self) -> None:
        self.in_a_row = 0

    def answered(self) -> None:
        """Note a look-up the gateway answered."""
        self.in_a_row = 0

    def stops(self, error: RetryLater) -> bool:
        """Note a look-up the gateway asked to wait for; tell whether the poll stops there."""
        self.in_a_row += 1
        waits = error.status in (None, HTTPStatus.TOO_MANY_REQUESTS)
        return waits or self.in_a_row >= PAUSE_AFTER
