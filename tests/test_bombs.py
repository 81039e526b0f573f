"""Check that the compression bombs the hostile feeds serve are what they claim to be.

The bombs (``support.bombs``) are built by repeating one compressed block; this inflates them
with zlib, as a client would, to prove that each is about 1 MB on the wire for 1 GiB inflated.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from support import bombs

_ZEROS = bytes(1 << 20)


def test_the_bombs_are_small_and_inflate_to_a_gibibyte() -> None:
    # What the limits held against: about 1 MB on the wire for each 1 GiB inflated.
    raw, body = bombs.raw_deflate_bomb(), bombs.gzip_bomb()
    assert len(body) < 2 * 1024 * 1024
    # The gzip bomb is inflated whole, and zlib checks its trailer: the CRC-32 and the size of
    # the inflated bytes (RFC 1952 §2.3). Its deflate stream is the raw bomb.
    inflated = inflate(body, 31)
    assert (inflated.size, inflated.ended, inflated.zeros) == (bombs.BOMB_SIZE, True, True)
    assert body[len(body) - len(raw) - 8 : -8] == raw
    # The zlib bomb wraps that same stream; beyond it an inflater checks only the header and
    # the trailer (RFC 1950 §2.2): the header must start a stream zlib reads, the trailer must
    # hold the Adler-32 of the inflated bytes. Zeros keep its first sum at 1, so the sums of
    # BOMB_SIZE zeros are those of BOMB_SIZE mod 65521 zeros (RFC 1950 §8.2).
    body = bombs.zlib_bomb()
    assert len(body) < 2 * 1024 * 1024
    trailer = struct.pack(">I", zlib.adler32(bytes(inflated.size % 65521)))
    header = len(body) - len(raw) - len(trailer)
    assert body[header:] == raw + trailer
    start = zlib.decompressobj(15).decompress(body[: header + (1 << 16)], 1 << 20)
    assert start == bytes(1 << 20)


@dataclass(frozen=True)
class Inflated:
    """What a compressed stream inflated to: its size, whether it ended, whether all zeros."""

    size: int
    ended: bool
    zeros: bool


def inflate(body: bytes, wbits: int) -> Inflated:
    """Return how many bytes ``body`` inflates to, whether its stream ended, and if all zeros.

    Output comes a megabyte at a time: the inflater reuses memory the last megabyte freed, where
    whole 64 KiB inputs would each inflate to 64 MiB of fresh pages.
    """
    inflater = zlib.decompressobj(wbits)
    size, zeros, rest = 0, True, body
    while not inflater.eof:
        out = inflater.decompress(rest, len(_ZEROS))
        if not out and not rest:
            break
        size += len(out)
        zeros = zeros and out == _ZEROS[: len(out)]
        rest = inflater.unconsumed_tail
    return Inflated(size, inflater.eof, zeros)
