"""Define when the daemon reads a feed next, and why then, as the feed's state keeps it.

``poster.models`` names it too; it lives apart so that a command reading a state the daemon
never scheduled, and ``check``, which reads none, never make its class.
"""

from __future__ import annotations

from datetime import datetime

from poster.frozen import frozen


@frozen
class NextPoll:
    """When the daemon reads a feed next, and why then."""

    at: datetime
    why: str
    """What set the time: the schedule (``every 15m``) or a hint (``ttl 60 min``)."""
    hinted: bool = False
    """Whether a publisher's hint put the time after the schedule's."""
