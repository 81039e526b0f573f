"""Give feedparser's UTF-8 rewrite of a document as pieces, without copying a UTF-8 body.

feedparser's ``convert_to_utf8`` decodes the whole document, replaces its XML declaration and
encodes it again: for a 10 MB body, three more copies of it at once. When the encoding it would
choose first is UTF-8 (or ASCII) and the whole body decodes so, the rewrite changes only the
head and the BOM; running ``convert_to_utf8`` on the head alone and taking the rest of the body
as it is gives the same bytes and the same outcome. Anything else goes through it whole.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from typing import Any

from feedparser.encodings import CharacterEncodingOverride, convert_to_utf8

from poster.parse.pieces import decodes, pieces

__all__ = ["utf8_pieces"]

_BOM = codecs.BOM_UTF8
_SAME_BYTES = frozenset({"utf-8", "ascii"})
"""Codecs whose decoding re-encodes to the very bytes it read, when it reads them all."""
_HEAD_LIMIT = 64 * 1024
_HEADS: dict[tuple[object, ...], tuple[bytes, dict[str, Any], str | None]] = {}
"""Each short head met, after its headers, what ``convert_to_utf8`` made of it, and the
codec it chose when that keeps every byte."""
_HEADS_KEPT = 256
_HEAD_KEPT = 256
"""The longest head kept: an XML declaration, and a little more."""


def utf8_pieces(
    body: bytes, headers: dict[str, str], outcome: dict[str, Any], *, utf8: bool | None = False
) -> Sequence[bytes | memoryview] | None:
    """Return ``convert_to_utf8(headers, body, outcome)`` as consecutive pieces of bytes.

    ``utf8`` says the body is already known to decode as UTF-8, which then is not checked again.
    None says that the XML parser is to tell, as it refuses bytes that are not UTF-8 when it
    reads the body as UTF-8: a body kept as it is under UTF-8 is not checked here, and one
    that is not UTF-8 but would be converted whole gives None.
    """
    start = len(_BOM) if body.startswith(_BOM) else 0
    cut = _head_end(body, start)
    if cut is not None and b"\x00" not in body[:4]:
        head, probe, name = _converted_head(headers, body[:cut])
        if name is not None and _kept_as_is(body, name, utf8):
            outcome.update(probe)
            return [head, *pieces(memoryview(body)[cut:])]
    if utf8 is None and not (body.isascii() or decodes(body, "utf-8")):
        return None
    return [convert_to_utf8(headers, body, outcome)]


def _converted_head(
    headers: dict[str, str], head: bytes
) -> tuple[bytes, dict[str, Any], str | None]:
    """Return ``convert_to_utf8(headers, head, probe)``, the probe it filled, and the name of
    the codec it chose first when that codec keeps every byte it reads (else None).

    Feeds share a few XML declarations and Content-Types: the conversion of each short head
    is made once, for as many as ``_HEADS_KEPT``, and each caller gets its own probe.
    """
    key = (*headers.items(), head)
    found = _HEADS.get(key)
    if found is None:
        probe: dict[str, Any] = {}
        found = convert_to_utf8(headers, head, probe), probe, _same_bytes_codec(probe)
        if len(head) <= _HEAD_KEPT and len(_HEADS) < _HEADS_KEPT:
            _HEADS[key] = found
    return found[0], dict(found[1]), found[2]


def _head_end(body: bytes, start: int) -> int | None:
    """Return where the head ends: past the first ``>`` and all that decides the encoding.

    feedparser reads the XML declaration's encoding with a pattern spanning the first line,
    and replaces the declaration up to the first ``>``. A head that ends past both, or whose
    first line holds no other ``encoding=``, gives the whole document's answers.
    """
    close = body.find(b">", start, start + _HEAD_LIMIT)
    if close < 0:
        return None
    cut = close + 1
    first_line_end = body.find(b"\n", start)
    if 0 <= first_line_end < cut:
        return cut
    line_end = first_line_end if first_line_end >= 0 else len(body)
    return cut if body.find(b"encoding=", cut, line_end) < 0 else None


def _same_bytes_codec(probe: dict[str, Any]) -> str | None:
    """Return the name of the codec a head's conversion chose first, when it keeps every byte
    it reads (``_SAME_BYTES``); None for another, or when the conversion overrode a choice."""
    chosen = probe.get("encoding")
    if not chosen or isinstance(probe.get("bozo_exception"), CharacterEncodingOverride):
        return None
    try:
        name: str = codecs.lookup(chosen).name
    except LookupError:
        return None
    return name if name in _SAME_BYTES else None


def _kept_as_is(body: bytes, name: str, utf8: bool | None) -> bool:
    """Tell whether the codec the head's conversion chose, which keeps every byte it reads,
    reads every byte of the body.

    ``utf8`` is True when the body is known to decode as UTF-8, None when the XML parser is
    to tell, and False when it is to be decoded here.
    """
    # ASCII bytes read alike in both; only other bytes need the decoder's look.
    if body.isascii():
        return True
    return name != "ascii" and ((utf8 is not False and name == "utf-8") or decodes(body, name))
