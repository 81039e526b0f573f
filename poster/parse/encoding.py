"""Settle an XML feed's character encoding before either reader decodes it.

feedparser decodes a document with the encoding declared for it (RFC 3023: the HTTP charset,
the XML declaration) and, when that fails, with the first of UTF-8, windows-1252 and ISO-8859-2
that works on the whole document. Two common faults defeat that, and both are settled here, on
the bytes both readers get:

* a UTF-8 document with a few invalid bytes is read entirely as windows-1252, so every
  non-ASCII letter is garbled; instead only the bad bytes become U+FFFD;
* a UTF-8 document labelled with a single-byte charset ("windows-1252") is read as that
  charset, so "€" becomes "â‚¬"; instead it is read as UTF-8, as miniflux does.
"""

from __future__ import annotations

import codecs
import functools
import re

from poster.frozen import frozen, replace
from poster.models import FetchResult
from poster.parse.pieces import decodes

__all__ = ["CHARSET", "Settled", "declared_encodings", "declares_utf8", "repair_utf8", "settle"]

UTF8_CONTENT_TYPE = "application/xml; charset=utf-8"

_BOM_UTF8 = b"\xef\xbb\xbf"
# UTF-16/32 byte order marks and the "<?" of an undeclared UTF-16/32 document (XML 1.0 §F.1).
_WIDE_STARTS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\x00<", b"<\x00\x00\x00", b"\x00<", b"<\x00")
_XML_ENCODING = re.compile(
    rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']"""
)
CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?([^;\"'\s]+)[\"']?", re.IGNORECASE)
_ESCAPED = re.compile("[\udc80-\udcff]+")
_NON_ASCII_TEXT = re.compile("[^\x00-\x7f\udc80-\udcff]")
_UTF8_NAMES = frozenset({"utf-8", "utf_8", "utf8", "u8"})


@frozen
class Settled:
    """The fetch result both readers should decode, and what was done to get it."""

    result: FetchResult
    warnings: tuple[str, ...] = ()
    utf8: bool = False
    """Whether the result's body is known to decode as UTF-8: checked here, not to be again."""


def content_type(result: FetchResult) -> str:
    """Return the response's Content-Type, the one naming a charset first; "" for none."""
    header = {name.lower(): value for name, value in result.headers}
    found = [v for v in (result.content_type, header.get("content-type")) if v]
    return next((v for v in found if CHARSET.search(v)), found[0] if found else "")


def declared_charset(result: FetchResult) -> str | None:
    """Return the charset the response's Content-Type names, if any, in lower case."""
    found = CHARSET.search(content_type(result))
    return found.group(1).lower() if found else None


def settle(result: FetchResult, content_type: str) -> Settled:
    """Return the result to parse: UTF-8 mislabelled or slightly damaged made readable as UTF-8.

    ``content_type`` is the Content-Type feedparser is given (its charset, if any, counts).
    """
    body = result.body or b""
    if body.startswith(_WIDE_STARTS):
        return Settled(result)
    if body.isascii():
        return Settled(result)  # reads the same in UTF-8 and in any charset declared for it
    declared = declared_encodings(content_type, body)
    if not decodes(body, "utf-8"):
        return _repaired(result, body, declared)
    # The body is UTF-8: a name of UTF-8 needs no second decoding to tell.
    chosen = next((name for name in declared if name in _UTF8_NAMES or decodes(body, name)), None)
    if chosen is None or not _is_single_byte(chosen):
        return Settled(result, utf8=True)
    # Valid UTF-8 with non-ASCII text read as a single-byte charset is always mojibake: each
    # multi-byte sequence becomes a lead letter ("Ã", "â", "Ð") and continuation symbols. Text
    # truly in such a charset is practically never valid UTF-8 (miniflux reader/encoding).
    warning = f"declared {chosen} but is UTF-8; read as UTF-8"
    return Settled(_as_utf8(result, body), (warning,), utf8=True)


def declares_utf8(result: FetchResult, content_type: str) -> bool:
    """Tell whether ``settle`` gives the result as it is, as UTF-8, exactly when it is UTF-8.

    It does for a body neither ASCII nor in UTF-16 or UTF-32 whose encoding declared first
    names UTF-8; for another it may give the result as it is whatever the body holds.
    """
    body = result.body or b""
    if body.startswith(_WIDE_STARTS) or body.isascii():
        return False
    return declared_encodings(content_type, body)[0] in _UTF8_NAMES


def _repaired(result: FetchResult, body: bytes, declared: list[str]) -> Settled:
    """Return the body with its invalid UTF-8 bytes replaced, when UTF-8 is what it is in."""
    if any(decodes(body, name) for name in declared):
        return Settled(result)  # its declared charset reads it: not UTF-8
    if not any(is_utf8(name) for name in declared):
        return Settled(result)
    repaired = repair_utf8(body)
    if repaired is None:
        # A legacy charset mislabelled as UTF-8: feedparser's whole-document fallback reads
        # it better than a page of U+FFFD, in a charset it guesses, which may garble the text.
        return Settled(result, (MISLABELLED,))
    return Settled(_as_utf8(result, repaired[0].encode("utf-8")), (repaired[1],), utf8=True)


MISLABELLED = (
    "declared UTF-8 but is not UTF-8; read in a guessed legacy charset, which may garble it"
)
"""The note on a feed whose bytes are mostly not the UTF-8 it declares."""


def repair_utf8(body: bytes) -> tuple[str, str] | None:
    """Return the text with each run of invalid UTF-8 bytes as U+FFFD, and a note saying so.

    None when the bad bytes outnumber the good non-ASCII characters: then it is not UTF-8.
    """
    escaped = body.decode("utf-8", "surrogateescape")  # one lone surrogate per bad byte
    bad = sum(len(run) for run in _ESCAPED.findall(escaped))
    if bad >= len(_NON_ASCII_TEXT.findall(escaped)):
        return None
    noun = "byte" if bad == 1 else "bytes"
    return _ESCAPED.sub("\ufffd", escaped), f"{bad} invalid {noun} in UTF-8 replaced"


def declared_encodings(content_type: str, body: bytes) -> list[str]:
    """Return the encodings declared for the document, in the order feedparser tries them.

    RFC 3023 §3: an application/*xml charset overrides the XML declaration, which defaults to
    UTF-8; a text/* type is read in its charset or US-ASCII; feedparser then tries the XML
    declaration's encoding. A BOM says UTF-8 too.
    """
    # The declaration's encoding is written before its ">": the body up to the first ">" tells
    # as much as the whole. Feeds share a few of those and of Content-Types.
    end = body.find(b">", 0, _DECLARATION_LIMIT)
    head = body[: end + 1] if end >= 0 else body[:_DECLARATION_LIMIT]
    key = (content_type, head)
    found = _DECLARED.get(key)
    if found is None:
        found = _declared(content_type, head)
        if len(head) <= _HEAD_KEPT and len(_DECLARED) < _DECLARED_KEPT:
            _DECLARED[key] = found
    return list(found)


_DECLARATION_LIMIT = 1024
"""The bytes of a body looked at for its XML declaration."""
_DECLARED: dict[tuple[str, bytes], tuple[str, ...]] = {}
"""The encodings declared by each Content-Type and short head met."""
_DECLARED_KEPT = 256
_HEAD_KEPT = 256


def _declared(content_type: str, head: bytes) -> tuple[str, ...]:
    """Return the encodings ``declared_encodings`` gives for a body that starts with ``head``."""
    media, _, _ = content_type.partition(";")
    media = media.strip().lower()
    match = CHARSET.search(content_type)
    charset = match.group(1).lower() if match else ""
    found = _XML_ENCODING.match(head)
    xml = found.group(1).decode("ascii").lower() if found else ""
    if media.startswith("text/"):
        first = charset or "us-ascii"
    elif media.startswith("application/") and (media == "application/xml" or "+xml" in media):
        first = charset or xml or "utf-8"
    else:
        first = xml or "utf-8"
    bom = "utf-8" if head.startswith(_BOM_UTF8) else ""
    return tuple(dict.fromkeys(name for name in (first, xml, bom) if name))


def _as_utf8(result: FetchResult, body: bytes) -> FetchResult:
    """Return the result with ``body``, labelled so that both readers decode it as UTF-8."""
    return replace(result, body=body, content_type=UTF8_CONTENT_TYPE, headers=())


def is_utf8(name: str) -> bool:
    """Tell whether ``name`` means UTF-8, or US-ASCII of which UTF-8 is the usual reality."""
    return name in _UTF8_NAMES or name in ("us-ascii", "ascii")


@functools.cache
def _is_single_byte(name: str) -> bool:
    """Tell whether ``name`` is a charset of one byte per character (windows-1252, KOI8-R)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return False
    # Every byte is one character, and a UTF-8 pair is two of them.
    every_byte = bytes(range(256)).decode(info.name, "replace")
    return len(every_byte) == 256 and len(b"\xc3\xa9".decode(info.name, "replace")) == 2
