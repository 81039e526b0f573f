"""Decide which message type an item can become and find the media each type needs.

Every limit cites the Channels Post API reference (``viber-channels-post-api.txt``, "Message
types"). Sizes are in decimal units, the stricter reading of "1 MB" and "100 kb".
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from functools import cache
from pathlib import PurePosixPath
from typing import Protocol
from urllib.parse import unquote, urlsplit

from poster.config import FeedConfig
from poster.destinations.viber.apilimits import FILE_NAME_MAX, URL_MEDIA_MAX, VIDEO_DURATION_MAX
from poster.frozen import replace
from poster.media.policy import ImageRule, MediaRules, describe
from poster.models import Item, Media
from poster.text import utf16_units

PICTURE_MAX_BYTES = 1_000_000
"""Picture ``media``: "Max size 1 MB"."""
THUMBNAIL_MAX_BYTES = 100_000
"""``thumbnail``: "Max size 100 kb"."""
MEDIA_MAX_BYTES = 50_000_000
"""Video and file ``media``: "Max size 50 MB"."""

_JPEG = frozenset({"image/jpeg"})
PICTURE = ImageRule(_JPEG, PICTURE_MAX_BYTES, extensions=(".jpg", ".jpeg"))
"""Picture ``media``: "Only JPEG format is supported", "Max size 1 MB", "The URL must have a
resource with a .jpeg file extension" (``.jpg`` names the same format)."""
THUMBNAIL = ImageRule(_JPEG, THUMBNAIL_MAX_BYTES, 400, (".jpg", ".jpeg"))
"""``thumbnail``: "Max size 100 kb. Recommended: 400x400. Only JPEG format is supported"."""
RULES = MediaRules(PICTURE, THUMBNAIL)


class Carrier(Protocol):
    """What the media rules read: an item, or the post rendered from it."""

    @property
    def link(self) -> str | None: ...
    @property
    def image(self) -> Media | None: ...
    @property
    def thumbnail(self) -> Media | None: ...
    @property
    def enclosures(self) -> tuple[Media, ...]: ...


_EXTRA_TYPES = (
    ("audio/mp4", ".m4a"),
    ("audio/x-m4a", ".m4a"),
    ("audio/ogg", ".ogg"),
    ("application/epub+zip", ".epub"),
)

_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}$")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")
_SPACES = re.compile(r"\s+")


_URI = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
"""The characters a URI holds as they are (RFC 3986 §2): reserved, unreserved and escapes."""


def sendable(url: str) -> str:
    """Return ``url`` as a URI the API takes, as a browser would send it.

    Feeds write spaces and letters of any script in their links and media URLs; in a URI each
    is percent-encoded as its UTF-8 bytes (RFC 3986 §2.1, §3.3) and a host in IDNA (UTS #46,
    as the media probe's client reaches it, so Viber fetches what poster probed). Escapes
    already there are kept, so an encoded URL stays as it is.
    """
    if _URI.fullmatch(url):
        return url
    import httpx  # here: only a URL to encode needs it

    try:
        return str(httpx.URL(url))
    except (httpx.InvalidURL, ValueError):
        return url


def web_url(url: str | None) -> bool:
    """Tell whether ``url`` is an absolute http(s) URL within the API's 2000 characters, once
    made ``sendable``."""
    if not url:
        return False
    url = sendable(url)
    if len(url) > URL_MEDIA_MAX:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _size_ok(length: int | None, cap: int) -> bool:
    """Tell whether a size, when known, is within ``cap`` bytes."""
    return length is None or 0 < length <= cap


def picture_media(item: Carrier) -> Media | None:
    """Return the item's image when the API takes it as a picture (JPEG, at most 1 MB)."""
    image = item.image
    if image and web_url(image.url) and PICTURE.fits(image):
        return image
    return None


def thumbnail_url(item: Carrier, *, or_image: bool = False) -> str | None:
    """Return the item's thumbnail URL when it is a JPEG of at most 100 kb.

    With ``or_image`` the item's own picture stands in when there is no separate thumbnail, as
    it does for a video, whose feed often gives its still as the only picture.
    """
    thumb = item.thumbnail or (item.image if or_image else None)
    if thumb and web_url(thumb.url) and _thumbnail_fits(thumb):
        return sendable(thumb.url)
    return None


def _thumbnail_fits(thumb: Media) -> bool:
    """Tell whether a thumbnail fits: a JPEG of 100 kb; its 400x400 is only a recommendation."""
    return PICTURE.fits(thumb) and _size_ok(thumb.length, THUMBNAIL_MAX_BYTES)


def _sized(media: Media) -> bool:
    """Tell whether an enclosure is reachable with the known size the API requires, within 50 MB."""
    return not media.failed and media.length is not None and _size_ok(media.length, MEDIA_MAX_BYTES)


def video_media(item: Carrier) -> Media | None:
    """Return the first MP4 enclosure with a known size, the only video the API takes."""
    return next((m for m in item.enclosures if m.is_mp4 and web_url(m.url) and _sized(m)), None)


def video_duration(media: Media) -> int | None:
    """Return a duration the API accepts (1-180 s), else ``None`` so none is shown."""
    if media.duration is not None and 0 < media.duration <= VIDEO_DURATION_MAX:
        return media.duration
    return None


