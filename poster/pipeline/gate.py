"""Decide when a destination may post: outside its quiet hours and under its daily cap."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from poster.config.settings import Gate

if TYPE_CHECKING:
    from poster.pipeline.holds import Hold

QUIET = "quiet hours to end"
FAR = timedelta(hours=24)
"""How far off a post's time must be for its date to be worth saying."""


def gate_day(gate: Gate, moment: datetime) -> date:
    """Return the local day ``moment`` falls on, the day the gate's cap counts posts of."""
    return moment.astimezone(zone_of(gate.zone_name)).date()


def expected(gate: Gate, now: datetime, sent_today: int, position: int = 0) -> Hold | None:
    """Return when the post ``position`` places behind the first waiting one may go.

    ``None`` means at once; ``sent_today`` is how many posts went out on ``now``'s day.
    """
    from poster.recipients.daycap import DailyCap  # here: status loads this module for no gate

    zone = zone_of(gate.zone_name)
    cap = DailyCap(gate.max_per_day, zone)
    moment, count, left, why = now, sent_today, position, ""
    for _ in range(8):  # each turn moves a window's end or whole days on: a few suffice
        local = moment.astimezone(zone)
        if gate.quiet is not None and gate.quiet.contains(local.time()):
            ends = gate.quiet.end_after(local)
            count = count if cap.day_of(ends) == local.date() else 0
            moment, why = ends, QUIET
            continue
        if gate.max_per_day is None or left < gate.max_per_day - count:
            break
        left -= max(0, gate.max_per_day - count)
        days, left = divmod(left, gate.max_per_day)
        moment = cap.next_day(moment + timedelta(days=days))
        count, why = 0, f"the daily cap (max_per_day={gate.max_per_day}) to reset"
    if not why:
        return None
    from poster.pipeline.holds import Hold  # here: status, on a state holding none, never needs it

    return Hold(moment, why, gate.zone_name, far=moment - now >= FAR)


def zone_of(name: str) -> tzinfo:
    """Return the zone called ``name``; the machine's own zone when that is its name."""
    from zoneinfo import ZoneInfo

    from tzlocal import get_localzone

    local = get_localzone()
    return local if name == str(local) else ZoneInfo(name)
