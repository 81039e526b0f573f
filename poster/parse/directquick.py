"""Read the usual shape of an entry's commonest elements in one call each.

An entry's title, description, content, dates, categories and RSS link are most often bare:
text without attributes or child elements; its guid carries at most ``isPermaLink``, its
enclosure a ``url`` and an Atom link an ``href``. For those, the handlers here do at once what
the general handlers of :class:`poster.parse.directread.Reader` do through several calls,
setting the same keys and the same reader state; any other shape goes to the general handler.
:data:`ENTRY_HANDLERS` maps feedparser's element keys to them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from poster.parse import directmedia
from poster.parse.directcontext import (
    HTML_LINK_TYPES,
    add_to_tags,
    enforce_href,
    keep_link,
    leaf_value,
)
from poster.parse.directnames import AS_WRITTEN, attributes
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
    # keys() tells without the empty dict that reading ``attrib`` makes and keeps in the tree.
    return not element.keys() and not len(element)


def _value(reader: Reader, element: ET.Element) -> str:
    """Return a bare element's text as ``pop`` gives it: stripped, mis-decoded UTF-8 repaired."""
    value = (element.text or "").strip()
    return value if value.isascii() or not reader.repairs else repair_text(value)


def _plain_kind(reader: Reader, value: str) -> str:
    """Return the type of a plain-text construct, which feedparser may guess is HTML."""
    if ("<" in value or "&" in value) and reader.guesses_html(value):
        return "text/html"
    return "text/plain"


def title(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read a title as ``Reader.title`` does."""
    if element.keys() or len(element):
        reader.title(element, key, context, depth, True)
        return
    value = (element.text or "").strip()
    if not value.isascii() and reader.repairs:
        value = repair_text(value)
    if not -1 < reader.title_depth <= depth:
        context["title"] = value
        kind = _plain_kind(reader, value) if "<" in value or "&" in value else "text/plain"
        context["title_detail"] = (value, kind)
    if value:
        reader.title_depth = depth


def description(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read an entry's description or summary as ``Reader.description`` does."""
    if element.keys() or len(element) or ("summary" in context and not reader.has_content):
        reader.description(element, key, context, depth, True)
        return
    value = (element.text or "").strip()
    if not value.isascii() and reader.repairs:
        value = repair_text(value)
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
    value = _value(reader, element)
    kind = _plain_kind(reader, value) if key == "content" else "text/html"
    context.setdefault("content", []).append((value, kind))
    context.setdefault("summary", value)


def date(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read a date as ``Reader.published`` or ``Reader.updated`` does; the last one counts."""
    value = (element.text or "").strip()
    if len(element) or not value.isascii():
        value = leaf_value(element)
    context[_DATES[key]] = parse_feed_date(value)


def enclosure(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read an RSS enclosure as ``directmedia.enclosure`` does, its ``url`` the usual href."""
    if len(element):
        directmedia.enclosure(reader, element, key, context, depth, True)
        return
    attrs = attributes(element)
    url = attrs.get("url")
    if url and "uri" not in attrs:  # what enforce_href does with them
        del attrs["url"]
        attrs["href"] = url
    else:
        enforce_href(attrs)
    attrs["rel"] = "enclosure"
    context.setdefault("links", []).append(attrs)


def link(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read a link as ``Reader.link`` does: Atom's href, or RSS's text when it needs no repair."""
    if len(element):
        reader.link(element, key, context, depth, True)
        return
    if element.keys():
        _href_link(reader, element, key, context, depth)
        return
    value = (element.text or "").strip()
    if ":///" in value or "&" in value or not value.isascii():
        reader.link(element, key, context, depth, True)
        return
    context["link"] = value  # an entry keeps only its enclosures of the links (keep_link)


def _href_link(reader: Reader, element: ET.Element, key: str, context: Context, depth: int) -> None:
    """Read a link with attributes as ``Reader.link`` does, when its href needs no repair."""
    attrib = element.attrib
    href = attrib.get("href")
    if href is None or not attrib.keys() <= AS_WRITTEN or not _plain_href(href, attrib):
        _keyed_link(reader, element, key, context, depth)
        return
    # Its attributes are keyed as written: they are read where they are, and copied only for
    # an enclosure, the one link of an entry that is kept (keep_link).
    rel = attrib.get("rel")
    rel = "alternate" if rel is None else rel.lower()
    kind = attrib.get("type")
    if rel == "enclosure":
        attrs = attrib.copy()
        attrs["rel"] = rel
        attrs["type"] = "text/html" if kind is None else kind.lower()
        keep_link(context, attrs, True)
    elif rel == "alternate" and (kind is None or kind.lower() in HTML_LINK_TYPES):
        context["link"] = href


def _plain_href(href: str, attrib: dict[str, str]) -> bool:
    """Tell whether a link's href is the one it keeps, as written (no url, uri or ":///")."""
    return ":///" not in href and "url" not in attrib and "uri" not in attrib


def _keyed_link(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int
) -> None:
    """Read a link with attributes from their keyed copy, as ``Reader.link`` does."""
    attrs = attributes(element)
    href = attrs.get("href")
    if href is None or not _plain_href(href, attrs):
        reader.link(element, key, context, depth, True)
        return
    rel = attrs.setdefault("rel", "alternate")
    kind = attrs.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
    keep_link(context, attrs, True)
    if rel == "alternate" and kind in HTML_LINK_TYPES:
        context["link"] = href


def guid(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read an RSS guid or Atom id as ``Reader.guid`` does, when it needs no repair."""
    if element.keys():
        attrib = element.attrib
        # The one attribute RSS gives a guid, spelled as the specification spells it.
        written = attrib.get("isPermaLink") if len(attrib) == 1 else None
        if written is None:
            reader.guid(element, key, context, depth, True)
            return
        is_link = written == "true"
    else:
        is_link = True
    value = (element.text or "").strip()
    if len(element) or not value.isascii() or (is_link and ":///" in value):
        reader.guid(element, key, context, depth, True)
        return
    reader.guidislink = is_link
    context["id"] = value
    if is_link:
        context.setdefault("guidislink", "link" not in context)
        context.setdefault("link", value)
    else:
        context.setdefault("guidislink", False)


def category(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read a category as ``directmedia.category`` does: attributes, then text as the term."""
    if len(element) or key not in _PLAIN_CATEGORIES:
        directmedia.category(reader, element, key, context, depth, True)
        return
    tags = context.setdefault("tags", [])
    attrs = None
    if element.keys():
        attrib = element.attrib
        # Attributes keyed as written are read where they are; the others from their keyed copy.
        attrs = attrib if attrib.keys() <= AS_WRITTEN else attributes(element)
    if attrs:
        scheme = attrs.get("scheme", attrs.get("domain"))
        add_to_tags(tags, attrs.get("term"), scheme, attrs.get("label"))
    value = (element.text or "").strip()
    if not value.isascii() and reader.repairs:
        value = repair_text(value)
    if not value:
        return
    if tags and not tags[-1][0]:
        tags[-1][0] = value
    elif [value, None, None] not in tags:  # what add_to_tags does with a term alone
        tags.append([value, None, None])


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
    "link": link,
    "guid": guid,
    "id": guid,
    "enclosure": enclosure,
    "category": category,
    "dc_subject": category,
    "keywords": category,
}
"""The handlers of an entry's children that take a short path for bare elements."""
