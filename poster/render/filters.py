"""Define the Jinja filters templates use to shape an item into Viber plain text."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

from jinja2 import TemplateRuntimeError, Undefined

from poster.text import ELLIPSIS, truncate_units, utf16_units

DATE_FORMAT = "%d.%m.%Y %H:%M"
_NOT_WORD = re.compile(r"\W+")


def _string(value: object) -> str:
    """Return ``value`` as text, ``None`` as empty; an undefined value raises its error."""
    if value is None:
        return ""
    # str() on a StrictUndefined raises the UndefinedError that names the missing variable.
    return str(value)


def plain(value: object, links: bool = False) -> str:
    """Return clean plain text for HTML, optionally with link targets in parentheses."""
    # Imported here: a check whose templates never turn HTML into text loads no HTML parser.
    from poster.htmltext import html_to_text

    return html_to_text(_string(value), links=links)


def cut(value: object, length: int = 255, end: str = ELLIPSIS) -> str:
    """Cut text to ``length`` characters as Viber counts them (an emoji counts two), at a word
    boundary, ending with ``end``."""
    return truncate_units(_string(value), _count("truncate", length), _string(end))


def _count(name: str, value: object) -> int:
    """Return a filter's count argument, or fail naming the filter and what it was given."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TemplateRuntimeError(f"filter {name!r} needs a whole number, got {value!r}")
    return value


def units(value: object) -> int:
    """Return the length of text as Viber counts it against ``limit``: an emoji counts two."""
    return utf16_units(_string(value))


def date(value: object, fmt: str = DATE_FORMAT, tz: str | None = None) -> str:
    """Format a datetime, converted to the IANA zone ``tz`` when given; ``None`` gives ""."""
    if value is None:
        return ""
    if isinstance(value, Undefined):
        _string(value)
    if not isinstance(value, datetime):
        raise TemplateRuntimeError(f"date expects a datetime, not {type(value).__name__}")
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    if tz:
        zone = _zone(tz)
        # A date at the very end of year 9999 has no local time east of UTC: it stays in UTC.
        with contextlib.suppress(OverflowError):
            moment = moment.astimezone(zone)
    return moment.strftime(fmt)


ZONES_NAMED: set[str] = set()
"""The time zones templates named in this process, up to ``ZONES_KEPT``: ``check`` keeps them
with what it found sound, to look them up again (``templateverdict``)."""
ZONES_KEPT = 64


def _zone(name: str) -> tzinfo:
    """Return the IANA time zone called ``name`` or fail with a hint."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # here: only a zone a template names

    if len(ZONES_NAMED) < ZONES_KEPT:
        ZONES_NAMED.add(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TemplateRuntimeError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Kyiv' or 'UTC'"
        ) from exc


def hashtags(value: object, limit: int | None = None) -> str:
    """Turn tags into Viber hashtags ("#tag1 #CityLife"): spaces and punctuation removed."""
    tags: Iterable[object] = ()
    if isinstance(value, str):
        tags = [value]
    elif isinstance(value, Iterable):
        # Iterating a StrictUndefined raises the error that names the missing variable.
        tags = value
    if limit is not None:
        limit = _count("hashtags", limit)
    seen: set[str] = set()
    words: list[str] = []
    for tag in tags:
        word = _hashtag_word(_string(tag))
        if not word or word.casefold() in seen:
            continue
        seen.add(word.casefold())
        words.append(f"#{word}")
        if limit is not None and len(words) >= limit:
            break
    return " ".join(words)


def _hashtag_word(tag: str) -> str:
    """Join a tag's words into one, capitalizing each: "City life" becomes "CityLife"."""
    words = [_NOT_WORD.sub("", part) for part in tag.split()]
    if len(words) > 1:
        words = [word[:1].upper() + word[1:] for word in words]
    return "".join(words)


def _marker(mark: str) -> Callable[[object], str]:
    """Return a filter wrapping each non-empty line in a Viber formatting ``mark``."""

    def wrap(value: object) -> str:
        # Viber formats a marked span only when the markers touch the text on one line.
        lines = (line.strip() for line in _string(value).strip().split("\n"))
        return "\n".join(f"{mark}{line}{mark}" if line else "" for line in lines)

    wrap.__doc__ = f"Wrap text in Viber's {mark} markers; empty text stays empty."
    return wrap


bold = _marker("*")
italic = _marker("_")
strike = _marker("~")


def domain(value: object) -> str:
    """Return the host of a URL without a leading "www.", or "" when there is none."""
    try:
        host = urlsplit(_string(value)).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


FILTERS: dict[str, Callable[..., Any]] = {
    "text": plain,
    "plain": plain,
    "truncate": cut,
    "truncate_words": cut,
    "units": units,
    "date": date,
    "hashtags": hashtags,
    "bold": bold,
    "italic": italic,
    "strike": strike,
    "domain": domain,
}
"""Every filter a template may use, by name; ``truncate`` replaces Jinja's own."""
