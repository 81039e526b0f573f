"""Read RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and RDF documents with feedparser."""

from __future__ import annotations

import html
import io
import xml.sax
from collections.abc import Mapping, Sequence
from functools import partial
from itertools import chain
from typing import Any

import feedparser

from poster.config import FeedConfig
from poster.errors import ParseError
from poster.models import Body, FetchResult, Item, Media, ParsedFeed
from poster.parse import fields
from poster.parse.dates import from_struct
from poster.parse.encoding import content_type
from poster.parse.hints import read_hints
from poster.parse.itemkeys import item_key
from poster.parse.itemmedia import (
    absolute,
    choose_image,
    content_images,
    is_image,
    parse_duration,
    parse_length,
    unique_media,
)

Entry = Mapping[str, Any]

_HTML_TYPES = ("html", "xhtml")

# feedparser asks xml.sax for libxml2's SAX driver first, which no dependency provides: each
# document then pays a failed import, a search of every sys.path entry, before falling back to
# expat. Naming none leaves xml.sax's default, expat, the reader every document gets anyway.
feedparser.api.PREFERRED_XML_PARSERS = []


def parse_xml(result: FetchResult, feed: FeedConfig) -> ParsedFeed:
    """Return the feed and its entries, or raise ParseError when the body is not a feed."""
    return read_document(run_feedparser(result, feed.name), result, feed)


def run_feedparser(result: FetchResult, name: str) -> Any:
    """Return what feedparser makes of the body under the response's headers, unchanged."""
    return _run_feedparser(result.body or b"", response_headers(result), name)


def read_document(document: Any, result: FetchResult, feed: FeedConfig) -> ParsedFeed:
    """Return the ParsedFeed for feedparser's result, or raise ParseError for a non-feed."""
    body = result.body or b""
    entries = [e for e in _get(document, "entries") or () if isinstance(e, dict)]
    version = str(_get(document, "version") or "")
    meta: Entry = _get(document, "feed") or {}
    if not entries:
        _check_empty_feed(document, version, meta, body, feed.name)
    loose = isinstance(_get(document, "bozo_exception"), xml.sax.SAXException)
    return assemble(meta, entries, version, result, feed, loose=loose)


def assemble(
    meta: Entry,
    entries: Sequence[Entry],
    version: str,
    result: FetchResult,
    feed: FeedConfig,
    *,
    loose: bool = False,
) -> ParsedFeed:
    """Return the ParsedFeed for feedparser-shaped feed data and entries (either reader's).

    ``loose`` says feedparser read a document that is not well-formed with its lenient parser,
    which leaves entities in ids (``a&amp;b``) that a well-formed read decodes (``a&b``): they
    are decoded, so that an item keeps its key when its feed breaks and mends.
    """
    inherited = _author(meta) if version.startswith("atom") else None
    return ParsedFeed(
        title=_title(meta),
        link=absolute(_get(meta, "link"), result.url),
        items=tuple(_item(entry, feed, result.url, inherited, loose) for entry in entries),
        format=version or "xml",
        hubs=_rel_links(meta, "hub", result.url),
        topic=next(iter(_rel_links(meta, "self", result.url)), None),
        hints=read_hints(meta, result.body or b""),
    )


def _rel_links(meta: Entry, rel: str, base: str) -> tuple[str, ...]:
    """Return the feed's own links of one relation (Atom, or atom:link in RSS), made absolute."""
    found = (
        absolute(_get(link, "href"), base)
        for link in _get(meta, "links") or ()
        if isinstance(link, dict) and fields.relation(_get(link, "rel")) == rel
    )
    return tuple(url for url in found if url is not None)


def _get(mapping: object, key: str) -> Any:
    """Return ``mapping[key]`` without feedparser's key aliases (and their warnings)."""
    return dict.get(mapping, key) if isinstance(mapping, dict) else None


def _run_feedparser(body: bytes, headers: dict[str, str], name: str) -> Any:
    """Run feedparser on the body; feedparser reports problems as ``bozo``, not by raising."""
    try:
        # HTML is turned into text by poster.text and never sent as HTML, so feedparser's
        # sanitizer and URI rewriting are skipped (4 to 6 times faster: bench/parse_options.py);
        # the URLs that are used are resolved in poster.parse.itemmedia instead.
        return feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # a raise from feedparser is a defect it has for this input
        raise ParseError(name, f"not a feed: feedparser failed: {exc!r}") from exc


