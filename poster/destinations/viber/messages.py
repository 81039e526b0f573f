"""Define the Channels Post API message types; their documented limits are in ``apilimits``.

Every limit comes from ``viber-channels-post-api.txt`` ("Message types"). A message's
``payload()`` is the JSON body without ``auth_token`` and ``from``: the destination adds those
(``body.envelope``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from poster.destinations.viber.apilimits import BODY_MAX_BYTES as BODY_MAX_BYTES
from poster.destinations.viber.apilimits import CONTACT_NAME_MAX as CONTACT_NAME_MAX
from poster.destinations.viber.apilimits import CONTACT_PHONE_MAX as CONTACT_PHONE_MAX
from poster.destinations.viber.apilimits import FILE_NAME_MAX as FILE_NAME_MAX
from poster.destinations.viber.apilimits import PICTURE_TEXT_MAX as PICTURE_TEXT_MAX
from poster.destinations.viber.apilimits import TEXT_MAX as TEXT_MAX
from poster.destinations.viber.apilimits import URL_MEDIA_MAX as URL_MEDIA_MAX
from poster.destinations.viber.apilimits import URL_TEXT_MAX as URL_TEXT_MAX
from poster.destinations.viber.apilimits import VIDEO_DURATION_MAX as VIDEO_DURATION_MAX
from poster.destinations.viber.body import encode as encode
from poster.destinations.viber.body import envelope as envelope
from poster.frozen import frozen

MESSAGE_TYPES = ("text", "picture", "video", "file", "url", "location", "contact", "sticker")


@frozen
class TextMessage:
    """A text post (``text`` at most 7000 characters)."""

    type: ClassVar[str] = "text"
    text: str

    def payload(self) -> dict[str, Any]:
        """Return the type-specific fields of the JSON body."""
        return {"type": self.type, "text": self.text}


@frozen
class PictureMessage:
    """A JPEG picture with a caption (``text`` at most 768, may be empty)."""

    type: ClassVar[str] = "picture"
    text: str
    media: str
    thumbnail: str | None = None

    def payload(self) -> dict[str, Any]:
        """Return the type-specific fields of the JSON body."""
        body: dict[str, Any] = {"type": self.type, "text": self.text, "media": self.media}
        if self.thumbnail:
            body["thumbnail"] = self.thumbnail
        return body


@frozen
class VideoMessage:
    """An MP4 video; ``size`` is required, ``duration`` at most 180 seconds."""

    type: ClassVar[str] = "video"
    media: str
    size: int
    duration: int | None = None
    thumbnail: str | None = None

    def payload(self) -> dict[str, Any]:
        """Return the type-specific fields of the JSON body."""
        body: dict[str, Any] = {"type": self.type, "media": self.media, "size": self.size}
        if self.duration is not None:
            body["duration"] = self.duration
        if self.thumbnail:
            body["thumbnail"] = self.thumbnail
        return body


@frozen
class FileMessage:
    """A file; ``size`` is required, ``file_name`` at most 256 with an extension."""

    type: ClassVar[str] = "file"
    media: str
    size: int
    file_name: str

    def payload(self) -> dict[str, Any]:
        """Return the type-specific fields of the JSON body."""
        return {
            "type": self.type,
            "media": self.media,
            "size": self.size,
            "file_name": self.file_name,
        }


@frozen
class UrlMessage:
    """A link (``media`` at most 2000) with an optional description (at most 120)."""

    type: ClassVar[str] = "url"
    media: str
    text: str = ""

    def payload(self) -> dict[str, Any]:
        """Return the type-specific fields of the JSON body."""
        body: dict[str, Any] = {"type": self.type, "media": self.media}
        if self.text:
            body["text"] = self.text
        return body


@frozen
class LocationMessage:
    """A map pin; latitude within ±90, longitude within ±180."""

    type: ClassVar[str] = "location"
    lat: float
    lon: float

    def payload(self) -> dict[str, Any]:
        """Return the type-specific fields of the JSON body."""
        return {"type": self.type, "location": {"lat": decimal(self.lat), "lon": decimal(self.lon)}}


def decimal(value: float) -> str:
    """Return ``value`` as a plain decimal string: ``53.9``, ``0.00001``, never ``1e-05``.

    The reference's "Location message" shows the coordinates as such strings (``"37.7898"``).
    """
    from decimal import Decimal  # here: only a location message needs it

    # repr is the shortest text that reads back as the same float; Decimal drops the exponent.
    return format(Decimal(repr(value)), "f")


@frozen
class ContactMessage:
    """A contact card (name at most 28, phone number at most 18 characters)."""

    type: ClassVar[str] = "contact"
    name: str
    phone_number: str

    def payload(self) -> dict[str, Any]:
        """Return the type-specific fields of the JSON body."""
        return {
            "type": self.type,
            "contact": {"name": self.name, "phone_number": self.phone_number},
        }


@frozen
class StickerMessage:
    """A Viber sticker by its numeric id."""

    type: ClassVar[str] = "sticker"
    sticker_id: int

    def payload(self) -> dict[str, Any]:
        """Return the type-specific fields of the JSON body."""
        return {"type": self.type, "sticker_id": self.sticker_id}


Message = (
    TextMessage
    | PictureMessage
    | VideoMessage
    | FileMessage
    | UrlMessage
    | LocationMessage
    | ContactMessage
    | StickerMessage
)
