"""Define the records of a feed's items and of the posts rendered from them.

``poster.models`` names them too; they live apart so that a command which only reads the
configuration and the state, such as ``status``, never builds their classes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from poster.frozen import field, frozen

if TYPE_CHECKING:
    from poster.models import Fixed

_new = object.__new__
_LOCK_MAKING = threading.Lock()
"""Held while a body makes its own lock, so that two threads make one between them."""


@frozen
class Media:
    """A linked media object: an image, an enclosure or an attachment."""

    url: str
    mime_type: str | None = None
    length: int | None = None
    duration: int | None = None
    title: str | None = None
    width: int | None = None
    height: int | None = None
    probed: bool = False
    """Whether ``mime_type`` and ``length`` come from the media itself rather than the feed."""
    failed: str | None = None
    """Why the media could not be probed (unreachable, refused): no destination should fetch it."""

    @classmethod
    def of(cls, url: str, mime_type: str | None, length: int | None) -> Media:
        """Return the Media of a feed's enclosure (a URL, its type and size) as ``Media(...)``."""
        # The other fields keep their defaults, which the class holds: the instance stores only
        # these three, in half the time of the init (a feed's enclosures come by the thousand).
        media = _new(cls)
        fields = media.__dict__
        fields["url"] = url
        fields["mime_type"] = mime_type
        fields["length"] = length
        return media

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


class Body:
    """An item's content as HTML, plain text and summary, derived only when first asked for.

    Turning HTML into text is the costliest part of reading a feed, and most items of a pass
    are already known and never rendered, so parsers hand over a function instead of results.
    With ``own_summary``, which gives the item's own summary alone ("" when it has none), the
    summary is derived without the content: templates mostly show the summary, and turning a
    long content into text is the costliest part of a render. ``derive`` then takes that
    summary, once made, as its keyword ``own``. Both are called with the body's ``args``.
    """

    __slots__ = ("_args", "_derive", "_lock", "_own", "_own_summary", "_parts")

    def __init__(
        self,
        html: str = "",
        text: str = "",
        summary: str = "",
        *,
        derive: Callable[..., tuple[str, str, str]] | None = None,
        own_summary: Callable[[], str] | None = None,
    ) -> None:
        self._derive = derive
        self._parts = None if derive is not None else (html, text, summary)
        self._own_summary = own_summary if derive is not None else None
        self._args: tuple[object, ...] = ()
        self._own: str | None = None
        self._lock: threading.Lock | None = None

    @classmethod
    def deferred(
        cls,
        derive: Callable[..., tuple[str, str, str]],
        own_summary: Callable[..., str] | None,
        *args: object,
    ) -> Body:
        """Return a body derived by ``derive(*args)``, its own summary by ``own_summary(*args)``."""
        # A parser makes one for each of a feed's items, by the thousand: without the init's
        # keywords, and without a partial function for each of the two.
        body = _new(cls)
        body._derive = derive
        body._parts = None
        body._own_summary = own_summary
        body._args = args
        body._own = None
        body._lock = None
        return body

    def _guard(self) -> threading.Lock:
        """Return the lock of the body's derivation, made when it is first needed."""
        # Most bodies are never derived: each makes its lock when it is, not when it is made.
        lock = self._lock
        if lock is None:
            with _LOCK_MAKING:
                lock = self._lock
                if lock is None:
                    lock = self._lock = threading.Lock()
        return lock

    @property
    def parts(self) -> tuple[str, str, str]:
        """Return (html, text, summary), deriving them once."""
        if self._parts is None:
            with self._guard():
                if self._parts is None and self._derive is not None:
                    own, args = self._own, self._args
                    self._parts = (
                        self._derive(*args) if own is None else self._derive(*args, own=own)
                    )
                    self._derive = self._own_summary = None
                    self._args = ()
        assert self._parts is not None
        return self._parts

    @property
    def summary(self) -> str:
        """Return the summary, without deriving the content when the item has its own."""
        if self._parts is None and self._own_summary is not None:
            with self._guard():
                if self._own is None and self._own_summary is not None:
                    self._own = self._own_summary(*self._args)
            if self._own:
                return self._own
        return self.parts[2]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Body) and self.parts == other.parts

    def __hash__(self) -> int:
        return hash(self.parts)

    def __repr__(self) -> str:
        return "Body(...)" if self._parts is None else f"Body{self._parts!r}"


