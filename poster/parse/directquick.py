"""Read the usual shape of an entry's commonest elements in one call each.

An entry's title, description, content, dates and categories are most often bare: text
without attributes or child elements. For those, the handlers here do at once what the general
handlers of :class:`poster.parse.directread.Reader` do through several calls, setting the same
keys and the same reader state; any other shape goes to the general handler.
:data:`ENTRY_HANDLERS` maps feedparser's element keys to them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from poster.parse import directmedia
from poster.parse.directcontext import add_to_tags, leaf_value
from poster.parse.directnames import attributes
from poster.parse.fastsax import repair_text
from poster.parse.feeddates import parse_feed_date

if TYPE_CHECKING:
    from poster.parse.directread import Reader

Context = dict[str, Any]

_SUMMARIES = frozenset(("summary", "itunes_summary"))
# The category keys whose bare element is a term alone (``_start_category``, ``_end_category``).
_PLAIN_CATEGORIES = frozenset(("category", "dc_subject", "keywords"))
# The date keys and the key of the entry each sets (``_end_published``, ``_end_updated``).
_DATES = {
    **dict.fromkeys(("pubdate", "published", "issued", "dcterms_issued"), "published"),
    **dict.fromkeys(
        ("updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"), "updated"
    ),
}


def _bare(element: ET.Element) -> bool:
    """Tell whether an element holds text only: no attributes, no child elements."""
    return not element.attrib and not len(element)


def _value(element: ET.Element) -> str:
    """Return a bare element's text as ``pop`` gives it: stripped, mis-decoded UTF-8 repaired."""
    value = (element.text or "").strip()
    return value if value.isascii() else repair_text(value)


def _plain_kind(reader: Reader, value: str) -> str:
    """Return the type of a plain-text construct, which feedparser may guess is HTML."""
    if ("<" in value or "&" in value) and reader.guesses_html(value):
        return "text/html"
    return "text/plain"


def title(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read a title as ``Reader.title`` does."""
    if not _bare(element):
        reader.title(element, key, context, depth, True)
        return
    value = _value(element)
    if not -1 < reader.title_depth <= depth:
        context["title"] = value
        context["title_detail"] = (value, _plain_kind(reader, value))
    if value:
        reader.title_depth = depth


def description(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read an entry's description or summary as ``Reader.description`` does."""
    if not _bare(element) or ("summary" in context and not reader.has_content):
        reader.description(element, key, context, depth, True)
        return
    value = _value(element)
    context["summary"] = value
    kind = _plain_kind(reader, value) if key in _SUMMARIES else "text/html"
    context["summary_detail"] = (value, kind)


def content(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read an entry's content as ``Reader.content`` does."""
    if not _bare(element):
        reader.content(element, key, context, depth, True)
        return
    reader.has_content = True
    value = _value(element)
    kind = _plain_kind(reader, value) if key == "content" else "text/html"
    context.setdefault("content", []).append((value, kind))
    context.setdefault("summary", value)


def date(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read a date as ``Reader.published`` or ``Reader.updated`` does; the last one counts."""
    context[_DATES[key]] = parse_feed_date(leaf_value(element))


def category(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read a category as ``directmedia.category`` does: attributes, then text as the term."""
    if len(element) or key not in _PLAIN_CATEGORIES:
        directmedia.category(reader, element, key, context, depth, True)
        return
    tags = context.setdefault("tags", [])
    attrs = attributes(element) if element.attrib else None
    if attrs:
        scheme = attrs.get("scheme", attrs.get("domain"))
        add_to_tags(tags, attrs.get("term"), scheme, attrs.get("label"))
    value = _value(element)
    if not value:
        return
    if tags and not tags[-1][0]:
        tags[-1][0] = value
    else:
        add_to_tags(tags, value, None, None)


ENTRY_HANDLERS: dict[str, Any] = {
    "title": title,
    "dc_title": title,
    "description": description,
    "dc_description": description,
    "summary": description,
    "itunes_summary": description,
    "content": content,
    "content_encoded": content,
    "fullitem": content,
    "pubdate": date,
    "published": date,
    "issued": date,
    "dcterms_issued": date,
    "updated": date,
    "modified": date,
    "lastbuilddate": date,
    "dc_date": date,
    "dcterms_modified": date,
    "category": category,
    "dc_subject": category,
    "keywords": category,
}
"""The handlers of an entry's children that take a short path for bare elements."""
