"""Split batches by a destination's daily cap, counted per day in the destination's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from poster.recipients.daycap import CapDecision, DailyCap

MINSK, HAVANA = ZoneInfo("Europe/Minsk"), ZoneInfo("America/Havana")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("cap", "wanted", "sent", "moment", "expected"),
    [
        (DailyCap(None), 5000, 10**6, at(2024, 5, 1, 12), CapDecision(5000, 0, None)),
        (DailyCap(100), 30, 50, at(2024, 5, 1, 12), CapDecision(30, 0, None)),
        (DailyCap(100), 30, 80, at(2024, 5, 1, 12), CapDecision(20, 10, at(2024, 5, 2))),
        (DailyCap(100), 30, 100, at(2024, 5, 1, 12), CapDecision(0, 30, at(2024, 5, 2))),
        (DailyCap(100), 30, 140, at(2024, 5, 1, 12), CapDecision(0, 30, at(2024, 5, 2))),
        (
            DailyCap(100, MINSK),
            30,
            80,
            at(2024, 5, 1, 21, 30),
            CapDecision(20, 10, at(2024, 5, 2, 21)),
        ),
        (
            DailyCap(100, MINSK),
            5,
            100,
            at(2024, 5, 1, 20, 59),
            CapDecision(0, 5, at(2024, 5, 1, 21)),
        ),
        (DailyCap(10, HAVANA), 12, 0, at(2024, 3, 9, 12), CapDecision(10, 2, at(2024, 3, 10, 5))),
    ],
    ids=["no-cap", "fits", "part", "full", "over", "zone-next-day", "zone-same-day", "dst-gap"],
)
def test_the_cap_says_how_many_go_now_and_when_the_rest_may(
    cap: DailyCap, wanted: int, sent: int, moment: datetime, expected: CapDecision
) -> None:
    assert cap.allow(wanted, sent, moment) == expected


def test_the_day_is_the_destinations_calendar_day() -> None:
    assert DailyCap(100, MINSK).day_of(at(2024, 5, 1, 21, 30)) == date(2024, 5, 2)
    assert DailyCap(100).day_of(at(2024, 5, 1, 21, 30)) == date(2024, 5, 1)
