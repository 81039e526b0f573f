"""Turn the entries the direct reader collected into poster's Items, as the feedparser path does.

Each entry is a plain dict holding only the keys of feedparser's entry that poster reads, with
feedparser's meaning: ``title_detail`` and ``summary_detail`` are ``(value, type)`` pairs,
``content`` a list of them, ``links`` (its enclosures alone) and ``media_*`` lists of attribute
dicts, ``tags`` lists of ``[term, scheme, label]``, ``published`` and ``updated`` the datetimes
of feedparser's ``*_parsed``. :func:`build_item` gives the Item that
:func:`poster.parse.xmlfeed.assemble` gives for feedparser's entry, each URL resolved once.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

from poster.config import FeedConfig
from poster.models import Body, Item, Media
from poster.parse import fields
from poster.parse.directsimple import Enclosure, Simple
from poster.parse.itemkeys import KEY_MAX, bounded, item_key
from poster.parse.itemmedia import (
    absolute,
    choose_image,
    content_images,
    is_image,
    parse_duration,
    parse_length,
    unique_media,
)

Context = dict[str, Any]
Detail = tuple[str, str]

_NOTHING: Context = {}
"""The entry the helpers below are given for a simple item, which has none of their keys."""
_TAG_LINES: dict[str | None, str] = {}
"""The line of each tag met, for as many tags as _TAG_LINES_KEPT, each of _TAG_KEPT at most."""
_TAG_LINES_KEPT = 4096
_TAG_KEPT = 128


def build_item(entry: Context | Simple, feed: FeedConfig, base: str, inherited: str | None) -> Item:
    """Return the Item for one collected entry; its text is derived when first used."""
    if isinstance(entry, tuple):
        return _simple_item(entry, feed, base, inherited)
    summary = entry.get("summary_detail")
    texts = entry.get("content")
    if texts is None and summary is not None:  # an RSS item's description is its body
        raw_content, content_is_html = summary[0], _is_html(summary[1])
    else:
        raw_content, content_is_html = _richest_content(texts or (), summary)
    detail = entry.get("title_detail")
    title = fields.plain_line(detail[0], "html" in detail[1]) if detail else title_of(entry)
    link = absolute(entry.get("link"), base)
    links = entry.get("links")
    enclosures = _link_enclosures(links, base) if links is not None else []
    contents = _media_contents(entry, base) if "media_content" in entry else []
    markup = (raw_content if content_is_html else "", summary)
    image, thumbnail = _pictures(entry, base, markup, enclosures, contents)
    raw_id = entry.get("id")
    id = raw_id.strip() or None if raw_id else None
    tags = entry.get("tags")
    return Item.of(
        _key(feed, entry, id, link, title, raw_content),
        title,
        link,
        Body.deferred(
            _body, _own_summary if summary else None, summary, raw_content, content_is_html, base
        ),
        author_of(entry) or inherited,
        entry.get("published"),
        entry.get("updated"),
        _tags(tags) if tags else (),
        image,
        thumbnail,
        _enclosures(entry, enclosures, contents),
    )


def _simple_item(simple: Simple, feed: FeedConfig, base: str, inherited: str | None) -> Item:
    """Return the Item build_item gives for the entry of a simple item (``simple_reader``)."""
    detail, link, guid, published, updated, summary, content, tags, enclosed = simple
    # What _richest_content gives of at most one content and the summary ("html" in a type
    # is _is_html).
    if content is not None and content[0].strip():
        raw_content, content_is_html = content[0], "html" in content[1]
    elif summary is not None:
        raw_content, content_is_html = summary[0], "html" in summary[1]
    else:
        raw_content, content_is_html = "", True
    title = "" if detail is None else fields.plain_line(detail[0], "html" in detail[1])
    url = absolute(link, base)
    enclosures = _simple_enclosures(enclosed, base) if enclosed else []
    markup = (raw_content if content_is_html else "", summary)
    image, thumbnail = _pictures(_NOTHING, base, markup, enclosures, [])
    return Item.of(
        _key(feed, _NOTHING, guid or None, url, title, raw_content),
        title,
        url,
        Body.deferred(
            _body, _own_summary if summary else None, summary, raw_content, content_is_html, base
        ),
        inherited,
        published,
        updated,
        _tags(tags) if tags else (),
        image,
        thumbnail,
        # What _enclosures gives without media:content or itunes:duration.
        unique_media(enclosures) if len(enclosures) > 1 else tuple(enclosures),
    )


def _simple_enclosures(enclosed: list[Enclosure], base: str) -> list[Media]:
    """Return a simple item's enclosures as Media, as _link_enclosures makes its links."""
    found = []
    for url, kind, length in enclosed:
        href = absolute(url, base)
        if href is not None:
            mime_type = kind.strip() or None if kind else None
            found.append(Media.of(href, mime_type, parse_length(length)))
    return found


