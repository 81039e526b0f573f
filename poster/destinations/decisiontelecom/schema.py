"""Hold the typed requests and results of the DecisionTelecom Viber API, and read its callbacks.

Field names, types and codes follow ``decisiontelecom-viber-api.txt``. Choices where the
document is silent, one line each:

- the status callback ("callback_url: Correct URL for message status callback") is a JSON POST
  shaped like the receive-viber answer, ``{"message_id": 429, "status": 1}``.
- a message id may arrive as a JSON number (the document) or a digit string (official SDK tests),
  either read as a number; any other short word ("a unique random ID") is kept as text.
- "time" of a 2-Way message is Unix seconds, as the example ``2121212121`` suggests.
- both callbacks come to the same ``callback_url``: one with ``message_token`` or ``message`` is
  a 2-Way reply, any other a status. A reply's ``tracking_data`` may be missing or null (poster
  sends none), and ``phone_number`` is the number's digits, as a string or a JSON number.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

from poster.destinations import REDACTED
from poster.errors import CallbackError
from poster.frozen import frozen

SEND_ENDPOINT = "send-viber"
STATUS_ENDPOINT = "receive-viber"
CALLBACK_MAX_BYTES = 64 * 1024
"""Callback bodies above this are refused unread; the documented ones are far smaller."""
PHONE_MAX = 20
"""Digits of a phone number at most ("destination_addr: <= 20 chars")."""
MessageId = int | str
"""A message id: the document's examples show a number ("message_id":429), its words only "a
unique random ID", so an id in letters is kept as text and given back as it came."""
ID_MAX = 64
"""The longest message id taken as text: enough for any random ID or UUID."""


class MessageType(IntEnum):
    """The ``message_type`` codes of "Send Viber message"."""

    TEXT = 106
    TEXT_IMAGE_BUTTON = 108
    TEXT_TWO_WAY = 206
    TEXT_IMAGE_BUTTON_TWO_WAY = 208


class SourceType(IntEnum):
    """The ``source_type`` codes: the message sending procedure."""

    PROMOTIONAL = 1
    TRANSACTIONAL = 2


class MessageStatus(IntEnum):
    """The "Viber messages statuses" a message id reports."""

    SENT = 0
    DELIVERED = 1
    ERROR = 2
    REJECTED = 3
    UNDELIVERED = 4
    PENDING = 5
    UNKNOWN = 20


FINAL_STATUSES = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.ERROR,
        MessageStatus.REJECTED,
        MessageStatus.UNDELIVERED,
    }
)
"""Statuses after which a message does not change any more."""


def _auth_view() -> dict[str, str]:
    """Return the headers every call carries, with the access key hidden."""
    return {"Authorization": f"Basic {REDACTED}", "Content-Type": "application/json"}


@frozen
class SendRequest:
    """One Viber message to one phone number (send-viber takes one destination_addr a call)."""

    source_addr: str
    destination_addr: str
    message_type: MessageType
    text: str
    source_type: SourceType
    image: str | None = None
    button_caption: str | None = None
    button_action: str | None = None
    callback_url: str | None = None
    validity_period: int | None = None

    def body(self) -> dict[str, Any]:
        """Return the JSON body as the document's examples write it, leaving out unset fields."""
        phone = self.destination_addr.removeprefix("+")
        body: dict[str, Any] = {
            "source_addr": self.source_addr,
            # Every example sends the number as a JSON number; keep text that is not digits
            # as it is so the rules can name it instead of a conversion error.
            "destination_addr": int(phone) if phone.isascii() and phone.isdigit() else phone,
            "message_type": int(self.message_type),
            "text": self.text,
            "image": self.image,
            "button_caption": self.button_caption,
            "button_action": self.button_action,
            "source_type": int(self.source_type),
            "callback_url": self.callback_url,
            "validity_period": self.validity_period,
        }
        return {key: value for key, value in body.items() if value is not None}

    def redacted(self) -> dict[str, Any]:
        """Return what a preview shows of this call: endpoint, headers without the key, body."""
        return {"endpoint": SEND_ENDPOINT, "headers": _auth_view(), "json": self.body()}


@frozen
class StatusRequest:
    """A question for the status of one message sent in the last 5 days."""

    message_id: MessageId

    def body(self) -> dict[str, Any]:
        """Return the JSON body of a receive-viber call."""
        return {"message_id": self.message_id}

    def redacted(self) -> dict[str, Any]:
        """Return what a preview shows of this call: endpoint, headers without the key, body."""
        return {"endpoint": STATUS_ENDPOINT, "headers": _auth_view(), "json": self.body()}