def _body(html: str, text: str, summary: str) -> Body:
    """Return a body of the given parts; text missing beside HTML is derived from it."""
    if html and not text:
        return Body(derive=lambda: (html, _text_of(html), summary))
    return Body(html, text, summary)


def _text_of(html: str) -> str:
    """Turn HTML into text, loading the HTML parser only when a body is first derived."""
    from poster.htmltext import html_to_text

    return html_to_text(html)


@frozen
class Item:
    """One normalized feed entry, whatever format it came from.

    ``content_html``, ``content_text`` and ``summary`` come from ``body``; pass them directly, or
    a lazy ``Body`` built by a parser.
    """

    key: str
    title: str
    link: str | None
    author: str | None
    published: datetime | None
    updated: datetime | None
    tags: tuple[str, ...]
    image: Media | None
    thumbnail: Media | None
    enclosures: tuple[Media, ...]
    body: Body = field(repr=False)

    def __init__(
        self,
        key: str,
        title: str = "",
        link: str | None = None,
        content_html: str = "",
        content_text: str = "",
        summary: str = "",
        author: str | None = None,
        published: datetime | None = None,
        updated: datetime | None = None,
        tags: tuple[str, ...] = (),
        image: Media | None = None,
        thumbnail: Media | None = None,
        enclosures: tuple[Media, ...] = (),
        body: Body | None = None,
    ) -> None:
        values = {
            "key": key, "title": title, "link": link, "author": author,
            "published": published, "updated": updated, "tags": tags, "image": image,
            "thumbnail": thumbnail, "enclosures": enclosures,
            "body": body or _body(content_html, content_text, summary),
        }  # fmt: skip
        # One update of the instance's dict instead of a frozen setattr per field: a feed's
        # items are built by the thousand, and this was a third of the cost of each.
        self.__dict__.update(values)

    @classmethod
    def of(
        cls,
        key: str,
        title: str,
        link: str | None,
        body: Body,
        author: str | None,
        published: datetime | None,
        updated: datetime | None,
        tags: tuple[str, ...],
        image: Media | None,
        thumbnail: Media | None,
        enclosures: tuple[Media, ...],
    ) -> Item:
        """Return the Item of every field, given in order, as ``Item(...)`` would build it."""
        # The parsers build items by the thousand; without keyword arguments and defaults to
        # sort out, this takes a third of the time of the init, which checks nothing more, and
        # storing each field takes less than building a dict of them to copy.
        item = _new(cls)
        fields = item.__dict__
        fields["key"] = key
        fields["title"] = title
        fields["link"] = link
        fields["author"] = author
        fields["published"] = published
        fields["updated"] = updated
        fields["tags"] = tags
        fields["image"] = image
        fields["thumbnail"] = thumbnail
        fields["enclosures"] = enclosures
        fields["body"] = body
        return item

    @property
    def content_html(self) -> str:
        """Return the item's richest content as HTML (relative URLs made absolute)."""
        return self.body.parts[0]

    @property
    def content_text(self) -> str:
        """Return the content as clean plain text."""
        return self.body.parts[1]

    @property
    def summary(self) -> str:
        """Return the item's summary as plain text (the start of the content without one)."""
        return self.body.summary

    @property
    def date(self) -> datetime | None:
        """Return the best date for ordering: published, else updated."""
        return self.published or self.updated

    def stub(self) -> Item:
        """Return the item without its content and media: enough to name it in a report."""
        return Item(self.key, self.title, self.link, published=self.published, updated=self.updated)


@frozen
class FeedMeta:
    """What templates may know about the feed an item came from."""

    name: str
    title: str = ""
    link: str | None = None
    url: str = ""
    tags: tuple[str, ...] = field(default=())


@frozen
class Post:
    """An item rendered for one kind of destination: its type, its text uncut, and its media.

    A destination kind composes its own message from a post, under its own limits.
    """

    type: str
    text: str
    feed: str
    key: str
    title: str = ""
    link: str | None = None
    image: Media | None = None
    thumbnail: Media | None = None
    enclosures: tuple[Media, ...] = ()
    fixed: Fixed | None = None

    @classmethod
    def of(cls, item: Item, type: str, text: str, feed: str) -> Post:
        """Return the post of ``item`` rendered as ``type`` with ``text``."""
        return cls(
            type, text, feed, item.key, item.title, item.link,
            item.image, item.thumbnail, item.enclosures,
        )  # fmt: skip
