"""Turn an image's bytes into a JPEG that fits a rule, refusing anything that could blow up.

Pillow decodes; before it does, the pixel count read from the header (our own reading, then
Pillow's) must be under ``MAX_PIXELS``, and Pillow's own decompression-bomb guard stays on.
"""

from __future__ import annotations

import io

from PIL import Image

from poster.errors import MediaError
from poster.frozen import frozen
from poster.media.policy import ImageRule
from poster.media.sniff import sniff

MAX_PIXELS = 25_000_000
"""The most pixels an image may have to be decoded: 100 MB as RGBA, a 6000x4000 photo fits."""
FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
"""The only decoders Pillow may use here."""
LARGEST_SIDE = 2048
"""Where a rule sets no side limit, the longest side kept: more only costs bytes on a phone."""
_QUALITIES = (85, 75, 65)
_SHRINK = 0.75

# Pillow warns above this and refuses above twice it; our check below refuses first.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@frozen
class Converted:
    """A JPEG made to fit a rule."""

    data: bytes
    width: int
    height: int


def to_jpeg(data: bytes, rule: ImageRule, url: str) -> Converted:
    """Return ``data`` as a JPEG within ``rule``; raise ``MediaError`` when it cannot be."""
    found = sniff(data[:65536])
    if found.width is not None and found.height is not None:
        _check_pixels(found.width, found.height, url)
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            _check_pixels(image.width, image.height, url)
            return _fit(_flat(image, rule), rule, url)
    except Image.DecompressionBombError as exc:
        raise MediaError(url, f"image too large to decode safely ({exc})") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise MediaError(url, f"image cannot be decoded ({type(exc).__name__})") from exc


def _check_pixels(width: int, height: int, url: str) -> None:
    """Refuse an image with more than ``MAX_PIXELS`` before it is decoded."""
    if width * height > MAX_PIXELS:
        raise MediaError(url, f"image is {width}x{height}, over the {MAX_PIXELS:,} pixel cap")


def _flat(image: Image.Image, rule: ImageRule) -> Image.Image:
    """Decode the first frame at a reduced size, on white where it was transparent."""
    side = rule.max_side or LARGEST_SIDE
    image.draft("RGB", (side, side))  # a JPEG decodes at 1/2, 1/4 or 1/8 scale: less memory
    image.thumbnail((side, side))
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _fit(image: Image.Image, rule: ImageRule, url: str) -> Converted:
    """Encode at falling quality, then smaller, until the JPEG is within ``rule.max_bytes``."""
    while True:
        for quality in _QUALITIES:
            out = io.BytesIO()
            image.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= rule.max_bytes:
                return Converted(out.getvalue(), image.width, image.height)
        if min(image.size) <= 16:
            raise MediaError(url, f"no JPEG of it fits {rule.max_bytes} bytes")
        size = (max(1, int(image.width * _SHRINK)), max(1, int(image.height * _SHRINK)))
        image = image.resize(size, Image.Resampling.LANCZOS)
