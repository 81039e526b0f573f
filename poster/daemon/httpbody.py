"""Read a callback request's body, sized by Content-Length or chunked, bounded by a cap.

RFC 9112 §7.1: a chunked body is a run of ``size-in-hex[;ext] CRLF data CRLF`` chunks ended by
a zero-size chunk and optional trailer lines. A body over the cap is read on and dropped, up to
``DRAIN`` bytes more, so the client still reads the answer; past that the connection is closed.
"""

from __future__ import annotations

import re
from io import BufferedIOBase

from poster.frozen import frozen

DRAIN = 1024 * 1024
"""Bytes of an oversized body read and dropped beyond the cap before the connection is closed."""
MAX_LINE = 4096
"""The longest chunk-size or trailer line taken."""
STEP = 64 * 1024
_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


@frozen
class Body:
    """A request's body, or the note that it was over the cap and dropped."""

    data: bytes
    too_large: bool = False
    whole: bool = True
    """Whether the whole body was read, so the connection can take another request."""


def read_sized(rfile: BufferedIOBase, length: int, limit: int, drain_to: int | None = None) -> Body:
    """Read a body of ``length`` bytes; drop one over ``limit``, reading it up to ``drain_to``."""
    if length <= limit:
        return Body(rfile.read(length))
    whole = length <= (limit + DRAIN if drain_to is None else drain_to)
    if whole:
        drain(rfile, length)
    return Body(b"", too_large=True, whole=whole)


def read_chunked(rfile: BufferedIOBase, limit: int, *, keep: bool = True) -> Body | None:
    """Read a chunked body; drop it when it is over ``limit``; None when it is malformed.

    Without ``keep`` every chunk is read and dropped: the body comes back empty.

    The chunks go into one buffer, so a body sent a byte a chunk takes no more memory than one
    sent whole; its size lines and line ends may add at most ``overhead(limit)`` bytes, which
    bounds how long reading it takes. A body past either bound is dropped as too large.
    """
    kept = bytearray()
    total = framing = 0
    most = overhead(limit)
    while True:
        line = rfile.readline(MAX_LINE + 1)
        size = _chunk_size(line)
        if size is None:
            return None
        if size == 0:
            break
        total += size
        framing += len(line) + 2
        if total > limit + DRAIN or framing > most:
            return Body(b"", too_large=True, whole=False)
        if total > limit or not keep:
            kept.clear()
            drain(rfile, size)
        else:
            got = rfile.read(size)
            if len(got) != size:
                return None
            kept += got
        if rfile.read(2) != b"\r\n":
            return None
    if not _trailers(rfile):
        return None
    if total > limit:
        return Body(b"", too_large=True)
    return Body(bytes(kept))


def overhead(limit: int) -> int:
    """Return the most bytes of size lines and line ends a chunked body of ``limit`` may carry.

    An eighth of the cap, and 64 KiB at least: chunks of 100 bytes and more always fit.
    """
    return max(STEP, limit // 8)


def _chunk_size(line: bytes) -> int | None:
    """Return the size a chunk-size line gives, ignoring extensions; None when it is not one."""
    if len(line) > MAX_LINE or not line.endswith(b"\r\n"):
        return None
    text = line[:-2].split(b";", 1)[0].strip(b" \t")
    return int(text, 16) if _SIZE.fullmatch(text) else None


def _trailers(rfile: BufferedIOBase) -> bool:
    """Read the trailer lines up to the empty one; tell whether they were well formed."""
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE or not line.endswith(b"\r\n"):
            return False
        if line == b"\r\n":
            return True


def drain(rfile: BufferedIOBase, size: int) -> None:
    """Read ``size`` bytes and drop them, a step at a time."""
    while size > 0:
        got = rfile.read(min(size, STEP))
        if not got:
            return
        size -= len(got)
