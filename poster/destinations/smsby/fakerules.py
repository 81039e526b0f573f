"""Check requests against every rule of ``bulk-viber-aggregator-api.txt``; the fake's records.

Each check returns the gateway's reason as text, or None when the request follows the rules.
Where the document is silent the checks use Viber's own limits: text up to 1000 characters and a
button caption up to 30; ``button_link`` up to 150 is the document's ("In the button variant").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from poster.destinations.smsby.schema import (
    BULK_SCHEDULE_FORMAT,
    CONTENT_TYPES,
    LIST_SCHEDULE_FORMAT,
    MESSAGE_TYPES,
    TYPE_MESSAGES,
)
from poster.frozen import field, frozen

TEXT_MAX = 1000
CAPTION_MAX = 30
BUTTON_LINK_MAX = 150
FORWARDING_MINUTES = range(5, 61)
PHONE = re.compile(r"[1-9][0-9]{9,14}")
"""International format, digits only, as every example writes it (375291111111)."""

Param = tuple[str, str, str, bool]
"""name, location (query or form), type (string, integer or file), required."""

_CONTENT: tuple[Param, ...] = (
    ("type_message", "form", "string", False),
    ("message", "form", "string", False),
    ("image_url", "form", "string", False),
    ("image", "form", "file", False),
    ("button", "form", "string", False),
    ("button_link", "form", "string", False),
)
_FORM_TOKEN: Param = ("token", "form", "string", True)
_QUERY_TOKEN: Param = ("token", "query", "string", True)
_MESSAGE_ID: Param = ("message_id", "form", "integer", True)

PARAMS: Mapping[str, tuple[Param, ...]] = {
    "/api/v1/statusBulkViber": (_QUERY_TOKEN, ("uuid", "query", "string", True)),
    "/api/v2/sendQuickViberMessage": (
        _FORM_TOKEN,
        ("vibername_id", "form", "integer", True),
        ("phone", "form", "string", True),
        *_CONTENT,
        ("forwarding_message", "form", "integer", False),
        ("forwarding_time", "form", "integer", False),
        ("alphaname_id", "form", "integer", False),
    ),
    "/api/v2/getViberDeliveryData": (_FORM_TOKEN, _MESSAGE_ID),
    "/api/v2/sendViberMessageList": (
        _FORM_TOKEN,
        ("name", "form", "string", False),
        ("vibername_id", "form", "integer", True),
        ("list_id", "form", "integer", True),
        *_CONTENT,
        ("d_schedule", "form", "string", False),
    ),
    "/api/v2/confirmViberMessage": (_QUERY_TOKEN, _MESSAGE_ID),
    "/api/v2/getViberMessages": (
        _QUERY_TOKEN,
        ("limit_offset", "form", "integer", False),
        ("limit_rows", "form", "integer", False),
    ),
    "/api/v2/getViberMessageData": (_QUERY_TOKEN, _MESSAGE_ID),
    "/api/v2/getViberDeliveryList": (_FORM_TOKEN, _MESSAGE_ID),
    "/api/v2/getVibernames": (_FORM_TOKEN,),
    "/api/v2/getSubscriberLists": (_FORM_TOKEN,),
}
"""Each table of the document: where every parameter must be, its type, whether required."""


@frozen
class Reply:
    """One answer: HTTP status, JSON body and extra headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


class Refused(Exception):
    """The gateway refuses the call with ``reason``; the method's version picks the shape."""

    def __init__(self, reason: str, http: int = 400) -> None:
        self.reason = reason
        self.http = http
        super().__init__(reason)


@frozen
class Delivery:
    """One message to one phone: what the subscriber's phone gets, and how far it went."""

    delivery_id: int
    phone: str
    via: str
    mailing: str
    text: str
    image_url: str
    button: str
    button_link: str
    sender: str
    start: datetime
    error_code: int = 0
    error: str = ""


