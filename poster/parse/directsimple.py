"""Read an RSS item or Atom entry of the commonest shape in one pass, into what its Item needs.

Most RSS items hold a title, a link, a guid (or an ``rdf:about``), a publication or Dublin
Core date, a description and an HTML content, each at most once and bare (the guid with
``isPermaLink`` at most), bare categories or Dublin Core subjects, enclosures that give their
``url``, ``type`` and ``length`` alone, and perhaps elements poster does not read. Most Atom
entries hold a title, an id, dates, a summary and a content, each at most once (the text
constructs typed text or HTML at most), links and categories of their usual attributes. For
such an item the reader :func:`simple_reader` gives does in one pass what
:meth:`poster.parse.directread.Reader.entry` and the handlers of
:mod:`poster.parse.directquick` and ``directread`` do with its children, keeping in a
:data:`Simple` tuple only the values :func:`poster.parse.directitem.build_item` reads of the
entry they collect, and leaving the reader's state as they leave it; ``build_item`` then gives
the Item it gives for that entry. For an item of any other shape it changes nothing and gives
None, and the item is read the general way.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from poster.parse.directcontext import (
    CAPTURED,
    HARMLESS,
    HTML_LINK_TYPES,
    RESERVED,
    add_to_tags,
    map_content_type,
)
from poster.parse.directnames import has_handler
from poster.parse.fastsax import repair_text
from poster.parse.feeddates import parse_feed_date

if TYPE_CHECKING:
    from poster.parse.directread import Reader

Enclosure = tuple[str, str | None, str | None]
"""An enclosure's url, its type in lower case, and its length as written."""
Detail = tuple[str, str]
"""A text construct's value and type, as ``title_detail`` and ``summary_detail`` hold them."""
Tag = list[str | None]
"""A category's term, scheme and label, as ``tags`` holds them."""
Simple = tuple[
    Detail | None,  # the title
    str | None,  # the link
    str | None,  # the guid or id
    datetime | None,  # the publication date
    datetime | None,  # the update date
    Detail | None,  # the description or summary
    Detail | None,  # the content
    list[Tag] | None,  # the categories
    list[Enclosure] | None,  # the enclosures
]
"""What build_item reads of a simple item's entry, None for what the item does not hold."""

SimpleReader = Callable[["Reader", ET.Element, int], Simple | None]
"""Reads one item of the simple shape (``simple_reader``)."""

_ABOUT = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"
_CATEGORIES = frozenset(("category", "dc_subject", "keywords"))
"""The keys of an RSS item's elements whose bare text is a category's term."""
_ENCLOSURE_KEYS = frozenset(("url", "type", "length"))
_LINK_KEYS = frozenset(("href", "rel", "type", "length", "title"))
_CATEGORY_KEYS = frozenset(("term", "scheme", "label"))
_TYPED = frozenset(("type",))
_PLAIN_TYPES = frozenset(("text/plain", "text/html"))
_UNSET = datetime.min
"""A date not read yet, told by identity from any date read."""


def simple_reader(version: str) -> SimpleReader:
    """Return the reader of the simple items of a document of this version.

    It gives what the handlers would collect of an item of the simple shape, else None, and
    is given the item's children's depth. On success the reader's state is what their
    handlers and ``Reader.entry`` leave; otherwise it is untouched.
    """
    return _atom_entry if version.startswith("atom") else _rss_item


def _rss_item(reader: Reader, element: ET.Element, depth: int) -> Simple | None:
    """Return what the handlers would collect of an RSS item of the simple shape, else None."""
    routes, route, repairs = reader.routes, reader.route, reader.repairs
    general = type(reader).element
    title = link = guid = summary = content = None
    if element.keys():  # an RSS 1.0 item's rdf:about is its id, unless a guid says another
        attrib = element.attrib
        if len(attrib) != 1 or _ABOUT not in attrib:
            return None
        guid = attrib[_ABOUT] or None
    about = guid is not None
    kind = "text/plain"
    published: datetime | None = _UNSET
    updated: datetime | None = _UNSET
    tags: list[Tag] | None = None
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
            if (guid is not None and not about) or len(child):
                return None
            about = False
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
        elif key in _CATEGORIES:
            tags = [] if tags is None else tags
            tag: Tag = [value, None, None]
            if value and tag not in tags:
                tags.append(tag)
        elif handler is not general or not _inert(key):
            return None
    reader.guidislink = is_link
    reader.title_depth = depth if title else -1
    if is_link and link is None:
        link = guid  # a permalink guid is the link of an item that has none
    return (
        None if title is None else (title, kind),
        link,
        guid,
        None if published is _UNSET else published,
        None if updated is _UNSET else updated,
        None if summary is None else (summary, "text/html"),
        None if content is None else (content, "text/html"),
        tags,
        enclosures,
    )


