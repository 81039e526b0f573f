"""Keep the items a pass leaves waiting (a quiet night, ``max_per_pass``) until they are posted.

A waiting item is offered again by the feed's next read while the feed lists it; one that the
feed no longer lists by then (a busy feed rolls its items on) is offered from what is kept here,
so that waiting never loses an item. They are kept per feed, as JSON in one state entry,
written only when they change: at most ``WAITING_MAX`` of them, the newest, each with at most
``HTML_KEPT`` characters of its HTML, so that a long night of a busy feed stays a small part of
the state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from poster.items import Item, Media
from poster.store.ledger import waiting_key

if TYPE_CHECKING:
    from poster.destinations import Entries

log = logging.getLogger(__name__)

WAITING_MAX = 100
"""The most items kept waiting for one feed; a feed left waiting longer drops its oldest."""
HTML_KEPT = 64 * 1024
"""The most characters of an item's HTML kept: templates show far less."""

_MEDIA_FIELDS = ("url", "mime_type", "length", "duration", "title", "width", "height", "probed")


def keep_waiting(
    entries: Entries, feed: str, items: Sequence[Item], *, in_lanes: bool = False
) -> None:
    """Keep ``items`` as the feed's waiting ones, replacing those kept before (the last of a key).

    ``in_lanes`` says the items are all still in the daemon's lanes, which post them: those
    past ``WAITING_MAX`` go unkept without a warning, as nothing is lost unless the daemon is
    killed.
    """
    unique = {item.key: item for item in items}.values()
    kept = sorted(unique, key=lambda item: item.date.timestamp() if item.date else 0.0)
    if len(kept) > WAITING_MAX:
        if not in_lanes:
            log.warning("feed=%s status=waiting-dropped count=%d", feed, len(kept) - WAITING_MAX)
        kept = kept[-WAITING_MAX:]
    text = json.dumps([item_doc(item) for item in kept], ensure_ascii=False) if kept else ""
    if (entries.get_meta(waiting_key(feed)) or "") != text:
        entries.set_meta(waiting_key(feed), text)


def add_waiting(
    entries: Entries, feed: str, items: Sequence[Item], *, in_lanes: bool = False
) -> None:
    """Keep ``items`` with the feed's waiting ones; write only when one of them is new there."""
    kept = waiting_items(entries, feed, ())
    if not {item.key for item in items} <= {item.key for item in kept}:
        keep_waiting(entries, feed, [*kept, *items], in_lanes=in_lanes)


def settle_waiting(
    entries: Entries, feed: str, resolved: Collection[str], waiting: Sequence[Item]
) -> None:
    """Forget the kept items a batch ``resolved`` (posted, refused, skipped) and keep those it
    left ``waiting``; what other batches or a reload left kept stays."""
    kept = waiting_items(entries, feed, ())
    keys = {item.key for item in kept}
    if keys.isdisjoint(resolved) and {item.key for item in waiting} <= keys:
        return
    left = [item for item in kept if item.key not in resolved]
    keep_waiting(entries, feed, [*left, *waiting], in_lanes=True)


def waiting_items(entries: Entries, feed: str, listed: Iterable[str]) -> list[Item]:
    """Return the feed's kept waiting items that ``listed``, its document's keys, lacks."""
    text = entries.get_meta(waiting_key(feed))
    if not text:
        return []
    try:
        docs = json.loads(text)
        found = [item_of(doc) for doc in docs]
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("feed=%s status=waiting-unreadable error=%r", feed, str(exc))
        return []
    keys = set(listed)
    return [item for item in found if item.key not in keys]


def item_doc(item: Item) -> dict[str, Any]:
    """Return ``item`` as a JSON document: every field a template or a destination reads."""
    return {
        "key": item.key,
        "title": item.title,
        "link": item.link,
        "html": item.content_html[:HTML_KEPT],
        "text": item.content_text,
        "summary": item.summary,
        "author": item.author,
        "published": _when(item.published),
        "updated": _when(item.updated),
        "tags": list(item.tags),
        "image": _media_doc(item.image),
        "thumbnail": _media_doc(item.thumbnail),
        "enclosures": [_media_doc(media) for media in item.enclosures],
    }


def item_of(doc: dict[str, Any]) -> Item:
    """Return the item ``item_doc`` made ``doc`` of; raise on a document it did not make."""
    return Item(
        str(doc["key"]),
        str(doc["title"]),
        doc["link"],
        content_html=str(doc["html"]),
        content_text=str(doc["text"]),
        summary=str(doc["summary"]),
        author=doc["author"],
        published=_time(doc["published"]),
        updated=_time(doc["updated"]),
        tags=tuple(str(tag) for tag in doc["tags"]),
        image=_media_of(doc["image"]),
        thumbnail=_media_of(doc["thumbnail"]),
        enclosures=tuple(m for m in map(_media_of, doc["enclosures"]) if m is not None),
    )


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _media_doc(media: Media | None) -> dict[str, Any] | None:
    return None if media is None else {name: getattr(media, name) for name in _MEDIA_FIELDS}


def _media_of(doc: dict[str, Any] | None) -> Media | None:
    return None if doc is None else Media(**{name: doc[name] for name in _MEDIA_FIELDS})
