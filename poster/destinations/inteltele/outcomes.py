"""Map every error of ``inteltele-im-api.txt`` to what poster does, with a hint for the operator.

Whole-request errors arrive as ``{"reply": [{"status": "error: ..."}]}`` (``rates``:
``{"error": true, "message"|"status": "..."}``); per-number errors carry the ``number``.
Actions: ``retry`` (try the same call later), ``fatal`` (stop the destination until an operator
acts), ``reject`` (this message can never be sent as is), ``reject-recipient`` (skip this number
for this message), ``retry-recipient`` (this number was not sent nor charged: try it again
later). An error text not listed is ``reject`` for a whole request and
``reject-recipient`` for a number: neither says the account is unusable.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_CREDENTIALS = "check the username and API key in the gateway profile (keys may be revoked)"

ERRORS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        # Whole request.
        "wrong username/api_key": ("fatal", f"the username or API key is wrong; {_CREDENTIALS}"),
        "wrong api key": ("fatal", f"the API key does not match the username; {_CREDENTIALS}"),
        "invalid auth": ("fatal", f"the gateway refused the credentials; {_CREDENTIALS}"),
        "bruteforcing detected": (
            "fatal",
            "too many refused logins: the gateway blocks this IP for 5 minutes; fix the "
            "username and API key before resuming",
        ),
        "ip not allowed": (
            "fatal",
            "this machine's IP is not listed in the gateway profile; add it there",
        ),
        "sender is banned": (
            "fatal",
            "the gateway banned the sender (im_sender) as spam; contact its technical support",
        ),
        "can't send message": (
            "reject",
            "a required param (to, im_message) is missing or another param is invalid",
        ),
        "message is too long": ("reject", "the message is over 1000 symbols; shorten the template"),
        # Per number.
        "number is blacklisted": (
            "reject-recipient",
            "the subscriber opted out of messages; remove the number or ask technical support",
        ),
        # "blocked from being repeatedly sent to the same number within 1 minute": the document
        # does not say a repeat is the same text, so any message to the number may count.
        "repeat detected": (
            "retry-recipient",
            "a message went to this number less than a minute ago; it is tried again after a "
            "minute, and refused for good after three such refusals",
        ),
        "can't determine country": (
            "reject-recipient",
            "the number's country is unknown; check it is in international format",
        ),
        "no route to country": (
            "reject-recipient",
            "the gateway profile has no active route to the number's country; ask sales",
        ),
        "low balance": (
            "fatal",
            "the balance ran out: top up the account, then resume; later numbers were not sent",
        ),
    }
)
"""The document's error texts (without "error: "), each with its action and operator hint."""


def error_key(status: str) -> str:
    """Return the table key of a gateway status text such as "error: Wrong API key"."""
    text = status.strip().replace("\u2019", "'").lower()
    return text.removeprefix("error:").strip()


def is_ok(status: str) -> bool:
    """Tell whether a per-number status says the message was queued."""
    return status.strip().upper() == "OK"


def action_for(status: str, *, per_number: bool) -> str:
    """Return what poster does with an error text, for a whole request or for one number."""
    found = ERRORS.get(error_key(status))
    if found is not None:
        return found[0]
    return "reject-recipient" if per_number else "reject"


def hint_for(status: str) -> str:
    """Return what the operator should do about an error text, or an empty string."""
    found = ERRORS.get(error_key(status))
    return found[1] if found else ""
