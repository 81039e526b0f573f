"""Undo a body's Content-Encoding in bounded pieces, so a small body cannot balloon in memory.

A gzip or deflate body of 1 MB may inflate to 1 GB; decoding a whole received chunk at once
holds all of that before any cap is checked. Here input goes in at most ``PIECE`` bytes at a
time and each call gives back at most ``PIECE`` bytes, so the reader can stop at its cap.
"""

from __future__ import annotations

import zlib
from collections.abc import Generator, Iterable, Iterator

import httpx

PIECE = 16 * 1024
_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW = -zlib.MAX_WBITS
_MAGIC = b"\x1f\x8b"
"""The first bytes of every gzip member (RFC 1952 §2.3.1)."""


class UnaskedCoding(httpx.UnsupportedProtocol):
    """The body came in a content coding poster did not ask for and cannot undo."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        super().__init__(
            f"the server sent a body encoded as {coding}, which poster did not ask for"
        )


def decoded(raw: Iterable[bytes], encoding: str | None, *, strict: bool = True) -> Iterator[bytes]:
    """Yield the body with its Content-Encoding undone, in pieces of at most ``PIECE`` bytes.

    A coding other than gzip, deflate and identity raises ``UnaskedCoding``: poster asks for
    those only, and any other would reach the parser still encoded. With ``strict`` False it is
    left as it is, as httpx leaves it.
    """
    pieces: Iterator[bytes] = iter(raw)
    names = [name.strip().lower() for name in (encoding or "").split(",")]
    # Codings are listed in the order they were applied (RFC 9110 §8.4); undo the last first.
    for name in reversed(names):
        if name in ("gzip", "x-gzip"):
            pieces = _inflate(pieces, _GZIP)
        elif name == "deflate":
            pieces = _inflate(pieces, None)
        elif name not in ("", "identity") and strict:
            raise UnaskedCoding(name[:40])
    return pieces


def _inflate(pieces: Iterator[bytes], wbits: int | None) -> Iterator[bytes]:
    """Inflate a stream; with ``wbits`` None, its header tells zlib-wrapped from raw deflate.

    A gzip body may hold several members, each a whole gzip stream (RFC 1952 §2.2); every one
    is inflated. A stream that stops before its end is a body cut short.
    """
    head = b""
    inflater: zlib._Decompress | None = None
    ended = False
    for data in pieces:
        while data:
            if inflater is None:
                head, data = head + data, b""
                if len(head) < 2:
                    break
                if ended and (wbits != _GZIP or head[:2] != _MAGIC):
                    return  # bytes after the end of the stream are ignored, as httpx does
                inflater = _inflater(wbits, head)
                data, head = head, b""
            data = yield from _feed(inflater, data)
            if inflater.eof:
                inflater, ended = None, True
    if head and not ended:
        inflater = _inflater(wbits, head)
        yield from _feed(inflater, head)
    if inflater is not None and not inflater.eof:
        raise httpx.RemoteProtocolError("the compressed body was cut short before its end")


def _inflater(wbits: int | None, head: bytes) -> zlib._Decompress:
    """Return a decompressor for ``wbits``, or for the kind of deflate stream ``head`` starts."""
    if wbits is None:
        # "deflate" means zlib-wrapped (RFC 9110 §8.4.1.2), yet some servers send it raw.
        wrapped = len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
        wbits = _ZLIB if wrapped else _RAW
    return zlib.decompressobj(wbits)


def _feed(inflater: zlib._Decompress, data: bytes) -> Generator[bytes, None, bytes]:
    """Feed ``data`` in slices and yield the output, never more than ``PIECE`` bytes at a time.

    Return the input left after the end of the stream, if it ended.
    """
    view = memoryview(data)
    try:
        for start in range(0, len(view), PIECE):
            tail: bytes | memoryview = view[start : start + PIECE]
            while True:
                out = inflater.decompress(tail, PIECE)
                if out:
                    yield out
                if inflater.eof:
                    return inflater.unused_data + view[start + PIECE :]
                tail = inflater.unconsumed_tail
                # A full piece may leave output pending inside zlib even with no input left.
                if not tail and len(out) < PIECE:
                    break
    except zlib.error as exc:
        raise httpx.DecodingError(str(exc)) from exc
    return b""
