"""Define the frozen records that flow between the pipeline's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Media:
    """A linked media object: an image, an enclosure or an attachment."""

    url: str
    mime_type: str | None = None
    length: int | None = None
    duration: int | None = None
    title: str | None = None

    @property
    def is_jpeg(self) -> bool:
        """Tell whether the Channels Post API will take this as a picture (JPEG only)."""
        if self.mime_type:
            return self.mime_type.lower() in ("image/jpeg", "image/jpg", "image/pjpeg")
        path = self.url.split("?", 1)[0].split("#", 1)[0].lower()
        return path.endswith((".jpg", ".jpeg"))

    @property
    def is_mp4(self) -> bool:
        """Tell whether this is an MP4 video, the only video the API takes."""
        if self.mime_type:
            return self.mime_type.lower() in ("video/mp4", "video/x-m4v")
        path = self.url.split("?", 1)[0].split("#", 1)[0].lower()
        return path.endswith((".mp4", ".m4v"))


@dataclass(frozen=True)
class Item:
    """One normalized feed entry, whatever format it came from."""

    key: str
    title: str = ""
    link: str | None = None
    content_html: str = ""
    content_text: str = ""
    summary: str = ""
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    tags: tuple[str, ...] = ()
    image: Media | None = None
    thumbnail: Media | None = None
    enclosures: tuple[Media, ...] = ()

    @property
    def date(self) -> datetime | None:
        """Return the best date for ordering: published, else updated."""
        return self.published or self.updated


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed: its own title and link, and its items in document order."""

    title: str = ""
    link: str | None = None
    items: tuple[Item, ...] = ()
    format: str = ""


@dataclass(frozen=True)
class Validators:
    """What the previous response said, for conditional GET (RFC 9110 §13) and hashing."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one successful fetch.

    ``body`` is ``None`` when there is nothing new to parse: the server answered 304, or the
    body is byte-identical to the previous one (``unchanged``).
    """

    feed: str
    url: str
    status: int
    body: bytes | None
    validators: Validators
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    unchanged: bool = False
    fetched_at: datetime | None = None
    elapsed: float = 0.0

    @property
    def has_body(self) -> bool:
        """Tell whether this result carries a body worth parsing."""
        return self.body is not None


@dataclass(frozen=True)
class FeedMeta:
    """What templates may know about the feed an item came from."""

    name: str
    title: str = ""
    link: str | None = None
    url: str = ""
    tags: tuple[str, ...] = field(default=())
