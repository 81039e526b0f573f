"""Decide when a feed is read next from its schedule and its publisher's hints, and say why.

Hints are lower bounds: HTTP freshness (``Cache-Control: max-age``, ``Expires``), RSS ``<ttl>``,
the Syndication module's ``sy:updatePeriod``/``sy:updateFrequency``/``sy:updateBase``, and RSS
``<skipHours>``/``<skipDays>``. They only ever delay a read, never bring it forward, and never by
more than the cap (``[daemon] hints_max``). Everything here is pure: the caller passes the time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from poster.config import Schedule
from poster.fetch.headers import MAX_DELTA
from poster.models import FeedHints, Freshness, NextPoll
from poster.parse.hints import DAYS

SLACK = timedelta(seconds=30)
"""How close to a hinted time a scheduled read still counts as on time: a read starts a moment
after its trigger fires, so a hint as long as the interval would otherwise skip every other one."""
PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}
_HOUR = timedelta(hours=1)
_SECOND = timedelta(seconds=1)


def next_poll(
    scheduled: datetime,
    now: datetime,
    freshness: Freshness | None,
    hints: FeedHints,
    *,
    cap: timedelta,
    schedule: str = "the schedule",
) -> NextPoll:
    """Return when to read a feed next: its schedule's time, or later when a hint says so.

    ``scheduled`` is when the schedule would read it next, ``now`` when the last read began,
    ``schedule`` how to name the schedule in the reason.
    """
    at, why = scheduled, schedule
    bounds = _bounds(now, freshness, hints)
    if bounds:
        latest, reason = max(bounds, key=lambda bound: bound[0])
        if latest > at:
            at, why = latest, reason
    at, skipped = _leave_skipped(at, hints)
    if skipped:
        why = skipped
    limit = max(scheduled, now + cap)
    if at > limit:
        at, why = limit, f"{why} (capped at {_span(cap)})"
    if at <= scheduled + SLACK:
        return NextPoll(scheduled, schedule)
    return NextPoll(at, why, hinted=True)


def may_read(poll: NextPoll | None, now: datetime) -> bool:
    """Tell whether a hint lets the feed be read at ``now``."""
    return poll is None or not poll.hinted or now >= poll.at - SLACK


def _bounds(
    now: datetime, freshness: Freshness | None, hints: FeedHints
) -> list[tuple[datetime, str]]:
    """Return each hint's earliest next read, with the hint named."""
    bounds = []
    if freshness is not None:
        bounds.append((_after(now, freshness.seconds), freshness.source))
    if hints.ttl is not None:
        bounds.append((_after(now, 60 * hints.ttl), f"ttl {hints.ttl} min"))
    if hints.update_period is not None:
        at, why = _next_update(now, hints)
        bounds.append((min(at, _after(now, MAX_DELTA)), why))
    return bounds


def _after(now: datetime, seconds: float) -> datetime:
    """Return ``seconds`` after ``now``, a publisher's number taken as at most ``MAX_DELTA``."""
    # The cap comes later; a huge number must not overflow the sum before it (RFC 9111 §1.2.2).
    return now + timedelta(seconds=min(seconds, MAX_DELTA))


def _next_update(now: datetime, hints: FeedHints) -> tuple[datetime, str]:
    """Return when the feed updates next by its Syndication hints, with them named."""
    assert hints.update_period is not None
    # However often the publisher says it updates, no more than once a second.
    step = max(PERIODS[hints.update_period] / hints.update_frequency, _SECOND)
    why = f"sy:updatePeriod {hints.update_period}"
    if hints.update_frequency > 1:
        why += f", sy:updateFrequency {hints.update_frequency}"
    base = hints.update_base
    if base is None:
        return now + step, why
    # Updates fall on base + k * step (RSS 1.0 Syndication module); the next is after now.
    steps = max(0, (now - base) // step + 1)
    return base + steps * step, f"{why} from {base.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _leave_skipped(at: datetime, hints: FeedHints) -> tuple[datetime, str]:
    """Return the first hour from ``at`` that skipHours and skipDays allow, and which moved it."""
    # A publisher that skips every hour or every day has made a mistake, not a request.
    hours = hints.skip_hours if len(hints.skip_hours) < 24 else frozenset()
    days = hints.skip_days if len(hints.skip_days) < 7 else frozenset()
    moved: dict[str, str] = {}
    for _ in range(24 * 8):
        gmt = at.astimezone(UTC)
        if gmt.hour in hours:
            moved["hours"] = f"skipHours {_hour_ranges(hours)} GMT"
        elif gmt.weekday() in days:
            moved["days"] = "skipDays " + ", ".join(DAYS[d].capitalize() for d in sorted(days))
        else:
            break
        at = gmt.replace(minute=0, second=0, microsecond=0) + _HOUR
    return at, "; ".join(moved.values())


def _hour_ranges(hours: frozenset[int]) -> str:
    """Show hours as ranges: ``0–6, 22–23``."""
    ranges: list[list[int]] = []
    for hour in sorted(hours):
        if ranges and hour == ranges[-1][1] + 1:
            ranges[-1][1] = hour
        else:
            ranges.append([hour, hour])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in ranges)


def _span(delta: timedelta) -> str:
    """Show a duration in its largest whole unit."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def schedule_name(schedule: Schedule) -> str:
    """Name a feed's schedule as a reason for a read's time: ``every 15min``, ``cron '…'``."""
    if schedule.cron is not None:
        return f"cron '{schedule.cron}'"
    return f"every {_span(schedule.interval or timedelta(minutes=15))}"
