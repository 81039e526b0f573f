"""Decide when a destination may post: outside its quiet hours and under its daily cap."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

QUIET_HINT = 'write the window as "HH:MM-HH:MM" in 24-hour time, such as "23:00-07:00"'
_WINDOW = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
QUIET = "quiet hours to end"
FAR = timedelta(hours=24)
"""How far off a post's time must be for its date to be worth saying."""


@dataclass(frozen=True)
class QuietHours:
    """A daily window of local time in which nothing is posted; it may cross midnight."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, moment: time) -> bool:
        """Tell whether the local time of day ``moment`` falls in the window."""
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def end_after(self, local: datetime) -> datetime:
        """Return the first end of the window after the local ``local``, in UTC."""
        zone = local.tzinfo
        ends = datetime.combine(local.date(), self.end, tzinfo=zone)
        if ends <= local:
            ends = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return ends.astimezone(UTC)


def parse_quiet(text: str) -> QuietHours:
    """Read ``"HH:MM-HH:MM"``; raise ``ValueError`` saying what is wrong."""
    match = _WINDOW.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a window of hours")
    numbers = [int(part) for part in match.groups()]
    for hour, minute in (numbers[:2], numbers[2:]):
        if hour > 23 or minute > 59:
            raise ValueError(f"{hour:02d}:{minute:02d} is not a time of day (00:00 to 23:59)")
    window = QuietHours(time(numbers[0], numbers[1]), time(numbers[2], numbers[3]))
    if window.start == window.end:
        raise ValueError(f"{text!r} starts and ends at the same time")
    return window


@dataclass(frozen=True)
class Hold:
    """Why a post waits, and when it is expected to go out."""

    until: datetime
    why: str
    zone: str
    far: bool = False
    """Whether the time is a day or more away, so its date is worth saying."""

    def __str__(self) -> str:
        local = self.until.astimezone(_zone(self.zone))
        on = f" on {local:%Y-%m-%d}" if self.far else ""
        return f"waits for {self.why} at {local:%H:%M} {self.zone}{on}"


@dataclass(frozen=True)
class Gate:
    """A destination's quiet hours, daily cap and the longest a held post may wait."""

    quiet: QuietHours | None = None
    timezone: str | None = None
    """The IANA zone the hours and days are read in; None is the machine's local zone."""
    max_per_day: int | None = None
    max_wait: timedelta | None = None
    """How long a held post may wait before it is skipped rather than posted stale."""

    @property
    def active(self) -> bool:
        """Tell whether the gate ever holds a post back."""
        return self.quiet is not None or self.max_per_day is not None

    @property
    def zone_name(self) -> str:
        """Return the name of the zone the gate reads hours in."""
        return self.timezone or str(_local_zone())

    def day(self, moment: datetime) -> date:
        """Return the local day ``moment`` falls on, the day the cap counts posts of."""
        return moment.astimezone(_zone(self.zone_name)).date()

    def expected(self, now: datetime, sent_today: int, position: int = 0) -> Hold | None:
        """Return when the post ``position`` places behind the first waiting one may go.

        ``None`` means at once; ``sent_today`` is how many posts went out on ``now``'s day.
        """
        from poster.recipients.daycap import DailyCap

        zone = _zone(self.zone_name)
        cap = DailyCap(self.max_per_day, zone)
        moment, count, left, why = now, sent_today, position, ""
        for _ in range(8):  # each turn moves a window's end or whole days on: a few suffice
            local = moment.astimezone(zone)
            if self.quiet is not None and self.quiet.contains(local.time()):
                ends = self.quiet.end_after(local)
                count = count if cap.day_of(ends) == local.date() else 0
                moment, why = ends, QUIET
                continue
            if self.max_per_day is None or left < self.max_per_day - count:
                break
            left -= max(0, self.max_per_day - count)
            days, left = divmod(left, self.max_per_day)
            moment = cap.next_day(moment + timedelta(days=days))
            count, why = 0, f"the daily cap (max_per_day={self.max_per_day}) to reset"
        if not why:
            return None
        return Hold(moment, why, self.zone_name, far=moment - now >= FAR)


def _zone(name: str) -> tzinfo:
    """Return the zone called ``name``; the machine's own zone when that is its name."""
    local = _local_zone()
    return local if name == str(local) else ZoneInfo(name)


def _local_zone() -> tzinfo:
    """Return the machine's zone; tzlocal loads only for a gate that reads the local hours."""
    from tzlocal import get_localzone

    return get_localzone()
