"""Cut text to a limit at a word boundary; ``html_to_text`` turns feed HTML into plain text.

``html_to_text`` lives in ``poster.htmltext`` and loads from here on first use, so that what only
cuts text, such as ``check`` rendering templates, never loads Python's HTML parser.
"""

from __future__ import annotations

import importlib
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poster.htmltext import html_to_text as html_to_text

ELLIPSIS = "…"


def __getattr__(name: str) -> Any:
    """Return ``html_to_text`` from ``poster.htmltext``, importing it on first use."""
    if name != "html_to_text":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return importlib.import_module("poster.htmltext").html_to_text


def when(seconds: float | None) -> str:
    """Return when a wait of ``seconds`` ends, in words: "in 30s", "in 5min", "later"."""
    if seconds is None:
        return "later"
    if seconds >= 365 * 86400:
        return "in over a year"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"in {seconds / size:.0f}{unit}"
    return f"in {seconds:g}s"


def plural(count: int, noun: str) -> str:
    """Return ``noun`` for one, its plural in "s" for any other ``count``."""
    return noun if count == 1 else f"{noun}s"


def utf16_units(text: str) -> int:
    """Count UTF-16 code units: an emoji counts twice, as clients written in Java count it."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def truncate_units(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """Cut ``text`` as ``truncate`` does, to at most ``limit`` UTF-16 units."""
    cut = truncate(text, limit, ellipsis)
    if utf16_units(cut) <= limit:
        return cut
    # The longest cut in characters whose units fit: each astral character costs one more.
    best, low, high = "", 0, len(cut) - 1
    while low <= high:
        middle = (low + high) // 2
        candidate = truncate(text, middle, ellipsis)
        if utf16_units(candidate) <= limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def truncate(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """Cut ``text`` to at most ``limit`` characters at a word boundary, marking the cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return _whole_clusters(text, limit)
    room = limit - len(ellipsis)
    cut = text[:room]
    if not text[room].isspace():
        boundary = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
        # A space early in the text would waste most of the room: cut inside the word then.
        cut = cut[:boundary] if boundary >= room // 2 else _whole_clusters(text, room)
    return cut.rstrip(_TRAILING) + ellipsis


_TRAILING = " \n\t.,;:-–—"
_ZWJ = "\u200d"
_REGIONAL = range(0x1F1E6, 0x1F200)


def _whole_clusters(text: str, length: int) -> str:
    """Return at most ``length`` characters of ``text`` without splitting an emoji or accent."""
    cut = text[:length]
    while cut and (_joins(text[len(cut)]) or cut[-1] == _ZWJ or _splits_flag(text, len(cut))):
        cut = cut[:-1]
    return cut


def _joins(char: str) -> bool:
    """Tell whether ``char`` attaches to the character before it (mark, selector, modifier)."""
    point = ord(char)
    return (
        unicodedata.combining(char) > 0
        or char == _ZWJ
        or 0xFE00 <= point <= 0xFE0F  # variation selectors
        or 0x1F3FB <= point <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= point <= 0xE007F  # tag characters of subdivision flags
    )


def _splits_flag(text: str, index: int) -> bool:
    """Tell whether cutting before ``index`` separates the two regional indicators of a flag."""
    if index >= len(text) or ord(text[index]) not in _REGIONAL:
        return False
    run = 0
    while index - run > 0 and ord(text[index - run - 1]) in _REGIONAL:
        run += 1
    return run % 2 == 1
