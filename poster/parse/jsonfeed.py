"""Read JSON Feed 1.0 and 1.1 documents (https://jsonfeed.org/version/1.1).

Titles, summaries, tags and names are plain text, as the specification has them ("the only place
HTML is allowed in this format is in content_html"): "a <b> tag" in a title is kept as written,
where other formats' text is looked at for HTML. Entities are still decoded, as titles are often
escaped.
"""

from __future__ import annotations

from functools import partial
from itertools import chain
from typing import Any

from poster.config import FeedConfig
from poster.errors import ParseError
from poster.models import Body, FetchResult, Item, Media, ParsedFeed
from poster.parse import fields
from poster.parse.dates import parse_date
from poster.parse.itemcap import MAX_ITEMS, over_cap
from poster.parse.itemkeys import item_key
from poster.parse.itemmedia import (
    absolute,
    choose_image,
    content_images,
    is_image,
    parse_duration,
    parse_length,
)

VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
_FORMATS = {"1": "jsonfeed10", "1.0": "jsonfeed10", "1.1": "jsonfeed11"}


def is_jsonfeed(document: object) -> bool:
    """Tell whether parsed JSON is a JSON Feed: by its version, or items with content_*."""
    if not isinstance(document, dict):
        return False
    version = document.get("version")
    if isinstance(version, str) and version.startswith(VERSION_PREFIXES):
        return True
    items = document.get("items")
    return isinstance(items, list) and any(
        isinstance(item, dict) and ("content_html" in item or "content_text" in item)
        for item in items
    )


def parse_jsonfeed(document: object, result: FetchResult, feed: FeedConfig) -> ParsedFeed:
    """Return the feed and its items; fields of the wrong type are ignored."""
    if not isinstance(document, dict):
        raise ParseError(feed.name, "not a JSON Feed: the top level is not an object")
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError(feed.name, 'not a JSON Feed: "items" is missing or not an array')
    # JSON Feed 1.1: an item without authors has the feed's authors.
    inherited = _author(document)
    listed = [raw for raw in items if isinstance(raw, dict)]
    return ParsedFeed(
        title=fields.plain_line(document.get("title"), is_html=False),
        link=absolute(document.get("home_page_url"), result.url),
        items=tuple(_item(raw, feed, result.url, inherited) for raw in listed[:MAX_ITEMS]),
        format=_format(document.get("version")),
        warnings=(over_cap(len(listed)),) if len(listed) > MAX_ITEMS else (),
        hubs=_hubs(document.get("hubs"), result.url),
        topic=absolute(document.get("feed_url"), result.url),
    )


def _hubs(value: object, base: str) -> tuple[str, ...]:
    """Return the WebSub hubs of a JSON Feed's ``hubs`` list, made absolute."""
    found = (
        absolute(hub.get("url"), base)
        for hub in _list(value)
        if isinstance(hub, dict) and str(hub.get("type", "")).lower() == "websub"
    )
    return tuple(url for url in found if url is not None)


def _format(version: object) -> str:
    """Return ``jsonfeed10``/``jsonfeed11`` for a JSON Feed version URL, else ``jsonfeed``."""
    if isinstance(version, str) and version.startswith(VERSION_PREFIXES):
        number = version.rstrip("/").rsplit("/", 1)[-1]
        return _FORMATS.get(number, "jsonfeed")
    return "jsonfeed"


def _item(raw: dict[str, Any], feed: FeedConfig, base: str, inherited: str | None) -> Item:
    """Return one normalized Item for a JSON Feed item."""
    markup = _text(raw, "content_html")
    text = _text(raw, "content_text")
    title = fields.plain_line(_text(raw, "title"), is_html=False)
    link = absolute(raw.get("url"), base) or absolute(raw.get("external_url"), base)
    attachments = _attachments(raw.get("attachments"), base)
    pictures = [_picture(raw.get(name), base) for name in ("image", "banner_image")]
    # Picture attachments come after the item's own image, as an RSS item's picture
    # enclosures come after its media:content.
    pictures += [media for media in attachments if is_image(media.mime_type, media.url)]
    return Item(
        key=item_key(
            feed.key,
            raw,
            id=fields.string(raw.get("id")),
            link=link,
            title=title,
            content=markup or text,
        ),
        title=title,
        link=link,
        body=Body(
            derive=partial(
                fields.body, markup, text, _text(raw, "summary"), base, summary_is_html=False
            )
        ),
        author=_author(raw) or inherited,
        published=parse_date(raw.get("date_published")),
        updated=parse_date(raw.get("date_modified")),
        tags=fields.unique_strings(_list(raw.get("tags")), is_html=False),
        image=choose_image(chain(pictures, content_images(markup, base))),
        enclosures=attachments,
    )


def _text(raw: dict[str, Any], name: str) -> str:
    """Return a string field, or "" when it is missing or not a string."""
    value = raw.get(name)
    return value if isinstance(value, str) else ""


def _list(value: object) -> list[Any]:
    """Return a JSON array, or an empty list for any other type."""
    return value if isinstance(value, list) else []


def _picture(value: object, base: str) -> Media | None:
    """Return Media for an image URL field."""
    url = absolute(value, base)
    return Media(url) if url else None


def _author(node: dict[str, Any]) -> str | None:
    """Return the first author's name: 1.1 ``authors`` first, then 1.0 ``author``."""
    authors = [a for a in _list(node.get("authors")) if isinstance(a, dict)]
    single = node.get("author")
    if isinstance(single, dict):
        authors.append(single)
    names = (fields.plain_line(author.get("name"), is_html=False) for author in authors)
    return next((name for name in names if name), None)


def _attachments(value: object, base: str) -> tuple[Media, ...]:
    """Return the usable attachments as Media."""
    found = (_attachment(raw, base) for raw in _list(value))
    return tuple(media for media in found if media is not None)


def _attachment(raw: object, base: str) -> Media | None:
    """Return Media for one attachment, or None when it has no usable URL."""
    if not isinstance(raw, dict):
        return None
    url = absolute(raw.get("url"), base)
    if url is None:
        return None
    return Media(
        url=url,
        mime_type=fields.string(raw.get("mime_type")),
        length=parse_length(raw.get("size_in_bytes")),
        duration=parse_duration(raw.get("duration_in_seconds")),
        title=fields.plain_line(raw.get("title"), is_html=False) or None,
    )
