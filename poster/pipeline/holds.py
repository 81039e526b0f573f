"""Define a post a destination's gate holds: why it waits, and when it is expected to go.

``gate`` and ``gatekeeper`` make them only when a post is held, so that status on a state
holding none never makes their classes.
"""

from __future__ import annotations

from datetime import datetime

from poster.frozen import frozen
from poster.pipeline.gate import zone_of


@frozen
class Hold:
    """Why a post waits, and when it is expected to go out."""

    until: datetime
    why: str
    zone: str
    far: bool = False
    """Whether the time is a day or more away, so its date is worth saying."""

    def __str__(self) -> str:
        local = self.until.astimezone(zone_of(self.zone))
        on = f" on {local:%Y-%m-%d}" if self.far else ""
        return f"waits for {self.why} at {local:%H:%M} {self.zone}{on}"


@frozen
class Waiting:
    """One post a destination's gate holds, since when, and when it is expected to go."""

    feed: str
    key: str
    since: datetime
    hold: Hold | None
    """None: it goes out on the next pass."""
