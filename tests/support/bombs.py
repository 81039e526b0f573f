"""Build the bodies hostile feed servers send: compression bombs and malicious documents.

Each builder returns bytes ready to serve. The compression bombs inflate to ``BOMB_SIZE`` bytes
from about a thousandth of that; building them costs about a second, so they are made once.
"""

from __future__ import annotations

import functools
import operator
import struct
import zlib
from html import escape

BOMB_SIZE = 1 << 30
"""Bytes a compression bomb inflates to: 1 GiB."""
_BLOCK = 1 << 20
_ZEROS = bytes(_BLOCK)


@functools.cache
def _raw_bomb() -> tuple[bytes, int, int]:
    """Return a raw deflate stream of BOMB_SIZE zero bytes, with its CRC-32 and Adler-32."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    # A full flush resets the compressor, so every 1 MiB block compresses to the same bytes:
    # compressing one block and repeating it is 1,000 times faster than compressing 1 GiB.
    block = deflater.compress(_ZEROS) + deflater.flush(zlib.Z_FULL_FLUSH)
    blocks = BOMB_SIZE // _BLOCK
    stream = block * blocks + deflater.flush(zlib.Z_FINISH)
    return stream, _crc32_of_zeros(blocks), adler32_of_zeros(BOMB_SIZE)


def _crc32_of_zeros(blocks: int) -> int:
    """Return the CRC-32 of ``blocks`` runs of ``_ZEROS`` without reading 1 MiB per run.

    CRC-32 is linear over GF(2), so going on over one more run maps the running value ``v`` to
    ``crc32(_ZEROS, 0)`` XOR the images of ``v``'s set bits: 33 runs read instead of ``blocks``.
    """
    base = zlib.crc32(_ZEROS)
    images = [zlib.crc32(_ZEROS, 1 << bit) ^ base for bit in range(32)]
    crc = 0
    for _ in range(blocks):
        crc = functools.reduce(
            operator.xor, (image for bit, image in enumerate(images) if crc >> bit & 1), base
        )
    return crc


def adler32_of_zeros(size: int) -> int:
    """Return the Adler-32 (RFC 1950 §8.2) of ``size`` zero bytes.

    Each zero byte leaves the sum of bytes at 1 and adds that 1 to the sum of sums.
    """
    return (size % 65521) << 16 | 1


def gzip_bomb() -> bytes:
    """Return a gzip member (RFC 1952) that inflates to BOMB_SIZE zero bytes."""
    stream, crc, _ = _raw_bomb()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + stream + struct.pack("<II", crc, BOMB_SIZE & 0xFFFFFFFF)


def zlib_bomb() -> bytes:
    """Return a zlib stream (RFC 1950), HTTP's ``deflate``, that inflates to BOMB_SIZE zeros."""
    stream, _, adler = _raw_bomb()
    return b"\x78\xda" + stream + struct.pack(">I", adler)


def raw_deflate_bomb() -> bytes:
    """Return a raw deflate stream (RFC 1951), as some servers send ``deflate``."""
    return _raw_bomb()[0]


def rss(items: list[tuple[str, bytes]], title: bytes = b"Hostile", doctype: bytes = b"") -> bytes:
    """Return an RSS 2.0 document of ``(guid, title bytes)`` items; titles are put in as given."""
    body = b"".join(
        b"<item><guid isPermaLink='false'>%s</guid><title>%s</title>"
        b"<link>https://hostile.example.org/%s</link></item>" % (guid.encode(), text, guid.encode())
        for guid, text in items
    )
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n%s<rss version="2.0"><channel>'
        b"<title>%s</title><link>https://hostile.example.org/</link>%s</channel></rss>"
        % (doctype, title, body)
    )


def entity_bomb() -> bytes:
    """Return the "billion laughs" document: ten nested entities, each ten of the one below."""
    lines = [b'<!ENTITY lol0 "lol">']
    lines += [
        b'<!ENTITY lol%d "%s">' % (n, b"".join(b"&lol%d;" % (n - 1) for _ in range(10)))
        for n in range(1, 10)
    ]
    doctype = b"<!DOCTYPE rss [\n" + b"\n".join(lines) + b"\n]>\n"
    return rss([("laughs-1", b"&lol9;")], doctype=doctype)


def xxe(target: str) -> bytes:
    """Return a document whose item title is an external entity naming the local file ``target``."""
    doctype = b'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://%s">]>\n' % escape(target).encode()
    return rss([("xxe-1", b"Read: &xxe;")], doctype=doctype)


def deep_xml(depth: int = 100_000) -> bytes:
    """Return an RSS document whose item holds ``depth`` nested elements."""
    title = b"<title>Deep</title>"
    nested = b"<x>" * depth + b"deep" + b"</x>" * depth
    return rss([("deep-1", b"Deep")]).replace(title, title + nested)


def deep_json(depth: int = 100_000) -> bytes:
    """Return a JSON Feed whose first item nests ``depth`` arrays."""
    nested = b"[" * depth + b"]" * depth
    return (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "Deep",'
        b' "items": [{"id": "deep-1", "title": "Deep", "tags": %s}]}' % nested
    )


def invalid_utf8() -> bytes:
    """Return a UTF-8 document whose one item title has two runs of bytes that are not UTF-8."""
    title = (
        "Café — ".encode() + b"\xff\xfe" + " news: 5 € or \u0441\u0442\u043e ".encode() + b"\xc3"
    )
    return rss([("broken-1", title + b" more")])


def huge_title(size: int = 10_000_000) -> bytes:
    """Return a document with one item whose title is ``size`` bytes of words."""
    words = b"word " * (size // 5)
    return rss([("huge-1", words)])
