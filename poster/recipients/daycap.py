"""Split a batch by a destination's daily cap: how many may go now, and when the rest may go."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from poster.frozen import frozen


@frozen
class CapDecision:
    """How many of the wanted messages may go now, how many wait, and until when."""

    now: int
    later: int
    resume_at: datetime | None
    """The start of the destination's next day (UTC), when ``later`` is not zero."""


@frozen
class DailyCap:
    """A per-destination limit of messages per calendar day in the destination's time zone."""

    max_per_day: int | None
    zone: tzinfo = UTC

    def day_of(self, moment: datetime) -> date:
        """Return the destination's calendar day at ``moment``, the day its counter belongs to."""
        return moment.astimezone(self.zone).date()

    def allow(self, wanted: int, sent_today: int, moment: datetime) -> CapDecision:
        """Decide how many of ``wanted`` may go at ``moment`` after ``sent_today`` went today."""
        if self.max_per_day is None:
            return CapDecision(wanted, 0, None)
        now = max(0, min(wanted, self.max_per_day - sent_today))
        if now == wanted:
            return CapDecision(now, 0, None)
        return CapDecision(now, wanted - now, self.next_day(moment))

    def next_day(self, moment: datetime) -> datetime:
        """Return when the destination's next calendar day starts, in UTC."""
        tomorrow = self.day_of(moment) + timedelta(days=1)
        # Local midnight may be skipped by a clock change; astimezone then picks the
        # moment just after the gap, which is still the next day.
        return datetime.combine(tomorrow, time(0), tzinfo=self.zone).astimezone(UTC)
