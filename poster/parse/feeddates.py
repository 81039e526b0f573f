"""Read an RSS or Atom date as feedparser's ``_parse_date`` does, the two common forms directly.

feedparser tries a dozen date handlers in turn, W3C-DTF first and RFC 822 second; for a date in
exactly one of the two forms every feed writes (``Wed, 01 May 2024 12:00:00 GMT``,
``2024-05-01T12:00:00Z``), the handler that answers computes what is computed here, in a tenth of
the time. Anything else, or a value either form rejects, goes to feedparser itself.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from feedparser.datetimes import _parse_date

from poster.parse.dates import from_struct

_DAYS = "mon|tue|wed|thu|fri|sat|sun"
_MONTHS = {
    name: f"{number:02d}"
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# feedparser's _parse_date_rfc822, for a four-digit year, a time of day from 00:00:00 to
# 23:59:59 (24:00 and leap seconds are left to feedparser) and a GMT, UTC or numeric zone.
_RFC822 = re.compile(
    rf"(?:(?:{_DAYS}),? )?(\d{{1,2}}) ({'|'.join(_MONTHS)}) (\d{{4}}) "
    r"((?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d) (gmt|utc|ut|z|[+-]\d\d[0-5]\d)"
)
# feedparser's _parse_date_w3dtf, for a full date and time with Z or a numeric zone.
_W3DTF = re.compile(r"\d{4}-\d{2}-\d{2}t\d{2}:\d{2}:\d{2}(?:z|[+-]\d{2}:\d{2})")
_UTC_NAMES = frozenset(("gmt", "utc", "ut", "z"))
# The lengths of the two layouts read by position (``_laid_out``), and an RFC 822 day's start.
_LAID_OUT = frozenset((20, 25, 29))
_UTC_ZONES = frozenset(("z", "+00:00"))
_DAY_PREFIXES = frozenset(day + ", " for day in _DAYS.split("|"))
_last: tuple[str, datetime | None] = ("", None)
_DAYS_WRITTEN: dict[str, str] = {}
"""The start of an RFC 822 date (its day) and the same day written for ``fromisoformat``."""
_DAYS_KEPT = 4096


def parse_feed_date(value: str) -> datetime | None:
    """Return the UTC datetime feedparser reads from ``value``, or None."""
    global _last
    # An entry's updated date is most often its published one, read just before: the same
    # text reads as the same (immutable) datetime.
    last = _last
    if last[0] == value and value:
        return last[1]
    # The two forms most feeds write, as written, before the general reading.
    stamp = None
    if len(value) == 29 and value[25:] == " GMT":
        stamp = _gmt(value)
    elif len(value) == 20 and value[19] == "Z":
        stamp = _zulu(value)
    if stamp is None:
        stamp = _parse(value)
    _last = (value, stamp)
    return stamp


def _parse(value: str) -> datetime | None:
    """Return the UTC datetime feedparser reads from ``value``, or None, reading it afresh."""
    if not value:
        return None
    text = value.lower()
    if len(text) in _LAID_OUT:
        stamp = _laid_out(text)
        if stamp is not None:
            return stamp
    # Only a W3C-DTF date has a dash after its first four characters.
    if text[4:5] == "-":
        stamp = _w3dtf(text) if _W3DTF.fullmatch(text) else None
    else:
        found = _RFC822.fullmatch(text)
        stamp = _rfc822(*found.groups()) if found is not None else None
    return stamp if stamp is not None else from_struct(_parse_date(value))


def _laid_out(text: str) -> datetime | None:
    """Return a UTC date in its commonest layout, or None for any other text.

    The layouts are ``wed, 01 may 2024 12:00:00 gmt`` and ``2024-05-01t12:00:00z`` (or with
    ``+00:00``): with their separators in place, ``fromisoformat`` checks the digits and ranges
    the patterns check, so a date it reads is the one the patterns and ``_rfc822`` or
    ``_w3dtf`` give.
    """
    if text[4] == "-":
        if text[7] != "-" or text[10] != "t" or text[19:] not in _UTC_ZONES:
            return None
        if not text[5:7].isdigit():  # "2024-W18-3" is a week's day to fromisoformat
            return None
        written = text[:10] + "T" + text[11:19]
    else:
        day = _DAYS_WRITTEN.get(text[:17])
        if day is None:
            day = _day_written(text[:17])
        if not day or text[25:] != " gmt":
            return None
        written = day + text[17:25]
    if written[13] != ":" or written[16] != ":":
        return None
    try:
        return datetime.fromisoformat(written + "+00:00")
    except ValueError:
        return None


def _gmt(value: str) -> datetime | None:
    """Return an RFC 822 date in GMT spelled as most feeds spell it, or None for another.

    Its letters as written (``Wed, 01 May 2024 12:00:00 GMT``) name the day kept for them, and
    the digits read as they do in lower case: the date is the one ``_laid_out`` gives.
    """
    head = value[:17]
    day = _DAYS_WRITTEN.get(head) or _day_written(head)
    if not day or value[19] != ":" or value[22] != ":":
        return None
    try:
        return datetime.fromisoformat(day + value[17:25] + "+00:00")
    except ValueError:
        return None


def _zulu(value: str) -> datetime | None:
    """Return a W3C-DTF date in UTC written as most feeds write it, or None for another.

    As written (``2024-05-01T12:00:00Z``), its digits and separators are the ones ``_laid_out``
    reads in lower case, so a date ``fromisoformat`` reads is the one it gives.
    """
    if value[10] != "T" or value[4] != "-" or value[7] != "-" or not value[5:7].isdigit():
        return None
    if value[13] != ":" or value[16] != ":":
        return None
    try:
        return datetime.fromisoformat(value[:19] + "+00:00")
    except ValueError:
        return None


def _day_written(head: str) -> str:
    """Return ``wed, 01 may 2024 `` as ``2024-05-01T``, "" when not laid out so; kept for reuse.

    A feed's entries share a few days, and feeds read again share them all: each is laid out
    once, for as many days as ``_DAYS_KEPT``, under the head as it was given (in any case).
    """
    lower = head.lower()
    month = _MONTHS.get(lower[8:11])
    if month is None or lower[:5] not in _DAY_PREFIXES:
        return ""
    if lower[7] != " " or lower[11] != " " or lower[16] != " ":
        return ""
    day = f"{lower[12:16]}-{month}-{lower[5:7]}T"
    if len(_DAYS_WRITTEN) < _DAYS_KEPT:
        _DAYS_WRITTEN[head] = day
    return day


def _w3dtf(text: str) -> datetime | None:
    """Return a checked W3C-DTF date as UTC, or None when it is not a valid time."""
    try:
        return datetime.fromisoformat(text.upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _rfc822(day: str, month: str, year: str, clock: str, zone: str) -> datetime | None:
    """Return a checked RFC 822 date's parts as UTC, or None when they are not a valid time."""
    utc = zone in _UTC_NAMES
    offset = "+00:00" if utc else f"{zone[:3]}:{zone[3:]}"
    day = day if len(day) == 2 else "0" + day
    written = f"{year}-{_MONTHS[month]}-{day}T{clock}{offset}"
    try:
        # Written in ISO 8601, the date is read by one call to C: a third of the time of
        # building it field by field. "+00:00" gives UTC itself.
        stamp = datetime.fromisoformat(written)
        return stamp if utc else stamp.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
