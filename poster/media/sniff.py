"""Tell a media file's type and pixel size from its first bytes, without decoding it."""

from __future__ import annotations

import struct

from poster.frozen import frozen

# Start-of-frame markers (ITU T.81 Table B.1): every one but DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_MP4_BRANDS = {b"qt  ": "video/quicktime", b"M4A ": "audio/mp4", b"M4B ": "audio/mp4"}
_HEIF_BRANDS = {b"avif": "image/avif", b"avis": "image/avif", b"heic": "image/heic"}


@frozen
class Sniffed:
    """What the first bytes say: the MIME type and, for images, the pixel size."""

    mime_type: str | None = None
    width: int | None = None
    height: int | None = None


def sniff(head: bytes) -> Sniffed:
    """Return the type (and image size) the magic bytes of ``head`` show."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image/jpeg", *_jpeg_size(head))
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return Sniffed("image/png", width, height)
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return Sniffed("image/gif", width, height)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image/webp", *_webp_size(head))
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska, whose web profile is WebM
        return Sniffed("video/webm")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return Sniffed(_MP4_BRANDS.get(brand) or _HEIF_BRANDS.get(brand) or "video/mp4")
    return Sniffed(_other(head))


def _other(head: bytes) -> str | None:
    """Return the type of a few other formats worth naming in a message."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[:2] == b"BM":
        return "image/bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return None


def _jpeg_size(head: bytes) -> tuple[int | None, int | None]:
    """Walk the JPEG's marker segments to its frame header (ITU T.81 B.2.2)."""
    at = 2
    while at + 9 <= len(head):
        if head[at] != 0xFF:
            return None, None
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        (length,) = struct.unpack(">H", head[at + 2 : at + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", head[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None, None


def _webp_size(head: bytes) -> tuple[int | None, int | None]:
    """Read the canvas size of a lossy, lossless or extended WebP (RFC 9649 §2.5-2.7)."""
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30:
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(head) >= 30:
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None, None
