"""Say what a destination takes as an image, and how a kind opts in to probing and converting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import urlsplit

from poster.frozen import frozen
from poster.models import Media

if TYPE_CHECKING:
    from poster.config import FeedConfig
    from poster.models import Item

_JPEG_NAMES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
_BY_EXTENSION = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
    ".webp": "image/webp", ".mp4": "video/mp4", ".m4v": "video/mp4",
}  # fmt: skip


@frozen
class ImageRule:
    """Which images a destination takes: types, bytes, pixels and the URL's ending."""

    types: frozenset[str]
    max_bytes: int
    max_side: int | None = None
    """The longest side in pixels; None for no limit."""
    extensions: tuple[str, ...] = ()
    """Endings the URL's path must have; empty for any."""
    exact_ending: bool = False
    """Whether the link itself must end so, as given: no query or fragment after, same case."""

    def fits(self, media: Media) -> bool:
        """Tell whether ``media`` is taken as it is; probed media must have a known size."""
        if media.failed or type_of(media) not in self.types:
            return False
        if self.extensions and not self._ends_well(media.url):
            return False
        if media.length is None:
            return not media.probed and self._side_ok(media)
        return 0 < media.length <= self.max_bytes and self._side_ok(media)

    def _ends_well(self, url: str) -> bool:
        """Tell whether ``url`` ends in one of the extensions, as ``exact_ending`` asks."""
        return (url if self.exact_ending else path_of(url)).endswith(self.extensions)

    def _side_ok(self, media: Media) -> bool:
        """Tell whether the known pixel size is within ``max_side``."""
        if self.max_side is None or media.width is None or media.height is None:
            return True
        return max(media.width, media.height) <= self.max_side


@frozen
class MediaRules:
    """The images a kind takes as its picture, and as a thumbnail."""

    picture: ImageRule
    thumbnail: ImageRule | None = None


@runtime_checkable
class MediaAware(Protocol):
    """A kind whose items' media are probed, and converted when they do not fit."""

    @property
    def media_rules(self) -> MediaRules:
        """Return the images this kind takes."""
        ...

    def explain(self, item: Item, feed: FeedConfig) -> str | None:
        """Say why probed media did not make the item a picture or a video, if it did not."""
        ...

    def choose_type(self, item: Item, feed: FeedConfig) -> str:
        """Return the message type the item becomes for this feed."""
        ...


def strictest(rules: Sequence[ImageRule]) -> ImageRule:
    """Return the rule a converted JPEG must meet to fit every one of ``rules``."""
    sides = [rule.max_side for rule in rules if rule.max_side is not None]
    return ImageRule(
        frozenset.intersection(*(rule.types for rule in rules)),
        min(rule.max_bytes for rule in rules),
        min(sides) if sides else None,
    )


def type_of(media: Media) -> str | None:
    """Return the media's MIME type, normalized, from the record or else from the URL's ending."""
    if media.mime_type:
        name = media.mime_type.split(";", 1)[0].strip().lower()
        return _JPEG_NAMES.get(name, name)
    path = path_of(media.url)
    return next((mime for ext, mime in _BY_EXTENSION.items() if path.endswith(ext)), None)


def path_of(url: str) -> str:
    """Return the lowercased path of ``url``, without query or fragment."""
    try:
        return urlsplit(url).path.lower()
    except ValueError:
        return ""


def describe(media: Media) -> str:
    """Describe media for a person: ``PNG, 1.8 MB``, ``MP4, 61 MB``, ``WEBP``."""
    kind = (type_of(media) or "unknown type").split("/")[-1].upper()
    if media.length is None:
        return kind
    megabytes = media.length / 1_000_000
    size = f"{megabytes:.1f} MB" if megabytes < 10 else f"{megabytes:.0f} MB"
    if media.length < 100_000:
        size = f"{media.length / 1000:.0f} KB"
    if media.length < 1000:
        size = f"{media.length} bytes"
    return f"{kind}, {size}"
