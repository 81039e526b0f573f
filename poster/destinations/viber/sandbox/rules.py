"""Validate Channels Post API request bodies the way the reference says the real API does.

Every limit comes from ``viber-channels-post-api.txt`` ("Sending a message", "Message types",
"Error Codes"). The module is independent of ``poster.destinations.viber.messages`` on purpose:
the sandbox checks a client against the reference, not against the client's own reading of it.

Decisions the reference leaves open, made here and kept strict so client bugs surface:

- a required field that is absent, ``null`` or an empty string is *missing* (status 4), except
  the picture caption, which the reference says may be empty;
- a present field with the wrong type, shape or length is *bad* (status 3);
- lengths count Unicode code points, as Python's ``len`` does;
- ``size`` of a video or file is a positive whole number of bytes, at most the 50 MB the
  reference allows for the media itself;
- a ``from`` that is not a channel member, or a member who is not a superadmin, is bad data
  ("Only the superadmins' ID should be used as the sender ID", "Get Account Info");
- a location coordinate given as a string is a plain decimal like the reference's ``"37.7898"``
  and ``"-122.3942"``: ``"1e-05"`` or ``"1_0"`` is bad data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from poster.frozen import frozen

OK = 0
INVALID_URL = 1
INVALID_AUTH_TOKEN = 2
BAD_DATA = 3
MISSING_DATA = 4
WEBHOOK_NOT_SET = 10
TOO_MANY_REQUESTS = 12

BODY_MAX_BYTES = 30 * 1024
"""The whole JSON body, envelope included, must stay within 30 KB (Viber's REST API limit on
the total JSON size of a request; the channels reference text does not repeat it)."""

MEDIA_MAX_BYTES = 50 * 1024 * 1024
"""Videos and files may be at most 50 MB ("Video message", "File message")."""

MESSAGE_TYPES = ("text", "picture", "video", "file", "location", "contact", "sticker", "url")

_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
"""A coordinate as a string, written as the reference's examples are ("Location message")."""


@frozen
class Rejection:
    """Why the API refuses a request: an error code and a message in words."""

    status: int
    status_message: str


class _Refused(Exception):
    """Carry a rejection out of nested field checks."""

    def __init__(self, rejection: Rejection) -> None:
        self.rejection = rejection
        super().__init__(rejection.status_message)


def _missing(message: str) -> _Refused:
    """Return a refusal for a required field that is absent (status 4)."""
    return _Refused(Rejection(MISSING_DATA, message))


def _bad(message: str) -> _Refused:
    """Return a refusal for a field with a wrong value (status 3)."""
    return _Refused(Rejection(BAD_DATA, message))


