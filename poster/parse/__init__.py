"""Turn a fetched body into a ParsedFeed of normalized Items (RSS, Atom, RDF, JSON Feed, JSON).

The one entry is :func:`parse`; it does no I/O and raises only ``ParseError``.
"""

from __future__ import annotations

import json
import re

from poster.config import FeedConfig
from poster.errors import ParseError
from poster.frozen import replace
from poster.models import FetchResult, ParsedFeed
from poster.parse.depth import MAX_DEPTH, too_deep
from poster.parse.encoding import (
    declared_charset,
    declares_utf8,
    is_utf8,
    repair_utf8,
    settle,
)
from poster.parse.itemcap import MAX_ITEMS, over_cap

__all__ = ["parse"]

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"


def parse(result: FetchResult, feed: FeedConfig) -> ParsedFeed:
    """Return the feed and its items in document order, or raise ParseError for a non-feed.

    ``feed.format`` picks the reader: ``xml``, ``jsonfeed``, ``json`` (mapped by ``feed.json``)
    or ``auto``, which reads JSON when the body starts with ``{`` or ``[`` and XML otherwise.
    """
    body = result.body or b""
    if not body.strip(_WHITESPACE):
        raise ParseError(feed.name, "not a feed: the body is empty")
    kind = feed.format
    if kind == "auto":
        kind = "json" if _starts_like_json(body) else "xml"
    if kind not in ("json", "jsonfeed"):
        try:
            return _parse_xml(result, feed)
        except UnicodeError as exc:
            # feedparser lets a codec's own error through: "punycode" or "undefined" named as
            # the document's encoding; the readers take every other failure to decode.
            message = f"not a feed: the encoding it declares cannot read it ({exc})"
            raise ParseError(feed.name, message) from exc
        except ParseError:
            if feed.format == "auto" and (scalar := _json_scalar(body)):
                raise ParseError(feed.name, f"not a feed: the body is {scalar}") from None
            raise
    # Imported on first use: a pass whose feeds are all XML needs neither JSON reader, nor the
    # records of a JSON mapping.
    from poster.parse.jsonfeed import is_jsonfeed, parse_jsonfeed
    from poster.parse.mapped import parse_mapped

    document, warnings = _load_json(body, feed.name, declared_charset(result))
    if kind == "jsonfeed" or (feed.format == "auto" and is_jsonfeed(document)):
        return _warned(parse_jsonfeed(document, result, feed), warnings)
    if feed.json is not None:
        return _warned(parse_mapped(document, result, feed, feed.json), warnings)
    if feed.format == "json":
        raise ParseError(feed.name, 'format "json" needs a json table mapping items and fields')
    raise ParseError(
        feed.name,
        "not a feed: the JSON is not a JSON Feed (no https://jsonfeed.org/version/ version); "
        'to read another JSON API set format = "json" and a json table mapping its items',
    )


def _parse_xml(result: FetchResult, feed: FeedConfig) -> ParsedFeed:
    """Read RSS, Atom or RDF with the ElementTree reader, or with feedparser when it cannot."""
    # The ElementTree reader gives feedparser's own result, faster (see fastxml).
    # Imported on first use: feedparser and urllib.request add about 50 ms to start-up, which
    # a pass that finds every feed unchanged does not need.
    from poster.parse.direct import parse_direct
    from poster.parse.fastxml import parse_fast
    from poster.parse.xmlfeed import parse_xml, response_headers

    headers = response_headers(result)
    content_type = headers["content-type"]
    # The direct reader refuses absurd depth as it reads; it gives None for what it does not
    # fully understand, and the two readers that run feedparser's handlers read it instead.
    unchecked = declares_utf8(result, content_type)
    if unchecked:
        # expat reads a body declared UTF-8 as UTF-8 and refuses one that is not, which
        # settling would have repaired: read whole, the body is one settle leaves as it is.
        direct = parse_direct(result, feed, utf8=None, headers=headers)
        if direct is not None:
            return _warned(direct, ())
    settled = settle(result, content_type)
    # A UTF-8 body left as it is was read above as it would be now.
    read = unchecked and settled.utf8 and settled.result is result
    result = settled.result
    direct = None if read else parse_direct(result, feed, utf8=settled.utf8)
    if direct is not None:
        return _warned(direct, settled.warnings)
    # Both pay per open element, the tree and feedparser alike: refuse absurd depth first.
    if too_deep(result.body or b""):
        raise ParseError(feed.name, f"not a feed: XML elements nested more than {MAX_DEPTH} deep")
    # feedparser's handlers read every item of a document: one listing more than the cap is
    # cut before the first item past it (feedparser reads a document cut short as it can).
    body, listed = _cut_after_cap(result.body or b"")
    if listed:
        result = replace(result, body=body)
    fast = parse_fast(result, feed)
    parsed = fast if fast is not None else parse_xml(result, feed)
    return _warned(parsed, settled.warnings, listed)


_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")


def _cut_after_cap(body: bytes) -> tuple[bytes, int]:
    """Return ``body`` cut before its first item past ``MAX_ITEMS``, and how many it lists
    (0 when they are within the cap, and the body is whole)."""
    if body.count(b"<item") + body.count(b"<entry") <= MAX_ITEMS:  # a quick look first
        return body, 0
    starts = [found.start() for found in _ITEM_START.finditer(body)]
    if len(starts) <= MAX_ITEMS:
        return body, 0
    return body[: starts[MAX_ITEMS]], len(starts)


