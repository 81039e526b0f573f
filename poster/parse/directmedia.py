"""Read an entry's tags and media as feedparser's handlers for them do.

These are the handlers of :class:`poster.parse.directread.Reader` for categories and keywords
(``_start_category``, ``_end_category``, ``_start_itunes_keywords``), enclosures
(``_start_enclosure``) and Media RSS and iTunes pictures (``feedparser/namespaces/mediarss.py``,
``itunes.py``), each keeping in the entry's dict what feedparser's keeps.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from poster.parse.directcontext import (
    MEDIA_CATEGORY,
    TAG_SCHEMES,
    Context,
    add_tag,
    enforce_href,
    leaf_value,
    uri,
)
from poster.parse.directnames import attributes, text
from poster.parse.fastsax import Unsupported, repair_text

if TYPE_CHECKING:
    from poster.parse.directread import Reader


def category(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read a category: its attributes, then its text as the term (``_end_category``)."""
    attrs = attributes(element) if element.attrib else {}
    if key == "itunes_category":
        add_tag(context, attrs.get("text"), "http://www.itunes.com/", None)
    elif attrs or key == "media_category":
        if key == "media_category":
            attrs.setdefault("scheme", MEDIA_CATEGORY)
        scheme = attrs.get("scheme", attrs.get("domain"))
        add_tag(context, attrs.get("term"), scheme, attrs.get("label"))
    else:
        context.setdefault("tags", [])  # all add_tag does with no term, scheme or label
    value = leaf_value(element)
    if not value:
        return
    tags = context["tags"]
    if tags and not tags[-1][0]:
        tags[-1][0] = value
    else:
        add_tag(context, value, None, None)


def keywords(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read itunes:keywords or media:keywords, a comma-separated list of tags."""
    if element.attrib:
        raise Unsupported(f"attributes on {key}")
    for term in leaf_value(element).split(","):
        if term.strip():
            add_tag(context, term.strip(), TAG_SCHEMES[key], None)


def enclosure(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Read an RSS enclosure into the links (``_start_enclosure``)."""
    text(element)
    attrs = enforce_href(attributes(element))
    attrs["rel"] = "enclosure"
    context.setdefault("links", []).append(attrs)


def media_content(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Keep a media:content's attributes."""
    text(element)
    context.setdefault("media_content", []).append(attributes(element))


def media_thumbnail(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Keep a media:thumbnail's attributes, its text as the URL when it has none."""
    attrs = attributes(element)
    context.setdefault("media_thumbnail", []).append(attrs)
    url = text(element).strip()
    if url and "url" not in attrs:
        attrs["url"] = repair_text(uri(url))


def media_group(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, in_entry: bool
) -> None:
    """Read a media:group's media:content and media:thumbnail as the entry's own."""
    for child in element:
        child_key = reader.names.key(child.tag)
        if child_key not in ("media_content", "media_thumbnail"):
            raise Unsupported(f"{child_key} in media:group")
        reader.element(child, child_key, context, depth + 1, in_entry)


def itunes_image(
    reader: Reader, element: ET.Element, key: str, context: Context, depth: int, _: bool
) -> None:
    """Keep an itunes:image's href (or url) as the entry's image."""
    attrs = attributes(element) if element.attrib else {}
    text(element)
    href = attrs.get("href") or attrs.get("url")
    if href:
        context["image"] = {"href": href}