def bulk_params(query: Mapping[str, str], body: Any) -> dict[str, str]:
    """Return ``token`` and ``callback_url`` of ``sendBulkViber``: each from the query, where the
    table puts it, else from the JSON body, where the sample request puts it."""
    found: dict[str, str] = {}
    for name in ("token", "callback_url"):
        given = query.get(name)
        if given is None and isinstance(body, dict):
            given = body.get(name)
        if given is not None:
            found[name] = given if isinstance(given, str) else ""
    return found


def token_of(path: str, query: Mapping[str, str], form: Mapping[str, str], body: Any) -> str:
    """Return the token from the place the method takes it, or an empty string."""
    if path == "/api/v1/sendBulkViber":
        return bulk_params(query, body).get("token", "")
    spec = {p[0]: p for p in PARAMS.get(path, ())}.get("token")
    if spec is None:
        return ""
    return (query if spec[1] == "query" else form).get("token", "")


def params(
    path: str, query: Mapping[str, str], form: Mapping[str, str]
) -> tuple[dict[str, str], str | None]:
    """Return the parameters of a method, each read from its own location, or the problem."""
    values: dict[str, str] = {}
    for name, location, kind, required in PARAMS[path]:
        value = (query if location == "query" else form).get(name)
        if value is None or value == "":
            if required:
                return values, f"Parameter {name} is required"
            continue
        if kind == "integer" and not re.fullmatch(r"-?[0-9]+", value):
            return values, f"Parameter {name} must be an integer"
        values[name] = value
    return values, None


def form_content(values: Mapping[str, str]) -> str | None:
    """Check ``type_message`` and the fields it requires (v2 send methods)."""
    kind = values.get("type_message", "TEXT")
    if kind not in TYPE_MESSAGES:
        return "Parameter type_message must be TEXT, IMAGE or BUTTON"
    needs = {"TEXT": ("message",), "BUTTON": ("button", "button_link")}
    for name in needs.get(kind, ()):
        if not values.get(name):
            return f"Parameter {name} is required if type_message = {kind}"
    if kind == "IMAGE" and not (values.get("image_url") or values.get("image")):
        return "Parameter image_url or image is required if type_message = IMAGE"
    return lengths(values.get("message"), values.get("button"), values.get("button_link")) or (
        None if is_url(values.get("image_url")) else "Content url is not valid"
    )


def lengths(text: Any, caption: Any, link: Any) -> str | None:
    """Check the text, button caption and button link against their limits."""
    if isinstance(text, str) and len(text) > TEXT_MAX:
        return f"Message text must not exceed {TEXT_MAX} characters"
    if isinstance(caption, str) and len(caption) > CAPTION_MAX:
        return f"Button caption must not exceed {CAPTION_MAX} characters"
    if isinstance(link, str) and len(link) > BUTTON_LINK_MAX:
        return f"button_link must not exceed {BUTTON_LINK_MAX} characters"
    if link is not None and not is_url(link):
        return "button_link must be an http(s) link"
    return None


def forwarding(values: Mapping[str, str]) -> str | None:
    """Check ``forwarding_message`` (0 or 1) and ``forwarding_time`` (5..60 minutes)."""
    if values.get("forwarding_message", "0") not in ("0", "1"):
        return "Parameter forwarding_message must be 1 or 0"
    minutes = values.get("forwarding_time")
    if minutes is not None and int(minutes) not in FORWARDING_MINUTES:
        return "Parameter forwarding_time must be between 5 and 60 minutes"
    return None


def phone(value: str) -> str | None:
    """Check a phone number's format."""
    return None if PHONE.fullmatch(value) else f"Phone number is not valid: {value[:20]}"


def schedule(value: str | None, pattern: str) -> datetime | None:
    """Return a schedule time in ``pattern``, or None when it does not match."""
    try:
        return datetime.strptime(value or "", pattern)
    except ValueError:
        return None


def list_schedule(values: Mapping[str, str]) -> str | None:
    """Check ``d_schedule`` of ``sendViberMessageList`` ('YYYY-MM-DD HH:MM')."""
    given = values.get("d_schedule")
    if given is None or schedule(given, LIST_SCHEDULE_FORMAT):
        return None
    return "Parameter d_schedule must be in the format YYYY-MM-DD HH:MM"