def _warned(parsed: ParsedFeed, warnings: tuple[str, ...], listed: int = 0) -> ParsedFeed:
    """Return the feed with what was repaired in its document noted, its items capped.

    ``listed`` is how many items a document cut short listed in all.
    """
    if len(parsed.items) > MAX_ITEMS or listed:
        capped = (over_cap(max(listed, len(parsed.items))),)
        parsed = replace(parsed, items=parsed.items[:MAX_ITEMS], warnings=parsed.warnings + capped)
    return replace(parsed, warnings=warnings + parsed.warnings) if warnings else parsed


def _json_scalar(body: bytes) -> str | None:
    """Say what JSON value other than an object or array ``body`` is (``null``, a string, a
    number), if it is one: an API's answer where a feed was expected."""
    if len(body) > 4096:
        return None
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if value is None or isinstance(value, bool):
        return f"JSON {json.dumps(value)}"
    kinds = {str: "a JSON string", int: "a JSON number", float: "a JSON number"}
    return kinds.get(type(value))


def _starts_like_json(body: bytes) -> bool:
    """Tell whether the first character after a BOM and white space opens a JSON value.

    JSON in UTF-16 or UTF-32, which ``json.loads`` reads (RFC 8259 §8.1), is looked at in its
    own encoding.
    """
    if body[:1] == b"<":  # markup, whichever encoding json.detect_encoding would tell
        return False
    encoding = json.detect_encoding(body[:4])
    if encoding != "utf-8":
        head = body[:64].decode(encoding, "replace").removeprefix("\ufeff")
        return head.lstrip(" \t\r\n")[:1] in ("{", "[")
    start = body.removeprefix(_BOM).lstrip(_WHITESPACE)[:1]
    return start in (b"{", b"[")


def _load_json(
    body: bytes, name: str, charset: str | None = None
) -> tuple[object, tuple[str, ...]]:
    """Return the parsed JSON body and what was repaired, or raise ParseError if it is broken.

    ``charset`` is the one the response declares: it reads a body that is not UTF-8.
    """
    try:
        document, repairs = _decode_json(body, charset)
    except json.JSONDecodeError as exc:
        raise ParseError(
            name, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except UnicodeDecodeError as exc:
        declared = f", nor {charset} as declared" if charset else ""
        raise ParseError(name, f"invalid JSON: not UTF-8 text ({exc.reason}){declared}") from exc
    except RecursionError as exc:
        raise ParseError(name, "invalid JSON: nested too deeply") from exc
    except _NotJson as exc:
        raise ParseError(name, f"invalid JSON: {exc}") from exc
    except ValueError as exc:  # Python reads no integer of over 4,300 digits
        raise ParseError(name, "invalid JSON: a number too long to read") from exc
    # The escape is looked for in the bytes; in UTF-16 or UTF-32 they are not ASCII, so such a
    # document is always looked through.
    if json.detect_encoding(body[:4]) == "utf-8" and not _SURROGATE.search(body):
        return document, repairs
    # An escape such as "\ud800" alone, not one of a pair, is no character: it could be neither
    # stored nor shown.
    try:
        cleaned = _without_lone_surrogates(document)
    except RecursionError as exc:
        raise ParseError(name, "invalid JSON: nested too deeply") from exc
    if cleaned == document:
        return document, repairs
    return cleaned, (*repairs, "lone surrogate escapes replaced with U+FFFD")


def _decode_json(body: bytes, charset: str | None) -> tuple[object, tuple[str, ...]]:
    """Return the JSON body decoded, with bytes that are not UTF-8 repaired and noted.

    JSON exchanged between systems is UTF-8 (RFC 8259 §8.1), so UTF-8 is tried first, whatever
    is declared (a server that labels all it sends ISO-8859-1 would garble UTF-8); a body that
    is not UTF-8 is read in the charset the response declares, else kept but its bad bytes.
    """
    try:
        # json.loads detects UTF-8 (with or without BOM), UTF-16 and UTF-32 (RFC 8259 §8.1).
        return json.loads(body, parse_constant=_not_json), ()
    except UnicodeDecodeError:
        if json.detect_encoding(body) != "utf-8":
            raise
        text = _in_declared(body, charset)
        if text is not None:
            note = f"not UTF-8: read in {charset}, the charset the response declares"
            return json.loads(text.removeprefix("\ufeff"), parse_constant=_not_json), (note,)
        repaired = repair_utf8(body)
        if repaired is None:
            raise
    return json.loads(repaired[0].removeprefix("\ufeff"), parse_constant=_not_json), (repaired[1],)


def _in_declared(body: bytes, charset: str | None) -> str | None:
    """Return ``body`` read in ``charset``, or None when none is declared or it cannot."""
    if charset is None or is_utf8(charset):  # UTF-8 was tried already
        return None
    try:
        return body.decode(charset)
    except (LookupError, UnicodeError):  # "undefined" raises a UnicodeError of its own
        return None


class _NotJson(ValueError):
    """A constant Python reads in JSON text that JSON does not have."""


def _not_json(constant: str) -> object:
    """Refuse NaN and Infinity, which Python reads but JSON does not have (RFC 8259 §6)."""
    raise _NotJson(f"{constant} is not a JSON number")


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
"""A surrogate escape: a pair of them is one character, a lone one none; rare, so looked for."""


def _without_lone_surrogates(value: object) -> object:
    """Return ``value`` with each lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value