def _shown(value: Any) -> str:
    """Quote a value for an error message, cut short so one message stays one line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_sender(body: Mapping[str, Any], members: Sequence[Mapping[str, str]]) -> Rejection | None:
    """Return why ``from`` cannot post to the channel, or None when a superadmin sends."""
    sender = body.get("from")
    if sender is None or sender == "":
        return Rejection(
            MISSING_DATA, "from is required: the id of a channel superadmin (get_account_info)"
        )
    if not isinstance(sender, str):
        return Rejection(BAD_DATA, f"from must be a string member id, got {_shown(sender)}")
    member = next((m for m in members if m.get("id") == sender), None)
    if member is None:
        return Rejection(
            BAD_DATA,
            f"from {sender!r} is not a member of this channel; "
            "use a superadmin id from get_account_info members",
        )
    if member.get("role") != "superadmin":
        return Rejection(
            BAD_DATA,
            f"from {sender!r} has role {member.get('role')!r}; only superadmins may post",
        )
    return None


def check_message(body: Mapping[str, Any]) -> Rejection | None:
    """Return why the type-specific part of a post is refused, or None when it is valid."""
    kind = body.get("type")
    if kind is None or kind == "":
        return Rejection(MISSING_DATA, f"type is required: one of {', '.join(MESSAGE_TYPES)}")
    if not isinstance(kind, str) or kind not in _CHECKS:
        return Rejection(
            BAD_DATA, f"type {_shown(kind)} is not a message type; use one of {', '.join(_CHECKS)}"
        )
    try:
        _CHECKS[kind](body)
    except _Refused as refused:
        return refused.rejection
    return None


def _string(
    fields: Mapping[str, Any], key: str, limit: int, *, name: str = "", empty_ok: bool = False
) -> str | None:
    """Return a string field within ``limit`` characters, None when absent; refuse anything else."""
    name = name or key
    value = fields.get(key)
    if value is None or (value == "" and not empty_ok):
        return None
    if not isinstance(value, str):
        raise _bad(f"{name} must be a string, got {_shown(value)}")
    if len(value) > limit:
        raise _bad(f"{name} is {len(value)} characters long; the limit is {limit}")
    return value


def _required_string(
    fields: Mapping[str, Any], key: str, limit: int, *, name: str = "", empty_ok: bool = False
) -> str:
    """Return a required string field within ``limit`` characters."""
    value = _string(fields, key, limit, name=name, empty_ok=empty_ok)
    if value is None:
        raise _missing(f"{name or key} is required")
    return value


def _url(
    fields: Mapping[str, Any], key: str, *, required: bool, limit: int = BODY_MAX_BYTES
) -> str | None:
    """Return an absolute http(s) URL field, None when optional and absent."""
    value = _required_string(fields, key, limit) if required else _string(fields, key, limit)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in value:
        raise _bad(f"{key} must be an absolute http or https URL, got {_shown(value)}")
    return value


def _whole(fields: Mapping[str, Any], key: str) -> int | None:
    """Return a whole-number field, None when absent; refuse floats, strings and booleans."""
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{key} must be a whole number, got {_shown(value)}")
    return value


def _size(fields: Mapping[str, Any]) -> None:
    """Check the required byte size of a video or file (at most 50 MB)."""
    size = _whole(fields, "size")
    if size is None:
        raise _missing("size is required: the media's size in bytes")
    if size <= 0:
        raise _bad(f"size must be a positive number of bytes, got {size}")
    if size > MEDIA_MAX_BYTES:
        raise _bad(f"size is {size} bytes; media may be at most 50 MB ({MEDIA_MAX_BYTES} bytes)")


def _text(body: Mapping[str, Any]) -> None:
    """Check a text message: ``text`` required, at most 7000 characters."""
    _required_string(body, "text", 7000)


def _picture(body: Mapping[str, Any]) -> None:
    """Check a picture: caption (may be empty) at most 768, a JPEG ``media``, a thumbnail URL."""
    # "Can be an empty string if irrelevant", yet still required.
    _required_string(body, "text", 768, empty_ok=True)
    media = _url(body, "media", required=True)
    # "The URL must have a resource with a .jpeg file extension"; .jpg names the same format.
    if media is not None and not urlsplit(media).path.lower().endswith((".jpg", ".jpeg")):
        raise _bad(
            f"picture media must be a JPEG whose URL path ends in .jpg or .jpeg, got "
            f"{_shown(media)}; send other images as url or file messages"
        )
    _jpeg_thumbnail(body)


def _jpeg_thumbnail(body: Mapping[str, Any]) -> None:
    """Check an optional thumbnail URL: "Only JPEG format is supported"."""
    thumbnail = _url(body, "thumbnail", required=False)
    if thumbnail is not None and not urlsplit(thumbnail).path.lower().endswith((".jpg", ".jpeg")):
        raise _bad(
            f"thumbnail must be a JPEG whose URL path ends in .jpg or .jpeg, got "
            f"{_shown(thumbnail)}"
        )


def _video(body: Mapping[str, Any]) -> None:
    """Check a video: ``media`` and ``size`` required, ``duration`` at most 180 seconds."""
    _url(body, "media", required=True)
    _size(body)
    duration = _whole(body, "duration")
    if duration is not None and not 0 <= duration <= 180:
        raise _bad(f"duration is {duration} seconds; it must be between 0 and 180")
    _jpeg_thumbnail(body)


def _file(body: Mapping[str, Any]) -> None:
    """Check a file: ``media``, ``size`` and a ``file_name`` of at most 256 with an extension."""
    _url(body, "media", required=True)
    _size(body)
    name = _required_string(body, "file_name", 256)
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem.strip() or not extension or "/" in extension:
        raise _bad(f"file_name {_shown(name)} must include an extension, such as report.pdf")


def _url_message(body: Mapping[str, Any]) -> None:
    """Check a URL message: ``media`` at most 2000 characters, ``text`` at most 120."""
    _url(body, "media", required=True, limit=2000)
    _string(body, "text", 120)


def _coordinate(location: Mapping[str, Any], key: str, bound: float) -> None:
    """Check one coordinate, given as a number or a numeric string, within ±bound degrees."""
    value = location.get(key)
    if value is None or value == "":
        raise _missing(f"location.{key} is required")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad(f"location.{key} must be a number or numeric string, got {_shown(value)}")
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        raise _bad(f"location.{key} must be a decimal number such as 37.7898, got {_shown(value)}")
    number = float(value)
    if not math.isfinite(number) or not -bound <= number <= bound:
        raise _bad(f"location.{key} is {value}; it must be between -{bound:g} and {bound:g}")


def _nested(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """Return a required JSON object field."""
    value = body.get(key)
    if value is None:
        raise _missing(f"{key} is required")
    if not isinstance(value, dict):
        raise _bad(f"{key} must be a JSON object, got {_shown(value)}")
    return value


def _location(body: Mapping[str, Any]) -> None:
    """Check a location: latitude within ±90 and longitude within ±180."""
    location = _nested(body, "location")
    _coordinate(location, "lat", 90)
    _coordinate(location, "lon", 180)


def _contact(body: Mapping[str, Any]) -> None:
    """Check a contact: name at most 28 and phone number at most 18 characters, both required."""
    contact = _nested(body, "contact")
    _required_string(contact, "name", 28, name="contact.name")
    _required_string(contact, "phone_number", 18, name="contact.phone_number")


def _sticker(body: Mapping[str, Any]) -> None:
    """Check a sticker: a positive whole ``sticker_id``."""
    sticker = _whole(body, "sticker_id")
    if sticker is None:
        raise _missing("sticker_id is required")
    if sticker <= 0:
        raise _bad(f"sticker_id must be a positive Viber sticker id, got {sticker}")


_CHECKS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "text": _text,
    "picture": _picture,
    "video": _video,
    "file": _file,
    "url": _url_message,
    "location": _location,
    "contact": _contact,
    "sticker": _sticker,
}
