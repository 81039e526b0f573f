"""Read a JSON API whose items and fields are located by the feed's ``json`` mapping."""

from __future__ import annotations

from functools import partial
from itertools import chain
from typing import Any

from poster.config import FeedConfig, JsonMapping
from poster.errors import ParseError
from poster.models import Body, FetchResult, Item, Media, ParsedFeed
from poster.parse import fields
from poster.parse.dates import parse_date
from poster.parse.itemcap import MAX_ITEMS, over_cap
from poster.parse.itemkeys import item_key
from poster.parse.itemmedia import absolute, choose_image, content_images
from poster.parse.paths import MISSING, lookup

_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def parse_mapped(
    document: object, result: FetchResult, feed: FeedConfig, mapping: JsonMapping
) -> ParsedFeed:
    """Return the items found at ``mapping.items``, each field read through its path."""
    found = lookup(document, mapping.items)
    where = f"json.items path {mapping.items!r}" if mapping.items else "the JSON document"
    if found is MISSING:
        raise ParseError(feed.name, f"{where} is not in the JSON document")
    if not isinstance(found, list):
        raise ParseError(feed.name, f"{where} is {_json_type(found)}, not an array of items")
    listed = [raw for raw in found if isinstance(raw, dict)]
    read = listed[:MAX_ITEMS]
    items = tuple(_item(raw, mapping, feed, result.url) for raw in read)
    warnings = (over_cap(len(listed)),) if len(listed) > MAX_ITEMS else ()
    return ParsedFeed(items=items, format="json", warnings=(*warnings, *_unmatched(read, mapping)))


_FIELDS = (
    "id", "title", "link", "content", "text", "summary", "image", "published", "updated",
    "author", "tags",
)  # fmt: skip


def _unmatched(listed: list[dict[str, Any]], mapping: JsonMapping) -> list[str]:
    """Name each mapped path that no item has: most likely a misspelt path, not an empty field."""
    if not listed:
        return []
    missing = []
    for name in _FIELDS:
        path = getattr(mapping, name)
        if path and all(lookup(raw, path) is MISSING for raw in listed):
            count = f"{len(listed)} item{'s' if len(listed) > 1 else ''}"
            missing.append(f"json.{name} path {path!r} matches nothing in any of the {count}")
    return missing


def _json_type(value: object) -> str:
    """Return how a JSON value's type reads in a sentence."""
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), "a number")


def _field(raw: dict[str, Any], path: str | None) -> object:
    """Return the value at a mapped path, or None when unmapped or missing."""
    if not path:
        return None
    value = lookup(raw, path)
    return None if value is MISSING else value


def _item(raw: dict[str, Any], mapping: JsonMapping, feed: FeedConfig, base: str) -> Item:
    """Return one normalized Item for a mapped JSON object."""
    markup = _string_field(raw, mapping.content)
    text = _string_field(raw, mapping.text)
    title = fields.plain_line(_field(raw, mapping.title))
    link = absolute(_field(raw, mapping.link), base)
    summary = fields.string(_field(raw, mapping.summary)) or ""
    image = _image(_field(raw, mapping.image), base)
    return Item(
        key=item_key(
            feed.key,
            raw,
            id=fields.string(_field(raw, mapping.id)),
            link=link,
            title=title,
            content=markup or text,
        ),
        title=title,
        link=link,
        body=Body(derive=partial(fields.body, markup, text, summary, base)),
        author=_author(_field(raw, mapping.author)),
        published=parse_date(_field(raw, mapping.published)),
        updated=parse_date(_field(raw, mapping.updated)),
        tags=fields.unique_strings(_tags(_field(raw, mapping.tags))),
        image=choose_image(chain([image], content_images(markup, base))),
    )


def _string_field(raw: dict[str, Any], path: str | None) -> str:
    """Return a mapped string field, or "" when it is unmapped, missing or not a string."""
    value = _field(raw, path)
    return value if isinstance(value, str) else ""


def _image(value: object, base: str) -> Media | None:
    """Return Media for an image URL, given as a string or an object with ``url``."""
    if isinstance(value, dict):
        value = value.get("url")
    url = absolute(value, base)
    return Media(url) if url else None


def _author(value: object) -> str | None:
    """Return an author given as a string or an object with ``name``."""
    if isinstance(value, dict):
        value = value.get("name")
    return fields.plain_line(value) or None


def _tags(value: object) -> list[object]:
    """Return tags given as an array of strings (or of objects with ``name``) or as "a, b"."""
    if isinstance(value, str):
        return list(value.split(","))
    if not isinstance(value, list):
        return []
    return [tag.get("name") if isinstance(tag, dict) else tag for tag in value]