def file_media(item: Carrier) -> tuple[Media, str] | None:
    """Return the first enclosure with a known size and a usable file name, with that name."""
    for media in item.enclosures:
        if web_url(media.url) and _sized(media):
            name = file_name(media)
            if name:
                return media, name
    return None


def file_name(media: Media) -> str | None:
    """Derive a file name with an extension, at most 256 characters, from URL, title and type.

    The API requires an extension; without one the receiving client may not open the file.
    """
    from_url = _clean_name(unquote(PurePosixPath(urlsplit(media.url).path).name))
    found = _EXTENSION.search(from_url)
    extension = found.group() if found else _mime_extension(media.mime_type)
    if not extension:
        return None
    stem = _clean_name(media.title or "") or from_url
    if stem.lower().endswith(extension.lower()):
        stem = stem[: -len(extension)]
    # Counted as the API counts text, in UTF-16 units: an emoji takes two.
    stem = _within_units(stem, FILE_NAME_MAX - utf16_units(extension)).rstrip(" .")
    return stem + extension if stem else None


def _within_units(text: str, most: int) -> str:
    """Return the longest start of ``text`` of at most ``most`` UTF-16 units."""
    total = 0
    for index, char in enumerate(text):
        total += 2 if ord(char) > 0xFFFF else 1
        if total > most:
            return text[:index]
    return text


def _clean_name(name: str) -> str:
    """Remove path separators, control and reserved characters from a file name."""
    return _SPACES.sub(" ", _UNSAFE_NAME.sub(" ", name)).strip(" .")


def _mime_extension(mime_type: str | None) -> str | None:
    """Return the usual extension for a MIME type, ignoring parameters."""
    if not mime_type:
        return None
    return _mime_table().guess_extension(mime_type.split(";", 1)[0].strip().lower())


@cache
def _mime_table() -> mimetypes.MimeTypes:
    """Return the built-in MIME table with a few audio and e-book types added, built once.

    Only the built-in table, so a file name never depends on the host's /etc/mime.types. Built
    on first use: the first table a process creates reads those files, a cost at start-up.
    """
    table = mimetypes.MimeTypes()
    for mime_type, extension in _EXTRA_TYPES:
        table.add_type(mime_type, extension)
    return table


def link_url(item: Carrier) -> str | None:
    """Return the item's link when a url message can carry it (http(s), at most 2000)."""
    return sendable(item.link) if item.link and web_url(item.link) else None


_AVAILABLE: dict[str, Callable[[Carrier], object]] = {
    "text": lambda item: True,
    "picture": picture_media,
    "video": video_media,
    "file": file_media,
    "url": link_url,
}


def choose_type(item: Item, feed: FeedConfig) -> str:
    """Return the message type this item becomes for this feed, falling back when data is missing.

    ``auto`` prefers a JPEG picture, then an MP4 video with a known size, then ``feed.fallback``.
    An explicit type whose required data is missing becomes ``feed.fallback`` too (url needs a
    link, else text).
    """
    if feed.fixed is not None:
        return feed.fixed.type
    if feed.type == "auto":
        if picture_media(item):
            return "picture"
        if video_media(item):
            return "video"
    else:
        available = _AVAILABLE.get(feed.type)
        if available is not None and available(item):
            return feed.type
    return "url" if feed.fallback == "url" and link_url(item) else "text"


def explain(item: Item, feed: FeedConfig) -> str | None:
    """Say why probed media did not make the item a picture or a video, and what it became."""
    if feed.fixed is not None or feed.type not in ("auto", "picture", "video"):
        return None
    chosen = choose_type(item, feed)
    if chosen in ("picture", "video"):
        return None
    image = item.image if feed.type != "video" else None
    video = None if feed.type == "picture" else next((m for m in item.enclosures if m.is_mp4), None)
    found = image if image is not None and image.probed else video
    if found is None or not found.probed:
        return None
    what = "image" if found is image else "video"
    return f"{what} {_unfit(found, what)}, posted as {chosen}"


def _unfit(media: Media, what: str) -> str:
    """Say what keeps probed media from being posted as it is."""
    if media.failed:
        return f"unreachable ({media.failed})"
    shown = describe(media)
    cap = PICTURE_MAX_BYTES if what == "image" else MEDIA_MAX_BYTES
    if what == "video" and not media.is_mp4:
        return f"is {shown}: only MP4 is taken"
    if what == "image" and not PICTURE.fits(replace(media, length=None, probed=False)):
        return f"is {shown}: only a JPEG at a .jpg/.jpeg URL is taken"
    if media.length is None:
        return f"is {shown}: its size is unknown"
    return f"is {shown}: over the {cap // 1_000_000} MB limit"


def possible_types(feed: FeedConfig) -> tuple[str, ...]:
    """Return every message type ``feed`` can produce, its fallbacks included."""
    if feed.fixed is not None:
        return (feed.fixed.type,)
    first = ("picture", "video") if feed.type == "auto" else (feed.type,)
    return tuple(dict.fromkeys((*first, feed.fallback, "text")))
