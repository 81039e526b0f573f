"""Read an RSS item of the commonest shape in one pass, into what its Item is built from.

Most RSS items hold a title, a link, a guid, a publication date, a description and an HTML
content, each at most once and bare (the guid with ``isPermaLink`` at most), bare categories,
enclosures that give their ``url``, ``type`` and ``length`` alone, and perhaps elements poster
does not read. For such an item :func:`read_simple` does in one pass what
:meth:`poster.parse.directread.Reader.entry` and the handlers of
:mod:`poster.parse.directquick` do with its children, keeping in a :data:`Simple` tuple only
the values :func:`poster.parse.directitem.build_item` reads of the entry they collect, and
leaving the reader's state as they leave it; ``build_item`` then gives the Item it gives for
that entry. For an item of any other shape :func:`read_simple` changes nothing and gives None,
and the item is read the general way.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import TYPE_CHECKING

from poster.parse.directcontext import CAPTURED, HARMLESS, RESERVED
from poster.parse.directnames import has_handler
from poster.parse.fastsax import repair_text
from poster.parse.feeddates import parse_feed_date

if TYPE_CHECKING:
    from poster.parse.directread import Reader

Enclosure = tuple[str, str | None, str | None]
"""An enclosure's url, its type in lower case, and its length as written."""
Simple = tuple[
    str | None,  # the title
    str,  # the title's type
    str | None,  # the link
    str | None,  # the guid
    datetime | None,  # the publication date (pubDate)
    datetime | None,  # the update date (dc:date)
    str | None,  # the description
    str | None,  # the content (content:encoded)
    list[str] | None,  # the categories' terms, each once
    list[Enclosure] | None,  # the enclosures
]
"""What build_item reads of a simple item's entry, None for what the item does not hold."""

_ENCLOSURE_KEYS = frozenset(("url", "type", "length"))
_UNSET = datetime.min
"""A date not read yet, told by identity from any date read."""


def read_simple(reader: Reader, element: ET.Element, depth: int) -> Simple | None:
    """Return what the handlers would collect of an RSS item of the simple shape, else None.

    ``depth`` is its children's. On success the reader's state is what their handlers and
    ``Reader.entry`` leave; otherwise it is untouched.
    """
    routes, route, repairs = reader.routes, reader.route, reader.repairs
    general = type(reader).element
    title = link = guid = summary = content = None
    kind = "text/plain"
    published: datetime | None = _UNSET
    updated: datetime | None = _UNSET
    tags: list[str] | None = None
    enclosures: list[Enclosure] | None = None
    is_link = False
    for child in element:
        key, handler = routes.get(child.tag) or route(child.tag)
        if key == "enclosure":
            found = _enclosure(child)
            if found is None:
                return None
            enclosures = [] if enclosures is None else enclosures
            enclosures.append(found)
            continue
        if key == "guid":
            if guid is not None or len(child):
                return None
            read = _guid(child)
            if read is None:
                return None
            guid, is_link = read
            continue
        if len(child) or (child.keys() and key not in ("pubdate", "dc_date")):
            return None  # a date's attributes are not read: only a date may have them
        value = (child.text or "").strip()
        if key == "pubdate" or key == "dc_date":
            if not value.isascii():
                return None
            if key == "pubdate":
                if published is not _UNSET:
                    return None
                published = parse_feed_date(value)
            else:
                if updated is not _UNSET:
                    return None
                updated = parse_feed_date(value)
            continue
        if key == "link":
            if link is not None or ":///" in value or "&" in value or not value.isascii():
                return None
            link = value
            continue
        if not value.isascii() and repairs:
            value = repair_text(value)
        if key == "title":
            if title is not None:
                return None
            title = value
            if ("<" in value or "&" in value) and reader.guesses_html(value):
                kind = "text/html"
        elif key == "description":
            if summary is not None:
                return None
            summary = value
        elif key == "content_encoded":
            if content is not None:
                return None
            content = value
        elif key == "category":
            if not value:
                tags = [] if tags is None else tags
            elif tags is None:
                tags = [value]
            elif value not in tags:
                tags.append(value)
        elif handler is not general or not _inert(key):
            return None
    reader.guidislink = is_link
    reader.title_depth = depth if title else -1
    if is_link and link is None:
        link = guid  # a permalink guid is the link of an item that has none
    return (
        title,
        kind,
        link,
        guid,
        None if published is _UNSET else published,
        None if updated is _UNSET else updated,
        summary,
        content,
        tags,
        enclosures,
    )


def _guid(element: ET.Element) -> tuple[str, bool] | None:
    """Return a guid's value and whether it is a permalink, None when it needs a repair."""
    is_link = True
    if element.keys():
        attrib = element.attrib
        # The one attribute RSS gives a guid, spelled as the specification spells it.
        written = attrib.get("isPermaLink") if len(attrib) == 1 else None
        if written is None:
            return None
        is_link = written == "true"
    value = (element.text or "").strip()
    if not value.isascii() or (is_link and ":///" in value):
        return None
    return value, is_link


def _enclosure(element: ET.Element) -> Enclosure | None:
    """Return an enclosure's url, lower-cased type and length, None for another shape."""
    attrib = element.attrib
    url = attrib.get("url")
    if len(element) or not url or not attrib.keys() <= _ENCLOSURE_KEYS:
        return None
    kind = attrib.get("type")
    return url, None if kind is None else kind.lower(), attrib.get("length")


def _inert(key: str) -> bool:
    """Tell whether a leaf without a handler of its own keeps nothing in an entry.

    ``Reader.element`` reads a harmless one, or one neither reserved nor captured, as nothing.
    """
    if key in HARMLESS:
        return True
    return not (has_handler(key) or key in RESERVED or key in CAPTURED)