def _key(
    feed: FeedConfig, entry: Context, id: str | None, link: str | None, title: str, content: str
) -> str:
    """Return the item's key as ``item_key`` gives it, an id as the key without its call."""
    if id and feed.key is None:
        return id if len(id) <= KEY_MAX else bounded(id)
    return item_key(feed.key, entry, id=id, link=link, title=title, content=content)


def title_of(context: Context) -> str:
    """Return a feed's or entry's title as one line of plain text."""
    detail = context.get("title_detail")
    if detail is not None:
        return fields.plain_line(detail[0], "html" in detail[1])
    return fields.plain_line(context.get("title"))


def author_of(context: Context) -> str | None:
    """Return the author's name (the email address only when there is no name)."""
    if "author" not in context and "author_detail" not in context:
        return None
    detail = context.get("author_detail") or {}
    name = fields.plain_line(detail.get("name") or context.get("author"))
    return name or fields.string(detail.get("email"))


def _body(
    summary: Detail | None, raw: str, is_html: bool, base: str, own: str | None = None
) -> tuple[str, str, str]:
    """Return the entry's content as HTML and text, and its summary (``own``, once made)."""
    content_html, content_text = fields.from_html(raw, base) if is_html else fields.from_text(raw)
    if own is None:
        own = _own_summary(summary)
    return content_html, content_text, fields.summary_or_derived(own, content_text)


def _own_summary(summary: Detail | None, *_: object) -> str:
    """Return the entry's own summary as plain text, "" when it has none (given _body's args)."""
    return fields.plain_text(summary[0], _is_html(summary[1])) if summary else ""


def _is_html(kind: str) -> bool:
    """Tell whether a text construct's type holds HTML or XHTML (whose name holds "html")."""
    return "html" in kind


def _tags(tags: list[list[str | None]]) -> tuple[str, ...]:
    """Return the entry's tags: each term, else its label, as one line, repeats left out."""
    if len(tags) == 1:  # what unique_strings gives for one
        line = _tag_line(tags[0][0] or tags[0][2])
        return (line,) if line else ()
    return fields.unique_strings(tag[0] or tag[2] for tag in tags)


def _tag_line(value: str | None) -> str:
    """Return a tag as one line of plain text, each short one made once for all entries."""
    # A feed names a few categories over and over, and feeds share many (news, sport).
    line = _TAG_LINES.get(value)
    if line is None:
        line = fields.plain_line(fields.string(value))
        if len(_TAG_LINES) < _TAG_LINES_KEPT and value is not None and len(value) <= _TAG_KEPT:
            _TAG_LINES[value] = line
    return line


def _richest_content(contents: Sequence[Detail], summary: Detail | None) -> tuple[str, bool]:
    """Return the fullest body (content, else summary/description) and whether it is HTML."""
    if len(contents) == 1 and contents[0][0].strip():  # the usual one, as the list below
        return contents[0][0], _is_html(contents[0][1])
    details = [d for d in contents if d[0].strip()]
    if details:
        if len(details) > 1:
            details.sort(key=lambda detail: not _is_html(detail[1]))
        return details[0][0], _is_html(details[0][1])
    if summary is not None:
        return summary[0], _is_html(summary[1])
    return "", True


