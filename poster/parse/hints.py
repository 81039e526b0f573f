"""Read what a feed document says about how often to read it: RSS 2.0 and Syndication hints.

``<ttl>`` and the ``sy:`` elements of the RSS 1.0 Syndication module come from feedparser's feed
data, which both XML readers build alike. feedparser keeps only the last ``<hour>`` of
``<skipHours>`` and the last ``<day>`` of ``<skipDays>``, so those two are read from the body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from poster.models import FeedHints
from poster.parse.dates import parse_date

PERIODS = ("hourly", "daily", "weekly", "monthly", "yearly")
LARGEST = 10**9
"""The largest ``<ttl>`` or ``sy:updateFrequency`` read as written; a larger one is read as this."""
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# RSS 2.0 spells the elements this way; XML names are case-sensitive.
_SKIP_HOURS = re.compile(rb"<skipHours\b[^>]*>(.*?)</skipHours\s*>", re.S)
_SKIP_DAYS = re.compile(rb"<skipDays\b[^>]*>(.*?)</skipDays\s*>", re.S)
_SKIP = re.compile(rb"<skip")
"""What both elements start with; the pattern finds it in four fifths of the time of ``in``,
looking for its "<" and then the rest."""
_HOUR = re.compile(rb"<hour\b[^>]*>\s*(\d{1,2})\s*</hour\s*>")
_DAY = re.compile(rb"<day\b[^>]*>\s*([A-Za-z]+)\s*</day\s*>")
_NONE: frozenset[int] = frozenset()
"""The one empty set most feeds share: each call of ``frozenset()`` makes a new one."""
_KEYS = ("ttl", "sy_updateperiod", "sy_updatefrequency", "sy_updatebase")
"""The keys of feedparser's feed data that hold hints."""
_NO_HINTS = FeedHints(
    ttl=None,
    skip_hours=_NONE,
    skip_days=_NONE,
    update_period=None,
    update_frequency=1,
    update_base=None,
)
"""The hints of a feed that gives none, the one record all such feeds share."""


def read_hints(meta: Mapping[str, Any], body: bytes) -> FeedHints:
    """Return the hints of a feed from feedparser's feed data and the document's bytes."""
    ttl, period, frequency, base = (meta.get(key) for key in _KEYS)
    # One search, a third of the time of the two patterns', rules both out on the bodies that
    # have neither element, nearly all of them.
    skips = _SKIP.search(body) is not None
    if not skips and ttl is period is frequency is base is None:
        return _NO_HINTS  # what the reading below gives of a feed that says nothing
    period = _text(period).lower()
    return FeedHints(
        ttl=_positive(ttl),
        skip_hours=_skip_hours(body) if skips else _NONE,
        skip_days=_skip_days(body) if skips else _NONE,
        update_period=period if period in PERIODS else None,
        update_frequency=_positive(frequency) or 1,
        update_base=parse_date(base),
    )


def _text(value: object) -> str:
    """Return a value's text without surrounding white space, or ""."""
    return value.strip() if isinstance(value, str) else ""


def _positive(value: object) -> int | None:
    """Return a whole number above zero written as text, at most ``LARGEST``, or None."""
    text = _text(value).lstrip("0")
    if not (text.isascii() and text.isdigit()):
        return None
    # A longer number is only compared with caps far below it; past 4,300 digits int() refuses it.
    return int(text) if len(text) < len(str(LARGEST)) else LARGEST


def _skip_hours(body: bytes) -> frozenset[int]:
    """Return the hours (0-23 GMT) of the channel's ``<skipHours>``; 24 is read as 0."""
    found = _SKIP_HOURS.search(body)
    if found is None:
        return _NONE
    # RSS 2.0 says 0-23; Netscape's RSS 0.91 counted 1-24, where 24 is midnight.
    hours = (int(hour) for hour in _HOUR.findall(found.group(1)))
    return frozenset(hour % 24 for hour in hours if hour <= 24) or _NONE


def _skip_days(body: bytes) -> frozenset[int]:
    """Return the days of the channel's ``<skipDays>``, 0 for Monday."""
    found = _SKIP_DAYS.search(body)
    if found is None:
        return _NONE
    names = (day.decode("ascii").lower() for day in _DAY.findall(found.group(1)))
    return frozenset(DAYS.index(name) for name in names if name in DAYS) or _NONE
