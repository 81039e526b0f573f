"""Check ``im/send`` params against the rules of ``inteltele-im-api.txt``, for client and fake.

Rules the document states ("Sending message to Viber", request params): ``to`` and
``im_message`` are required; ``im_message`` is at most 1000 symbols; ``im_image`` is a link to a
jpg/jpeg/png whose extension is lowercase, used together with ``im_button_text`` and
``im_button_link``; those two go together; ``im_ttl`` is 60..86400; ``sms_source`` is 3..15
digits or 3..11 latin letters and digits, used together with ``sms_message``.
Choices where it is silent, one line each:
- symbols are counted as Unicode code points (Python ``len``).
- links (image, button) must be absolute http:// or https:// URLs: Viber opens them on a phone.
- ``im_button_text`` is at most 30 symbols, Viber's own limit for business-message buttons.
- numbers are digits only in international format, 7..15 digits (E.164), as in the
  document's example "7123456789"; ``normalise_number`` strips "+", spaces, dashes, brackets.
- the 400x400 px image limit is not checked here: that needs the image itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

MESSAGE_MAX = 1000
BUTTON_TEXT_MAX = 30
TTL_MIN, TTL_MAX = 60, 86400
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

_NUMBER = re.compile(r"[1-9][0-9]{6,14}")
_NUMBER_NOISE = re.compile(r"[\s()+.-]")
_NUMERIC_SOURCE = re.compile(r"[0-9]{3,15}")
_ALPHA_SOURCE = re.compile(r"[A-Za-z0-9]{3,11}")

REQUIRED = ("to", "im_message")
TOO_LONG = "message is too long"
MISSING = "can't send message"


def normalise_number(phone: str) -> str | None:
    """Return ``phone`` as the digits the gateway expects, or None when it is not a number."""
    digits = _NUMBER_NOISE.sub("", phone)
    return digits if _NUMBER.fullmatch(digits) else None


def send_problems(params: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return (gateway error, why) for each rule ``params`` break; empty when they are valid."""
    missing = [key for key in REQUIRED if not params.get(key, "").strip()]
    if missing:
        return [(MISSING, f"{', '.join(missing)} missing or empty")]
    problems: list[tuple[str, str]] = []
    if len(params["im_message"]) > MESSAGE_MAX:
        problems.append((TOO_LONG, f"im_message is over {MESSAGE_MAX} symbols"))
    problems += [(MISSING, why) for why in _option_problems(params)]
    return problems


def _option_problems(params: Mapping[str, str]) -> list[str]:
    """Return why the optional params are invalid, one reason each."""
    return [
        *_image_problems(params),
        *_button_problems(params),
        *_ttl_problems(params.get("im_ttl")),
        *_sms_problems(params),
    ]


def _image_problems(params: Mapping[str, str]) -> list[str]:
    """Return why ``im_image`` is not usable."""
    image = params.get("im_image")
    if image is None:
        return []
    problems = []
    if not _is_link(image):
        problems.append("im_image is not an http(s) link")
    elif not names_image_format(image):
        problems.append("im_image must end in .jpg, .jpeg or .png (lowercase)")
    if not (params.get("im_button_text") and params.get("im_button_link")):
        problems.append("im_image needs im_button_text and im_button_link")
    return problems


def _button_problems(params: Mapping[str, str]) -> list[str]:
    """Return why the button params are not usable."""
    text, link = params.get("im_button_text"), params.get("im_button_link")
    if text is None and link is None:
        return []
    if not text or not link:
        return ["im_button_text and im_button_link go together"]
    problems = []
    if len(text) > BUTTON_TEXT_MAX:
        problems.append(f"im_button_text is over {BUTTON_TEXT_MAX} symbols")
    if not _is_link(link):
        problems.append("im_button_link is not an http(s) link")
    return problems


def _ttl_problems(ttl: str | None) -> list[str]:
    """Return why ``im_ttl`` is not a whole number of seconds in range."""
    if ttl is None:
        return []
    if not (ttl.isascii() and ttl.isdigit() and TTL_MIN <= int(ttl) <= TTL_MAX):
        return [f"im_ttl must be {TTL_MIN}..{TTL_MAX} seconds"]
    return []


def _sms_problems(params: Mapping[str, str]) -> list[str]:
    """Return why the SMS fallback params are not usable."""
    source, message = params.get("sms_source"), params.get("sms_message")
    if source is None and message is None:
        return []
    if not source or not message:
        return ["sms_source and sms_message go together"]
    if not valid_sms_source(source):
        return ["sms_source must be 3..15 digits or 3..11 latin letters and digits"]
    return []


def valid_sms_source(source: str) -> bool:
    """Tell whether ``source`` is a sender id the SMS fallback accepts."""
    if source.isascii() and source.isdigit():
        return bool(_NUMERIC_SOURCE.fullmatch(source))
    return bool(_ALPHA_SOURCE.fullmatch(source))


def names_image_format(link: str) -> bool:
    """Tell whether the link itself ends in .jpg, .jpeg or .png ("format must be lowercase").

    The link goes to the gateway as it is, so a query (``a.png?w=400``) or a fragment after the
    name is refused, as a gateway checking the link as given would.
    """
    return link.endswith(IMAGE_EXTENSIONS)


def _is_link(value: str) -> bool:
    """Tell whether ``value`` is an absolute http:// or https:// URL with a host."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