def response_headers(result: FetchResult) -> dict[str, str]:
    """Return the HTTP headers feedparser needs to pick the character encoding."""
    # Without a Content-Type feedparser assumes ISO-8859-1; application/xml lets the XML
    # declaration or BOM decide, then UTF-8 (XML 1.0 §4.3.3). No Content-Location is given,
    # so feedparser leaves relative ids as written (stable keys whatever URL served the feed)
    # and the URLs that are used are resolved here against the fetched URL.
    return {"content-type": content_type(result) or "application/xml"}


def _check_empty_feed(document: Any, version: str, meta: Entry, body: bytes, name: str) -> None:
    """Raise ParseError unless a document without entries is still a readable, empty feed."""
    head = body[:2048].lower()
    if not version and (b"<html" in head or b"<!doctype html" in head):
        raise ParseError(name, "not a feed: got an HTML page (is the URL the feed's address?)")
    bozo = bool(_get(document, "bozo"))
    if is_empty_feed(version, bozo, meta):
        return
    if bozo:
        error = _get(document, "bozo_exception")
        raise ParseError(name, f"not a feed: {_describe(error, _lines_added(body))}")
    raise ParseError(name, "not a feed: no RSS, Atom or RDF root element")


def is_empty_feed(version: str, bozo: bool, meta: Entry) -> bool:
    """Tell whether a document without entries is a readable feed that has none yet."""
    return bool(version and not bozo) or bool(_title(meta))


def _id(entry: Entry, loose: bool) -> str | None:
    """Return the entry's id, its entities decoded when the lenient parser left them."""
    found = fields.string(_get(entry, "id"))
    return html.unescape(found) if loose and found and "&" in found else found


def _describe(error: object, added: int = 0) -> str:
    """Return a one-line description of feedparser's bozo exception, its line numbered as in
    the document (``added``: the lines feedparser put before it)."""
    if isinstance(error, xml.sax.SAXParseException):
        line = max((error.getLineNumber() or 1) - added, 1)
        return f"XML error at line {line}: {error.getMessage()}"
    return str(error) or type(error).__name__


_UTF16 = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


def _lines_added(body: bytes) -> int:
    """Return the lines feedparser puts before a document it parses: an XML declaration and
    a line break, when the document does not open with a declaration of its own."""
    encoding = _UTF16.get(body[:2])
    if encoding is not None:
        head = body[2:130].decode(encoding, "replace")
    else:
        head = body.removeprefix(b"\xef\xbb\xbf")[:64].decode("latin-1")
    return 0 if head.startswith("<?xml") else 1


def _item(
    entry: Entry, feed: FeedConfig, feed_base: str, inherited: str | None, loose: bool = False
) -> Item:
    """Return one normalized Item for a feedparser entry; its text is derived when first used."""
    base = _entry_base(entry, feed_base)
    raw_content, content_is_html = _richest_content(entry)
    title = _title(entry)
    link = absolute(_get(entry, "link"), base)
    summary_html = _get(_get(entry, "summary_detail"), "value")
    markup = (raw_content if content_is_html else "") + (
        summary_html if isinstance(summary_html, str) else ""
    )
    image, thumbnail = _pictures(entry, base, markup)
    return Item(
        key=item_key(
            feed.key,
            entry,
            id=_id(entry, loose),
            link=link,
            title=title,
            content=raw_content,
        ),
        title=title,
        link=link,
        body=Body(derive=partial(_body, entry, raw_content, content_is_html, base)),
        author=_author(entry) or inherited,
        published=from_struct(_get(entry, "published_parsed")),
        updated=from_struct(_get(entry, "updated_parsed")),
        tags=fields.unique_strings(_tag_names(entry)),
        image=image,
        thumbnail=thumbnail,
        enclosures=_enclosures(entry, base),
    )


def _body(entry: Entry, raw: str, is_html: bool, base: str) -> tuple[str, str, str]:
    """Return the entry's content as HTML and text, and its summary."""
    content_html, content_text = fields.from_html(raw, base) if is_html else fields.from_text(raw)
    return content_html, content_text, fields.summary_or_derived(_summary(entry), content_text)


def _entry_base(entry: Entry, feed_base: str) -> str:
    """Return the base URL of an entry: its xml:base resolved against the feed's URL."""
    details = [*(_get(entry, "content") or ()), _get(entry, "summary_detail")]
    details.append(_get(entry, "title_detail"))
    for detail in details:
        base = _get(detail, "base")
        if isinstance(base, str) and base:
            return absolute(base, feed_base) or feed_base
    return feed_base


def _is_html(detail: object) -> bool:
    """Tell whether a feedparser text construct holds HTML or XHTML."""
    kind = _get(detail, "type")
    return not isinstance(kind, str) or any(word in kind for word in _HTML_TYPES)


