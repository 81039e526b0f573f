"""Turn the dates that feeds carry into timezone-aware datetimes."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Epoch numbers above this are taken as milliseconds: as seconds they would be after year 5000.
_MILLISECONDS_FROM = 10**11
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def from_struct(value: object) -> datetime | None:
    """Return an aware UTC datetime for one of feedparser's ``*_parsed`` struct_times."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def parse_date(value: object) -> datetime | None:
    """Return an aware UTC datetime for ISO 8601 or RFC 2822 text or epoch seconds, else None.

    A date without a zone is taken as UTC.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return _from_epoch(float(value))
        except OverflowError:  # an integer of hundreds of digits
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if _NUMBER.match(text):
        return _from_epoch(float(text))
    parsed = _from_iso(text) or _from_rfc2822(text)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _from_epoch(seconds: float) -> datetime | None:
    """Return the UTC datetime of an epoch number in seconds (or milliseconds)."""
    if abs(seconds) >= _MILLISECONDS_FROM:
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _from_iso(text: str) -> datetime | None:
    """Return the datetime of ISO 8601 / RFC 3339 text, or None."""
    # Python 3.11 reads "Z" and most of ISO 8601; RFC 3339 §5.6 also allows a lower-case
    # "t" and "z", so the text is upper-cased first.
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        return None


def _from_rfc2822(text: str) -> datetime | None:
    """Return the datetime of RFC 2822 text (as in RSS pubDate), or None."""
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
