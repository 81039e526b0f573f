"""Hand a large document to decoders and parsers in bounded pieces instead of all at once.

expat copies whatever it is given into a buffer of its own, and a whole-document decode holds
a second copy of the text beside the bytes: for a 10 MB body, tens of megabytes at the moment
memory peaks. Slices of a memoryview cost neither.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator

PIECE = 256 * 1024
"""Bytes handed over at a time: large enough that the per-call cost does not show."""


def pieces(data: bytes | memoryview, size: int = PIECE) -> Iterator[memoryview]:
    """Yield ``data`` as consecutive slices of at most ``size`` bytes, without copying it."""
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield view[start : start + size]


def decodes(data: bytes, encoding: str) -> bool:
    """Tell whether a text encoding called ``encoding`` exists and decodes all of ``data``.

    A document may name any codec Python has: ``base64``, ``zlib_codec`` or ``rot13`` are no
    text encodings, and ``utf-16`` refuses a body without its byte-order mark.
    """
    try:
        if not codecs.lookup(encoding)._is_text_encoding:
            return False
        if len(data) <= PIECE:
            # A single piece is decoded at once: no decoder to make, no final call.
            data.decode(encoding)
            return True
        decoder = codecs.getincrementaldecoder(encoding)()
        for piece in pieces(data):
            decoder.decode(piece)
        decoder.decode(b"", True)
    except (UnicodeError, LookupError, ValueError):
        return False
    return True