def _atom_entry(reader: Reader, element: ET.Element, depth: int) -> Simple | None:
    """Return what the handlers would collect of an Atom entry of the simple shape, else None."""
    if element.keys():
        return None
    routes, route, general = reader.routes, reader.route, type(reader).element
    title = summary = content = None
    link = id = None
    published: datetime | None = _UNSET
    updated: datetime | None = _UNSET
    tags: list[Tag] | None = None
    enclosures: list[Enclosure] | None = None
    for child in element:
        key, handler = routes.get(child.tag) or route(child.tag)
        if len(child):
            return None
        if key == "link":
            read = _atom_link(child)
            if read is None:
                return None
            alternate, enclosure = read
            if alternate is not None:
                link = alternate  # the last alternate link is the entry's
            elif enclosure is not None:
                enclosures = [] if enclosures is None else enclosures
                enclosures.append(enclosure)
        elif key == "category":
            tags = _atom_category(reader, child, [] if tags is None else tags)
            if tags is None:
                return None
        elif key == "published" or key == "updated":
            value = (child.text or "").strip()
            if not value.isascii() or (published if key == "published" else updated) is not _UNSET:
                return None
            if key == "published":
                published = parse_feed_date(value)
            else:
                updated = parse_feed_date(value)
        elif key == "id":
            value = (child.text or "").strip()
            if id is not None or child.keys() or not value.isascii() or ":///" in value:
                return None
            id = value
        elif key == "title" or key == "summary" or key == "content":
            detail = _construct(reader, child)
            if detail is None:
                return None
            if key == "title":
                if title is not None:
                    return None
                title = detail
            elif key == "summary":
                if summary is not None:
                    return None
                summary = detail
            else:
                if content is not None:
                    return None
                content = detail
        elif child.keys() or handler is not general or not _inert(key):
            return None
    reader.guidislink = id is not None
    reader.title_depth = depth if title is not None and title[0] else -1
    if link is None:
        link = id  # an id is the link of an entry that has no alternate link
    return (
        title,
        link,
        id,
        None if published is _UNSET else published,
        None if updated is _UNSET else updated,
        summary,
        content,
        tags,
        enclosures,
    )


def _atom_link(element: ET.Element) -> tuple[str | None, Enclosure | None] | None:
    """Return an Atom link as the entry's alternate href or as an enclosure (None for what it
    is not; a link of another relation is neither), or None for a link of another shape."""
    attrib = element.attrib
    href = attrib.get("href")
    if href is None or ":///" in href or not attrib.keys() <= _LINK_KEYS:
        return None
    rel = attrib.get("rel")
    rel = "alternate" if rel is None else rel.lower()
    kind = attrib.get("type")
    if rel == "enclosure":
        return None, (href, "text/html" if kind is None else kind.lower(), attrib.get("length"))
    if rel == "alternate" and (kind is None or kind.lower() in HTML_LINK_TYPES):
        return href, None
    return None, None


def _atom_category(reader: Reader, element: ET.Element, tags: list[Tag]) -> list[Tag] | None:
    """Add an Atom category to the tags as ``directquick.category`` does; None for another shape."""
    attrib = element.attrib
    if not attrib.keys() <= _CATEGORY_KEYS:
        return None
    if attrib:
        add_to_tags(tags, attrib.get("term"), attrib.get("scheme"), attrib.get("label"))
    value = (element.text or "").strip()
    if not value.isascii() and reader.repairs:
        value = repair_text(value)
    if not value:
        return tags
    if tags and not tags[-1][0]:
        tags[-1][0] = value
    elif [value, None, None] not in tags:
        tags.append([value, None, None])
    return tags


def _construct(reader: Reader, element: ET.Element) -> Detail | None:
    """Return an Atom text construct's value and type, None for one typed otherwise than text
    or HTML, or with other attributes (``Reader.construct``)."""
    kind = "text/plain"
    if element.keys():
        attrib = element.attrib
        if not attrib.keys() <= _TYPED:
            return None
        kind = map_content_type(attrib["type"])
        if kind not in _PLAIN_TYPES:
            return None
    value = (element.text or "").strip()
    if not value.isascii() and reader.repairs:
        value = repair_text(value)
    return value, kind


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
