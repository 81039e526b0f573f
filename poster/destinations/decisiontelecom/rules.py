"""Check a send-viber body against every rule of ``decisiontelecom-viber-api.txt``.

The client runs these checks before a call, so a message the gateway would refuse never leaves
this machine; the fake runs the same checks on what arrives. Each rule cites "Parameters" of
"Send Viber message". Choices where the document is silent, one line each:

- a phone (``destination_addr``) is 1 to 20 digits, sent as a JSON number as in every example;
  a digit string is accepted too, as the official SDKs send one.
- "Correct URL" means an absolute http(s) URL; the image URL's path must end in .jpg, .jpeg or
  .png, the only formats the document lists.
- source_type 2 (transactional, "text message") allows only the text-only types 106 and 206.
- types 108 and 208 ("text+image+button") need all three of image, button_caption and
  button_action; types 106 and 206 ("only text") carry none of them.
- ``validity_period`` is optional ("In case no TTL was provided"); when sent it is a whole number.
- ``callback_url`` is optional for 106 and 108 and required for the 2-Way types 206 and 208:
  the gateway sends each subscriber's reply there ("The response implies that the API user has
  a callback url for this message"), so a 2-Way message without one is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

SOURCE_ADDR_MAX = 20
DESTINATION_ADDR_MAX = 20
TEXT_MAX = 1000
BUTTON_CAPTION_MAX = 30
TTL_RANGES: Mapping[int, tuple[int, int]] = {1: (40, 21600), 2: (40, 21600)}
"""Allowed ``validity_period`` seconds per ``source_type`` ("validity_period")."""

TEXT_ONLY_TYPES = frozenset({106, 206})
RICH_TYPES = frozenset({108, 208})
TWO_WAY_TYPES = frozenset({206, 208})
MESSAGE_TYPES = TEXT_ONLY_TYPES | RICH_TYPES
SOURCE_TYPES = frozenset({1, 2})
RICH_FIELDS = ("image", "button_caption", "button_action")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

_PHONE = re.compile(rf"\d{{1,{DESTINATION_ADDR_MAX}}}")


def send_problem(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return ``(param, reason)`` for the first rule ``body`` breaks, or None when it is valid."""
    # Checked in the order of "Parameters": the first broken one is the one the gateway names.
    checks = (
        ("source_addr", _source_addr),
        ("destination_addr", _destination_addr),
        ("message_type", _message_type),
        ("text", _text),
        ("image", _image),
        ("button_caption", _button_caption),
        ("button_action", _button_action),
        ("source_type", _source_type),
        ("callback_url", _callback_url),
        ("validity_period", _validity_period),
    )
    for param, check in checks:
        reason = check(body)
        if reason:
            return param, reason
    return None


def phone_problem(value: Any) -> str | None:
    """Return why ``value`` is not a ``destination_addr``, or None when it is one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _PHONE.fullmatch(value):
        return f"must be 1 to {DESTINATION_ADDR_MAX} digits"
    return None


def url_problem(value: Any) -> str | None:
    """Return why ``value`` is not a correct absolute http(s) URL, or None when it is one."""
    if not isinstance(value, str) or not value or value != value.strip():
        return "must be an absolute http:// or https:// URL"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "must be an absolute http:// or https:// URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http:// or https:// URL"
    return None


def _int(value: Any) -> int | None:
    """Return ``value`` when it is a JSON integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _source_addr(body: Mapping[str, Any]) -> str | None:
    value = body.get("source_addr")
    if not isinstance(value, str) or not value.strip() or len(value) > SOURCE_ADDR_MAX:
        return f"must be 1 to {SOURCE_ADDR_MAX} characters"
    return None


def _destination_addr(body: Mapping[str, Any]) -> str | None:
    return phone_problem(body.get("destination_addr"))


def _message_type(body: Mapping[str, Any]) -> str | None:
    if _int(body.get("message_type")) not in MESSAGE_TYPES:
        return "must be 106, 108, 206 or 208"
    return None


def _text(body: Mapping[str, Any]) -> str | None:
    value = body.get("text")
    if not isinstance(value, str) or not value.strip() or len(value) > TEXT_MAX:
        return f"must be 1 to {TEXT_MAX} characters"
    return None


def _rich(body: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """Return whether the message type needs the rich field ``name``, and its value."""
    return _int(body.get("message_type")) in RICH_TYPES, body.get(name)


def _image(body: Mapping[str, Any]) -> str | None:
    needed, value = _rich(body, "image")
    if not needed:
        return None if value is None else "is only allowed with message_type 108 or 208"
    problem = url_problem(value)
    if problem:
        return problem
    if not urlsplit(value).path.lower().endswith(IMAGE_SUFFIXES):
        return "must be the URL of a .jpg, .jpeg or .png image"
    return None


def _button_caption(body: Mapping[str, Any]) -> str | None:
    needed, value = _rich(body, "button_caption")
    if not needed:
        return None if value is None else "is only allowed with message_type 108 or 208"
    if not isinstance(value, str) or not value.strip() or len(value) > BUTTON_CAPTION_MAX:
        return f"must be 1 to {BUTTON_CAPTION_MAX} characters"
    return None


def _button_action(body: Mapping[str, Any]) -> str | None:
    needed, value = _rich(body, "button_action")
    if not needed:
        return None if value is None else "is only allowed with message_type 108 or 208"
    return url_problem(value)


def _source_type(body: Mapping[str, Any]) -> str | None:
    source_type = _int(body.get("source_type"))
    if source_type not in SOURCE_TYPES:
        return "must be 1 (promotional) or 2 (transactional)"
    if source_type == 2 and _int(body.get("message_type")) not in TEXT_ONLY_TYPES:
        return "2 (transactional) allows only message_type 106 or 206"
    return None


def _callback_url(body: Mapping[str, Any]) -> str | None:
    value = body.get("callback_url")
    if value is None:
        two_way = _int(body.get("message_type")) in TWO_WAY_TYPES
        return "is required with message_type 206 or 208 (2-Way)" if two_way else None
    return url_problem(value)


def _validity_period(body: Mapping[str, Any]) -> str | None:
    if "validity_period" not in body:
        return None
    low, high = TTL_RANGES.get(_int(body.get("source_type")) or 0, (40, 21600))
    value = _int(body.get("validity_period"))
    if value is None or not low <= value <= high:
        return f"must be {low} to {high} seconds"
    return None
