"""Compose the Viber message of a rendered post, its text cut to fit the type and the body cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from poster.destinations.viber.apilimits import BODY_MAX_BYTES
from poster.destinations.viber.apilimits import text_limit as text_limit
from poster.destinations.viber.messages import (
    ContactMessage,
    FileMessage,
    LocationMessage,
    Message,
    PictureMessage,
    StickerMessage,
    TextMessage,
    UrlMessage,
    VideoMessage,
    encode,
    envelope,
)
from poster.destinations.viber.typechoice import (
    Carrier,
    file_media,
    link_url,
    picture_media,
    sendable,
    thumbnail_url,
    video_duration,
    video_media,
)
from poster.errors import RenderError
from poster.text import truncate, utf16_units

if TYPE_CHECKING:
    from poster.models import Fixed, Post

# Stand-ins as long as real credentials, so the size check covers the envelope too.
_SENDER = "x" * 32
_TOKEN = "x" * 64

Maker = Callable[[str], Message]


def compose(post: Post) -> Message:
    """Return the message of the post's type; the text is cut to fit the type and the body cap.

    The type comes from ``choose_type``, so the media it needs is present; should it not be,
    the item goes out as text rather than as an invalid payload.
    """
    if post.fixed is not None:
        return fixed_message(post.fixed)
    kind, text = post.type, post.text
    special = _MAKERS[kind](post) if kind in _MAKERS else None
    sent_as = kind if special else "text"
    maker: Maker = special or TextMessage
    message = fit(text, text_limit(sent_as), maker, allow_empty=special is not None)
    if message is None:
        reason = "the template rendered nothing" if not text else "no cut fits the body cap"
        raise RenderError(post.feed, post.key, f"cannot make a {sent_as} message: {reason}")
    return message


def fixed_message(fixed: Fixed) -> Message:
    """Return the Viber message of a feed's fixed location, contact or sticker."""
    from poster.fixed import Contact, Location  # here: only a feed with a fixed message has one

    if isinstance(fixed, Location):
        return LocationMessage(fixed.lat, fixed.lon)
    if isinstance(fixed, Contact):
        return ContactMessage(fixed.name, fixed.phone_number)
    return StickerMessage(fixed.sticker_id)


def _picture(item: Carrier) -> Maker | None:
    """Return a maker of picture messages with the item's JPEG image, if it has one."""
    image = picture_media(item)
    if image is None:
        return None
    thumbnail = thumbnail_url(item)
    return lambda text: PictureMessage(text, sendable(image.url), thumbnail)


def _video(item: Carrier) -> Maker | None:
    """Return a maker of the video message for the item's MP4 enclosure; it has no text."""
    video = video_media(item)
    if video is None or video.length is None:
        return None
    message = VideoMessage(
        sendable(video.url),
        video.length,
        video_duration(video),
        thumbnail_url(item, or_image=True),
    )
    return lambda text: message


def _file(item: Carrier) -> Maker | None:
    """Return a maker of the file message for the item's first sized enclosure; no text."""
    found = file_media(item)
    if found is None or found[0].length is None:
        return None
    message = FileMessage(sendable(found[0].url), found[0].length, found[1])
    return lambda text: message


def _url(item: Carrier) -> Maker | None:
    """Return a maker of url messages for the item's link, if a url message can carry it."""
    link = link_url(item)
    if link is None:
        return None
    return lambda text: UrlMessage(link, text)


_MAKERS: dict[str, Callable[[Carrier], Maker | None]] = {
    "picture": _picture,
    "video": _video,
    "file": _file,
    "url": _url,
}


def fit(text: str, limit: int, make: Maker, *, allow_empty: bool) -> Message | None:
    """Return the message with the longest word-boundary cut of ``text`` that fits.

    A cut fits when it is within ``limit`` UTF-16 units and the whole JSON body, envelope
    included, is within ``BODY_MAX_BYTES``. ``None`` when nothing valid fits.
    """

    def fits(candidate: str) -> bool:
        if not candidate and not allow_empty:
            return False
        return utf16_units(candidate) <= limit and _body_size(make(candidate)) <= BODY_MAX_BYTES

    first = truncate(text, limit)
    if fits(first):
        return make(first)
    best: str | None = None
    low, high = 0, len(first) - 1
    while low <= high:
        middle = (low + high) // 2
        candidate = truncate(text, middle)
        if fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return None if best is None else make(best)


def _body_size(message: Message) -> int:
    """Return the size in bytes of the whole JSON body that would carry ``message``."""
    return len(encode(envelope(message, sender=_SENDER, auth_token=_TOKEN)))