def bulk(body: Any, callback: str | None) -> str | None:
    """Check a ``sendBulkViber`` JSON body and its ``callback_url``; the image URL is checked
    later, as the gateway does."""
    if not isinstance(body, dict):
        return "Invalid request: the body must be a JSON object"
    if callback is not None and not is_url(callback):
        return "Invalid request: callback_url must be an http(s) URL"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "Invalid request: messages must be a non-empty array"
    for index, message in enumerate(messages):
        problem = _bulk_message(message)
        if problem:
            return f"Invalid request: messages.{index}: {problem}"
    return None


def _bulk_message(message: Any) -> str | None:
    """Check one mailing of ``sendBulkViber``."""
    if not isinstance(message, dict):
        return "must be an object"
    alphaname = message.get("alphaname_id")
    if not re.fullmatch(r"[0-9]+", str(alphaname)) or isinstance(alphaname, bool):
        return "alphaname_id is required and must be a number"
    if not isinstance(message.get("name"), str) or not message["name"]:
        return "name is required"
    kind = message.get("message_type")
    if kind not in MESSAGE_TYPES:
        return "message_type must be bulk or personal"
    when = message.get("schedule_time")
    if when is not None and not schedule(when, BULK_SCHEDULE_FORMAT):
        return "schedule_time must be in the format YYYY-MM-DDTHH:mm:ss"
    content = message.get("content")
    if not isinstance(content, dict) or content.get("type") not in CONTENT_TYPES:
        return "content.type must be text, image or button"
    if content["type"] == "image" and kind != "bulk":
        return "the image option can only be used with message_type = bulk"
    entries = message.get("delivery_list")
    if not isinstance(entries, list) or not entries:
        return "delivery_list must be a non-empty array"
    if kind == "bulk":
        return _bulk_content(content) or _bulk_phones(entries)
    return _personal(content, entries)


def _bulk_content(content: Mapping[str, Any]) -> str | None:
    """Check the content of a ``bulk`` mailing: one text, image or button for every number."""
    needs = {
        "text": ("text",),
        "image": ("image_url",),
        # "The image_url parameter in the button and image variants must have a link to an
        # image that is publicly available": a button carries its picture.
        "button": ("text", "caption", "button_link", "image_url"),
    }
    for name in needs[content["type"]]:
        if not isinstance(content.get(name), str) or not content[name]:
            return f"content.{name} is required for type {content['type']}"
    return lengths(content.get("text"), content.get("caption"), content.get("button_link"))


def _bulk_phones(entries: list[Any]) -> str | None:
    """Check a ``bulk`` delivery list: phone numbers as strings."""
    for entry in entries:
        if not isinstance(entry, str):
            return "delivery_list of a bulk mailing holds phone numbers as strings"
        problem = phone(entry)
        if problem:
            return problem
    return None


def _personal(content: Mapping[str, Any], entries: list[Any]) -> str | None:
    """Check a ``personal`` mailing: each entry has its phone, text and, for a button, link."""
    if content["type"] == "button" and not content.get("caption"):
        return "content.caption is required for type button"
    if content["type"] == "button" and not content.get("image_url"):
        return "content.image_url is required for type button"
    problem = lengths(None, content.get("caption"), None)
    for entry in entries:
        if problem:
            return problem
        if not isinstance(entry, dict) or not isinstance(entry.get("phone"), str):
            return "delivery_list of a personal mailing holds objects with phone and text"
        if not isinstance(entry.get("text"), str) or not entry["text"]:
            return "each delivery_list entry needs its text"
        if content["type"] == "button" and not entry.get("button_link"):
            return "each delivery_list entry needs its button_link for type button"
        problem = phone(entry["phone"]) or lengths(entry["text"], None, entry.get("button_link"))
    return problem


def is_url(value: Any) -> bool:
    """Tell whether ``value`` is absent or an absolute http(s) URL with a host."""
    if value is None:
        return True
    if not isinstance(value, str) or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
