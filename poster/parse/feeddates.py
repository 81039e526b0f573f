"""Read an RSS or Atom date as feedparser's ``_parse_date`` does, the two common forms directly.

feedparser tries a dozen date handlers in turn, W3C-DTF first and RFC 822 second; for a date in
exactly one of the two forms every feed writes (``Wed, 01 May 2024 12:00:00 GMT``,
``2024-05-01T12:00:00Z``), the handler that answers computes what is computed here, in a tenth of
the time. Anything else, or a value either form rejects, goes to feedparser itself.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from feedparser.datetimes import _parse_date

from poster.parse.dates import from_struct

_DAYS = "mon|tue|wed|thu|fri|sat|sun"
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# feedparser's _parse_date_rfc822, for a four-digit year and a GMT, UTC or numeric zone.
_RFC822 = re.compile(
    rf"(?:(?:{_DAYS}),? )?(\d{{1,2}}) ({'|'.join(_MONTHS)}) (\d{{4}}) "
    r"(\d{2}):(\d{2}):(\d{2}) (gmt|utc|ut|z|[+-]\d{4})"
)
# feedparser's _parse_date_w3dtf, for a full date and time with Z or a numeric zone.
_W3DTF = re.compile(r"(\d{4})-(\d{2})-(\d{2})t(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)(z|[+-]\d{2}:\d{2})")


def parse_feed_date(value: str) -> datetime | None:
    """Return the UTC datetime feedparser reads from ``value``, or None."""
    if not value:
        return None
    text = value.lower()
    # Only a W3C-DTF date has a dash after its first four characters.
    found = _W3DTF.fullmatch(text) if text[4:5] == "-" else None
    if found is not None:
        year, month, day, hour, minute, second, zone = found.groups()
        stamp = _utc(
            (int(year), int(month), int(day), int(hour), int(minute), int(float(second))),
            zone[1:3] if zone != "z" else "0",
            zone[4:] if zone != "z" else "0",
            zone[0] == "-",
        )
        if stamp is not None:
            return stamp
    found = _RFC822.fullmatch(text) if found is None else None
    if found is not None:
        day, month, year, hour, minute, second, zone = found.groups()
        numeric = zone[0] in "+-"
        stamp = _utc(
            (int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second)),
            zone[1:3] if numeric else "0",
            zone[3:] if numeric else "0",
            zone[0] == "-",
        )
        if stamp is not None:
            return stamp
    return from_struct(_parse_date(value))


def _utc(
    fields: tuple[int, int, int, int, int, int], hours: str, minutes: str, west: bool
) -> datetime | None:
    """Return the time less its zone's offset, as UTC; None when it is not a valid time."""
    sign = -1 if west else 1
    offset = sign * (int(hours) * 60 + int(minutes))
    try:
        if not offset:
            return datetime(*fields, tzinfo=UTC)
        return (datetime(*fields) - timedelta(minutes=offset)).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