def _richest_content(entry: Entry) -> tuple[str, bool]:
    """Return the fullest body (content, else summary/description) and whether it is HTML."""
    details = [d for d in _get(entry, "content") or () if isinstance(_get(d, "value"), str)]
    details = [d for d in details if _get(d, "value").strip()]
    details.sort(key=lambda detail: not _is_html(detail))
    summary = _get(entry, "summary_detail")
    if not details and isinstance(_get(summary, "value"), str):
        details = [summary]
    if not details:
        return "", True
    return _get(details[0], "value"), _is_html(details[0])


def _summary(entry: Entry) -> str:
    """Return the plain text of the entry's own summary or description, if it has one."""
    # feedparser copies Atom content into "summary" without a summary_detail; that copy is
    # not a summary.
    detail = _get(entry, "summary_detail")
    value = _get(detail, "value")
    return fields.plain_text(value, _is_html(detail)) if isinstance(value, str) else ""


def _title(node: Entry) -> str:
    """Return a title as one line of plain text."""
    detail = _get(node, "title_detail")
    value = _get(detail, "value")
    if isinstance(value, str):
        return fields.plain_line(value, _is_html(detail))
    return fields.plain_line(_get(node, "title"))


def _author(node: Entry) -> str | None:
    """Return the author's name (the email address only when there is no name)."""
    detail = _get(node, "author_detail")
    name = fields.plain_line(_get(detail, "name") or _get(node, "author"))
    return name or fields.string(_get(detail, "email"))


def _tag_names(entry: Entry) -> list[object]:
    """Return the entry's category terms (or labels) in document order."""
    tags = _get(entry, "tags") or ()
    return [_get(tag, "term") or _get(tag, "label") for tag in tags]


def _media_contents(entry: Entry, base: str) -> list[tuple[Media, bool]]:
    """Return each media:content as Media, flagged True when it is a picture."""
    found = []
    for raw in _get(entry, "media_content") or ():
        url = absolute(_get(raw, "url"), base)
        if url is None:
            continue
        mime_type = fields.string(_get(raw, "type"))
        media = Media(
            url=url,
            mime_type=mime_type,
            length=parse_length(_get(raw, "filesize")),
            duration=parse_duration(_get(raw, "duration")),
        )
        found.append((media, is_image(mime_type, url, _get(raw, "medium"))))
    return found


def _links_enclosures(entry: Entry, base: str) -> list[Media]:
    """Return the entry's enclosures (RSS enclosure, Atom rel=enclosure) as Media."""
    found = []
    for link in _get(entry, "links") or ():
        url = absolute(_get(link, "href"), base)
        if _get(link, "rel") != "enclosure" or url is None:
            continue
        mime_type = fields.string(_get(link, "type"))
        found.append(Media(url, mime_type, parse_length(_get(link, "length"))))
    return found


def _thumbnails(entry: Entry, base: str) -> list[Media]:
    """Return the entry's media:thumbnail pictures."""
    urls = (absolute(_get(raw, "url"), base) for raw in _get(entry, "media_thumbnail") or ())
    return [Media(url) for url in urls if url]


def _pictures(entry: Entry, base: str, markup: str) -> tuple[Media | None, Media | None]:
    """Return the entry's best picture and a distinct thumbnail, in the documented order."""
    contents = [media for media, picture in _media_contents(entry, base) if picture]
    thumbnails = _thumbnails(entry, base)
    enclosures = [m for m in _links_enclosures(entry, base) if is_image(m.mime_type, m.url)]
    itunes_url = absolute(_get(_get(entry, "image"), "href"), base)
    itunes = [Media(itunes_url)] if itunes_url else []
    inline = content_images(markup, base)
    image = choose_image(chain(contents, enclosures, thumbnails, itunes, inline))
    others = [t for t in thumbnails if image is None or t.url != image.url]
    return image, choose_image(others)


def _enclosures(entry: Entry, base: str) -> tuple[Media, ...]:
    """Return enclosures and non-picture media:content, with itunes:duration filled in."""
    contents = [media for media, picture in _media_contents(entry, base) if not picture]
    duration = parse_duration(_get(entry, "itunes_duration"))
    media = unique_media([*_links_enclosures(entry, base), *contents])
    return tuple(_with_duration(m, duration) for m in media)


def _with_duration(media: Media, duration: int | None) -> Media:
    """Return the media with the episode's duration when it is sound or video without one."""
    if duration is None or media.duration is not None or is_image(media.mime_type, media.url):
        return media
    return Media(media.url, media.mime_type, media.length, duration, media.title)
