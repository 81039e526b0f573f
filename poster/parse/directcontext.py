"""What feedparser's handlers do to the feed's and entries' keys, for the direct reader.

The element sets say which elements :class:`poster.parse.directread.Reader` reads, skips or
keeps; the functions are feedparser's own steps (``_enforce_href``, ``_add_tag``,
``_save_author``, ``_sync_author_detail`` in ``feedparser/mixin.py``, ``resolve_uri`` and
``pop``'s text repair) on the plain dicts the reader keeps.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin

from poster.parse.fastsax import XHTML, Unsupported, repair_text

Context = dict[str, Any]
Attrs = dict[str, str]

map_content_type = _FeedParserMixin.map_content_type
looks_like_html = _FeedParserMixin.looks_like_html
HTML_TYPES = {"text/html", XHTML}
# The lower-case types map_content_type turns into one of HTML_TYPES.
HTML_LINK_TYPES = frozenset((*HTML_TYPES, "html", "xhtml"))
TAG_SCHEMES = {"itunes_keywords": "http://www.itunes.com/", "media_keywords": None}
MEDIA_CATEGORY = "http://search.yahoo.com/mrss/category_schema"
# feedparser's pattern for an email address in an author's text (``sync_author_detail``).
_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"""
    r"""([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)
# Elements without a handler whose text poster reads, from the feed or from an entry.
CAPTURED = frozenset(
    ("ttl", "sy_updateperiod", "sy_updatefrequency", "sy_updatebase", "itunes_duration")
)
# Keys of the feed and its entries that poster reads, which an element without a handler
# would overwrite.
RESERVED = frozenset(
    [
        "title",
        "title_detail",
        "link",
        "links",
        "id",
        "guidislink",
        "summary",
        "summary_detail",
        "content",
        "author",
        "author_detail",
        "authors",
        "published",
        "updated",
        "tags",
        "media_content",
        "media_thumbnail",
        "image",
    ]
)
# Elements whose handlers set only what poster does not read, wherever they stand.
HARMLESS = frozenset(
    [
        "subtitle",
        "tagline",
        "info",
        "feedburner_browserfriendly",
        "rights",
        "copyright",
        "dc_rights",
        "language",
        "dc_language",
        "webmaster",
        "dc_publisher",
        "created",
        "dcterms_created",
        "expirationdate",
        "generator",
        "cloud",
        "itunes_explicit",
        "itunes_block",
        "itunes_subtitle",
        "media_rating",
        "media_credit",
        "media_restriction",
        "media_license",
        "dc_contributor",
        "newlocation",
    ]
)
# The feed's own tags are not read: these may hold iTunes' nested categories there.
FEED_TAGS = frozenset(
    (
        "category",
        "dc_subject",
        "keywords",
        "media_category",
        "itunes_category",
        "itunes_keywords",
        "media_keywords",
    )
)
AUTHOR_PARTS = {"name": "name", "email": "email", "uri": "href", "url": "href", "homepage": "href"}
IMAGE_PARTS = frozenset(("title", "link", "description", "url", "width", "height"))


def leaf_value(element: ET.Element) -> str:
    """Return a leaf's text as ``pop`` gives it: stripped, mis-decoded UTF-8 repaired."""
    if len(element):
        raise Unsupported(f"markup inside {element.tag}")
    value = (element.text or "").strip()
    return value if value.isascii() else repair_text(value)


def is_base64(attrs: dict[str, str], kind: str) -> bool:
    """Tell whether feedparser would decode a text construct as base64 (``is_base64``)."""
    if attrs.get("mode", "") == "base64":
        return True
    return not (kind.startswith("text/") or kind.endswith(("+xml", "/xml")))


def uri(value: str) -> str:
    """Return a URI as feedparser's ``resolve_uri`` gives it with no base."""
    # With no base, feedparser only removes slashes after "scheme://"; urljoin keeps the rest.
    return _urljoin("", value) if ":///" in value else value


def enforce_href(attrs: dict[str, str]) -> dict[str, str]:
    """Move a ``url`` or ``uri`` attribute to ``href`` (``enforce_href``)."""
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    if href:
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href
    return attrs


def keep_link(context: Context, attrs: dict[str, str], in_entry: bool) -> None:
    """Add a link to the feed's links, or to an entry's when it is an enclosure.

    Of an entry's links poster reads only the enclosures (``rel="enclosure"``), in their order.
    """
    if not in_entry or attrs.get("rel") == "enclosure":
        context.setdefault("links", []).append(attrs)


def add_tag(context: Context, term: str | None, scheme: str | None, label: str | None) -> None:
    """Add a tag unless it is empty or known (``add_tag``)."""
    add_to_tags(context.setdefault("tags", []), term, scheme, label)


def add_to_tags(
    tags: list[list[str | None]], term: str | None, scheme: str | None, label: str | None
) -> None:
    """Add a tag to a list of tags unless it is empty or already there."""
    if term or scheme or label:
        value = [term, scheme, label]
        if value not in tags:
            tags.append(value)


def save_author(context: Context, key: str, value: str) -> None:
    """Store a part of the current author (``save_author``)."""
    context.setdefault("author_detail", {})[key] = value
    sync_author_detail(context)
    context.setdefault("authors", [{}])
    context["authors"][-1][key] = value


def sync_author_detail(context: Context) -> None:
    """Derive the author's text from its parts, or its parts from its text (feedparser's)."""
    detail = context.get("authors", [{}])[-1]
    if detail:
        name, email = detail.get("name"), detail.get("email")
        if name and email:
            context["author"] = f"{name} ({email})"
        elif name or email:
            context["author"] = name or email
        return
    author, email = context.get("author"), None
    if not author:
        return
    found = _EMAIL.search(author)
    if found:
        email = found.group(0)
        author = author.replace(email, "").replace("()", "").replace("<>", "")
        author = author.replace("&lt;&gt;", "").strip()
        if author and author[0] == "(":
            author = author[1:]
        if author and author[-1] == ")":
            author = author[:-1]
        author = author.strip()
    if author or email:
        context.setdefault("author_detail", detail)
    if author:
        detail["name"] = author
    if email:
        detail["email"] = email
