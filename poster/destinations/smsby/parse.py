"""Read SMS.BY answers into the records of ``models``, tolerating missing or odd fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from poster.destinations.smsby import codes
from poster.destinations.smsby.schema import (
    FAILED_STATUSES,
    BulkStatus,
    Mailing,
    MailingError,
    MailingStatus,
    RecipientResult,
    SubscriberList,
    ViberName,
)

_ERROR_KEYS = ("message", "error", "errors", "result", "status_message", "detail")


def result(data: Any) -> dict[str, Any]:
    """Return the ``result`` object of a v2 answer, or an empty dict."""
    found = data.get("result") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def items(data: Any) -> list[dict[str, Any]]:
    """Return the objects of a v2 ``result`` list."""
    found = data.get("result") if isinstance(data, dict) else data
    listed = found if isinstance(found, list) else []
    return [item for item in listed if isinstance(item, dict)]


def integer(value: Any, default: int = 0) -> int:
    """Return ``value`` as an int (the answers mix numbers and digit strings)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    digits = value.strip().removeprefix("-") if isinstance(value, str) else ""
    # isdigit() passes "²", which int() refuses; and int() refuses over 4300 digits.
    if digits.isascii() and digits.isdecimal() and len(digits) <= 4000:
        return int(value)
    return default


def text(value: Any) -> str:
    """Return ``value`` as text, None as an empty string."""
    return "" if value is None else str(value)


def error_text(data: Any) -> str:
    """Return the gateway's reason in an error answer, from whichever field holds it."""
    if isinstance(data, list):
        return "; ".join(str(entry) for entry in data)
    if not isinstance(data, dict):
        return ""
    for key in _ERROR_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value:
            return "; ".join(str(entry) for entry in value)
        if isinstance(value, dict) and value:
            return "; ".join(f"{k}: {v}" for k, v in value.items())
    return ""


def recipient(raw: dict[str, Any], message_id: str | None = None) -> RecipientResult:
    """Return one phone's outcome from a delivery entry (statuses, getViberDelivery*)."""
    status = text(raw.get("status")).upper()
    code = integer(raw.get("error_code"))
    error = text(raw.get("error") or raw.get("error_text"))
    accepted = code == 0 and status not in FAILED_STATUSES
    found = raw.get("delivery_id", message_id)
    action = "" if accepted else codes.recipient_rule(error).action
    if not accepted and not error:
        error = f"{codes.UNDELIVERED.text} (status {status or 'none'}, error_code {code})"
    cost = raw.get("cost")
    return RecipientResult(
        phone=text(raw.get("phone")),
        accepted=accepted,
        message_id=None if found is None else str(found),
        status=status,
        error=error,
        error_code=code,
        cost=None if cost is None else str(cost),
        action=action,
    )


def bulk_status(data: Any, names: Sequence[str] = ()) -> BulkStatus:
    """Return a ``statusBulkViber`` answer: mailings with their phones, and refused mailings.

    ``names`` are the mailing names poster sent: an ``errors`` line is read by them first.
    """
    entries = data if isinstance(data, list) else []
    mailings: list[MailingStatus] = []
    errors: list[MailingError] = []
    for entry in (e for e in entries if isinstance(e, dict)):
        for said in _listed(entry.get("errors")):
            errors.append(_mailing_error(str(said), names))
        if "success" in entry and (entry["success"] is None or isinstance(entry["success"], list)):
            phones = [p for p in _listed(entry["success"]) if isinstance(p, dict)]
            mailings.append(
                MailingStatus(
                    message_id=text(entry.get("message_id")),
                    name=text(entry.get("name")),
                    alphaname_id=text(entry.get("alphaname_id")),
                    recipients=tuple(recipient(p) for p in phones),
                )
            )
    return BulkStatus(tuple(mailings), tuple(errors))


def _listed(value: Any) -> list[Any]:
    """Return ``value`` if it is a list, else an empty one: a stray number lists nothing."""
    return value if isinstance(value, list) else []


def _mailing_error(said: str, names: Sequence[str]) -> MailingError:
    """Return one ``errors`` entry; the document writes them ``<mailing name>: <reason>``."""
    # A name may itself hold ": " (poster's are "feed: key"): the longest one sent that fits wins.
    sent = [n for n in names if said.startswith(f"{n}: ")]
    if sent:
        name = max(sent, key=len)
        reason = said[len(name) + 2 :]
    else:
        name, sep, reason = said.partition(": ")
        if not sep:
            name, reason = "", said
    rule = codes.classify(None, reason)
    return MailingError(name=name, text=reason, action=rule.action, hint=rule.hint)


def mailing(raw: dict[str, Any]) -> Mailing:
    """Return one mailing of ``getViberMessages``/``getViberMessageData``."""
    return Mailing(
        message_id=text(raw.get("message_id")),
        message_type=text(raw.get("message_type")),
        message=text(raw.get("message")),
        button_caption=text(raw.get("button_caption")),
        button_link=text(raw.get("button_link")),
        image_file=text(raw.get("image_file")),
        status=text(raw.get("status")),
        d_create=text(raw.get("d_create")),
        d_schedule=text(raw.get("d_schedule")),
        cost=text(raw.get("cost")),
    )


def vibername(raw: dict[str, Any]) -> ViberName:
    """Return one ``getVibernames`` item."""
    found = raw.get("vibername_id", raw.get("id"))
    return ViberName(integer(found), text(raw.get("name", raw.get("vibername"))))


def subscriber_list(raw: dict[str, Any]) -> SubscriberList:
    """Return one ``getSubscriberLists`` item."""
    found = raw.get("list_id", raw.get("id"))
    count = raw.get("count_subscribers", raw.get("count"))
    return SubscriberList(
        integer(found), text(raw.get("name")), None if count is None else integer(count)
    )