@frozen
class RecipientResult:
    """What the gateway did with a message for one phone: accepted with an id, or refused."""

    phone: str
    accepted: bool
    message_id: MessageId | None
    status_text: str
    """The gateway's own words: "accepted", or its error name and message."""
    cost: float | None = None
    """The document gives no price in any answer, so this stays None."""
    hint: str = ""


@frozen
class StatusResult:
    """The current status of one message, from receive-viber or a status callback."""

    message_id: MessageId
    status: MessageStatus

    @property
    def final(self) -> bool:
        """Tell whether the status can no longer change."""
        return self.status in FINAL_STATUSES

    @property
    def delivered(self) -> bool:
        """Tell whether the message reached the phone."""
        return self.status is MessageStatus.DELIVERED


@frozen
class IncomingMessage:
    """A subscriber's reply to a 2-Way message (message_type 206 or 208)."""

    message_token: int
    phone_number: str
    time: int
    text: str
    tracking_data: str

    @property
    def reply_to(self) -> MessageId | None:
        """Return the message id from ``tracking_data`` ("tracking_id:100035"), if it has one."""
        name, _, value = self.tracking_data.partition(":")
        return message_id(value.strip()) if name.strip() == "tracking_id" else None


def message_id(value: Any) -> MessageId | None:
    """Return a message id: a JSON number or digit string as a number, another word as text."""
    found = whole_number(value)
    if found is not None or not isinstance(value, str):
        return found
    word = value.strip()
    return word if 0 < len(word) <= ID_MAX and all("!" <= ch <= "~" for ch in word) else None


def api_id(kept: str) -> MessageId:
    """Return a message id as the gateway gave it, from the text it is kept as."""
    return int(kept) if kept.isascii() and kept.isdigit() else kept


def whole_number(value: Any) -> int | None:
    """Return a whole number given as a JSON number or digit string, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def status_of(data: Any) -> StatusResult | None:
    """Return the status in a receive-viber answer or status callback, or None if it has none."""
    if not isinstance(data, dict):
        return None
    found = message_id(data.get("message_id"))
    code = data.get("status")
    known = {int(status) for status in MessageStatus}
    if found is None or not isinstance(code, int) or isinstance(code, bool) or code not in known:
        return None
    return StatusResult(found, MessageStatus(code))


def parse_status_callback(raw: bytes) -> StatusResult:
    """Read a status callback body, or raise CallbackError saying what is wrong with it."""
    return _status_callback(_json_object(raw, "status callback"))


def parse_incoming(raw: bytes) -> IncomingMessage:
    """Read a 2-Way incoming message callback, or raise CallbackError saying what is wrong."""
    return _incoming(_json_object(raw, "incoming message"))


def parse_callback(raw: bytes) -> StatusResult | IncomingMessage:
    """Read any callback: a 2-Way reply (it has message_token or message), else a status."""
    data = _json_object(raw, "callback")
    if "message_token" in data or "message" in data:
        return _incoming(data)
    return _status_callback(data)


def _status_callback(data: dict[str, Any]) -> StatusResult:
    """Return the status in a callback's JSON object, or raise CallbackError."""
    result = status_of(data)
    if result is None:
        raise CallbackError('status callback: expected {"message_id": <id>, "status": <0-5 or 20>}')
    return result


def _incoming(data: dict[str, Any]) -> IncomingMessage:
    """Return the 2-Way reply in a callback's JSON object, or raise CallbackError."""
    message = data.get("message")
    token = whole_number(data.get("message_token"))
    phone = _phone(data.get("phone_number"))
    when = data.get("time")
    if not isinstance(message, dict) or token is None or phone is None:
        raise CallbackError(
            "incoming message: expected message_token, phone_number (digits), time and message.text"
        )
    text, tracking = message.get("text"), message.get("tracking_data")
    if not isinstance(text, str) or not isinstance(tracking, str | None):
        raise CallbackError("incoming message: message.text and message.tracking_data must be text")
    if isinstance(when, bool) or not isinstance(when, int):
        raise CallbackError("incoming message: time must be a whole number of Unix seconds")
    return IncomingMessage(token, phone, when, text, tracking or "")


def _phone(value: Any) -> str | None:
    """Return a reply's phone number as its digits (a JSON number or digit string), else None."""
    found = whole_number(value)
    if found is None:
        return None
    # A digit string is kept as written: int() would drop leading zeros.
    digits = value if isinstance(value, str) else str(found)
    return digits if len(digits) <= PHONE_MAX else None


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Return ``raw`` as a JSON object, or raise CallbackError naming ``what``."""
    if len(raw) > CALLBACK_MAX_BYTES:
        raise CallbackError(f"{what}: body is larger than {CALLBACK_MAX_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CallbackError(f"{what}: body is not JSON") from None
    if not isinstance(data, dict):
        raise CallbackError(f"{what}: body is not a JSON object")
    return data