def _media_contents(entry: Context, base: str) -> list[tuple[Media, bool]]:
    """Return each media:content as Media, flagged True when it is a picture."""
    found = []
    for raw in entry.get("media_content", ()):
        url = absolute(raw.get("url"), base)
        if url is None:
            continue
        mime_type = fields.string(raw.get("type"))
        media = Media(
            url=url,
            mime_type=mime_type,
            length=parse_length(raw.get("filesize")),
            duration=parse_duration(raw.get("duration")),
        )
        found.append((media, is_image(mime_type, url, raw.get("medium"))))
    return found


def _link_enclosures(links: list[dict[str, str]], base: str) -> list[Media]:
    """Return the entry's enclosures (RSS enclosure, Atom rel=enclosure: its links) as Media."""
    found = []
    for link in links:
        url = absolute(link.get("href"), base)
        if url is not None:
            mime_type = link.get("type")
            mime_type = mime_type.strip() or None if mime_type else None
            found.append(Media.of(url, mime_type, parse_length(link.get("length"))))
    return found


def _thumbnails(entry: Context, base: str) -> list[Media]:
    """Return the entry's media:thumbnail pictures."""
    urls = (absolute(raw.get("url"), base) for raw in entry.get("media_thumbnail", ()))
    return [Media(url) for url in urls if url]


def _pictures(
    entry: Context,
    base: str,
    markup: tuple[str, Detail | None],
    enclosures: list[Media],
    contents: list[tuple[Media, bool]],
) -> tuple[Media | None, Media | None]:
    """Return the entry's best picture and a distinct thumbnail, in the documented order.

    The order: media:content pictures, picture enclosures, media:thumbnail, itunes:image, and
    the pictures of the HTML content and summary (``markup``), looked for only when none
    before is a JPEG. A thumbnail is the reduced picture: a full one, given too, comes first.
    """
    if not contents and "media_thumbnail" not in entry and "image" not in entry:
        # The usual entry: its first JPEG enclosure, if it has one, is the picture.
        for media in enclosures:
            # A JPEG by its type is a picture: only one by its name needs is_image's look.
            if media.is_jpeg and (media.mime_type or is_image(media.mime_type, media.url)):
                return media, None
        if not enclosures:  # no picture listed: the first of the markup's, if any
            html, summary = markup
            shown = html + summary[0] if summary else html
            return (choose_image(content_images(shown, base)) if "<" in shown else None), None
    thumbnails = _thumbnails(entry, base) if "media_thumbnail" in entry else []
    listed = [media for media in enclosures if is_image(media.mime_type, media.url)]
    if contents or thumbnails:
        listed = [media for media, picture in contents if picture] + listed + thumbnails
    picture = entry.get("image")
    url = absolute(picture.get("href"), base) if picture else None
    if url:
        listed.append(Media(url))
    image = choose_image(listed)
    if image is None or not image.is_jpeg:
        html, summary = markup
        inline = content_images(html + (summary[0] if summary else ""), base)
        image = choose_image(chain(listed, inline))
    if not thumbnails:
        return image, None
    return image, choose_image(t for t in thumbnails if image is None or t.url != image.url)


def _enclosures(
    entry: Context, enclosures: list[Media], contents: list[tuple[Media, bool]]
) -> tuple[Media, ...]:
    """Return enclosures and non-picture media:content, with itunes:duration filled in."""
    if contents:
        media = unique_media([*enclosures, *(media for media, picture in contents if not picture)])
    else:
        media = unique_media(enclosures) if len(enclosures) > 1 else tuple(enclosures)
    if "itunes_duration" not in entry:
        return media
    duration = parse_duration(entry["itunes_duration"])
    if duration is None:
        return media
    return tuple(_with_duration(m, duration) for m in media)


def _with_duration(media: Media, duration: int) -> Media:
    """Return the media with the episode's duration when it is sound or video without one."""
    if media.duration is not None or is_image(media.mime_type, media.url):
        return media
    return Media(media.url, media.mime_type, media.length, duration, media.title)
