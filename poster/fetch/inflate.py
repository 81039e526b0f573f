"""Undo a body's Content-Encoding in bounded pieces, so a small body cannot balloon in memory.

A gzip or deflate body of 1 MB may inflate to 1 GB; decoding a whole received chunk at once
holds all of that before any cap is checked. Here input goes in at most ``PIECE`` bytes at a
time and each call gives back at most ``PIECE`` bytes, so the reader can stop at its cap.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

import httpx

PIECE = 16 * 1024
_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW = -zlib.MAX_WBITS


def decoded(raw: Iterable[bytes], encoding: str | None) -> Iterator[bytes]:
    """Yield the body with its Content-Encoding undone, in pieces of at most ``PIECE`` bytes."""
    pieces: Iterator[bytes] = iter(raw)
    names = [name.strip().lower() for name in (encoding or "").split(",")]
    # Codings are listed in the order they were applied (RFC 9110 §8.4); undo the last first.
    for name in reversed(names):
        if name in ("gzip", "x-gzip"):
            pieces = _inflate(pieces, _GZIP)
        elif name == "deflate":
            pieces = _inflate(pieces, None)
        # Like httpx, leave codings it cannot undo (identity, or ones never asked for) as they are.
    return pieces


def _inflate(pieces: Iterator[bytes], wbits: int | None) -> Iterator[bytes]:
    """Inflate a stream; with ``wbits`` None, its header tells zlib-wrapped from raw deflate."""
    head = b""
    inflater = None
    for data in pieces:
        if inflater is None:
            head += data
            if wbits is None and len(head) < 2:
                continue
            inflater = _inflater(wbits, head)
            data, head = head, b""
        yield from _feed(inflater, data)
        if inflater.eof:
            return  # bytes after the end of the stream are ignored, as httpx does
    if inflater is None and head:
        yield from _feed(_inflater(wbits, head), head)


def _inflater(wbits: int | None, head: bytes) -> zlib._Decompress:
    """Return a decompressor for ``wbits``, or for the kind of deflate stream ``head`` starts."""
    if wbits is None:
        # "deflate" means zlib-wrapped (RFC 9110 §8.4.1.2), yet some servers send it raw.
        wrapped = len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
        wbits = _ZLIB if wrapped else _RAW
    return zlib.decompressobj(wbits)


def _feed(inflater: zlib._Decompress, data: bytes) -> Iterator[bytes]:
    """Feed ``data`` in slices and yield the output, never more than ``PIECE`` bytes at a time."""
    view = memoryview(data)
    try:
        for start in range(0, len(view), PIECE):
            tail: bytes | memoryview = view[start : start + PIECE]
            while True:
                out = inflater.decompress(tail, PIECE)
                if out:
                    yield out
                if inflater.eof:
                    return
                tail = inflater.unconsumed_tail
                # A full piece may leave output pending inside zlib even with no input left.
                if not tail and len(out) < PIECE:
                    break
    except zlib.error as exc:
        raise httpx.DecodingError(str(exc)) from exc
