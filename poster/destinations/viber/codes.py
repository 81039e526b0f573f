"""Map every status of the Channels Post API to what poster does and what an operator should do.

The codes are the reference's "Error Codes" (``viber-channels-post-api.txt``): the API answers
HTTP 200 even when it refuses, so the outcome is the JSON ``status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

STATUS_ACTIONS: Mapping[int, str] = MappingProxyType(
    {0: "ok",
     12: "retry",
     1: "fatal", 2: "fatal", 7: "fatal", 8: "fatal", 9: "fatal", 10: "fatal",
     3: "reject", 4: "reject"}
)  # fmt: skip
"""What poster does with each API ``status``; any code not listed is a general error: reject."""

STATUS_TEXT: Mapping[int, tuple[str, str, str]] = MappingProxyType(
    {
        0: ("ok", "Success", ""),
        1: ("invalidUrl", "The webhook URL is not valid",
            "Viber takes posts only while the channel's webhook is valid: set one it can reach "
            "with `poster webhook set https://…`; the daemon posts again soon after its "
            "receiver answers Viber's check"),
        2: ("invalidAuthToken", "The authentication token is not valid",
            "the token is wrong or has been revoked; copy it again from the channel's info "
            "screen, Developer Tools, and set it {where}"),
        3: ("badData", "There is an error in the request itself",
            "Viber could not read the request"),
        4: ("missingData", "Some mandatory data is missing",
            "the request lacks a field Viber requires"),
        7: ("publicAccountBlocked", "The account is blocked",
            "posting stays stopped until Viber unblocks the channel"),
        8: ("publicAccountNotFound", "The token does not belong to a channel",
            "use the token from the channel's info screen, Developer Tools"),
        9: ("publicAccountSuspended", "The account is suspended",
            "posting stays stopped until Viber lifts the suspension"),
        10: ("webhookNotSet", "No webhook was set for the account",
             "Viber requires a webhook before posting: start the webhook receiver, then run "
             "`poster webhook set URL`; the daemon posts again soon after its receiver "
             "answers Viber's check"),
        12: ("tooManyRequests", "Rate control breach",
             "Viber is limiting the request rate; wait a minute and try again"),
    }
)  # fmt: skip
"""The reference's "Error Codes" (name, description), and what an operator should do."""


def action_for(status: int) -> str:
    """Return what poster does with an API status: ok, retry, fatal or reject."""
    return STATUS_ACTIONS.get(status, "reject")


def describe(status: int, status_message: str) -> str:
    """Return ``status N name (description)`` for a status, known or not."""
    name, description, _ = STATUS_TEXT.get(status, ("", "General error", ""))
    return f"status {status} {status_message or name or 'failure'} ({description})"


def advice(status: int, name: str | None = None) -> str:
    """Return ``; what to do`` for a status with advice, else an empty string.

    ``name`` is the destination's, whose token variable, section and credential a token's
    advice names.
    """
    found = STATUS_TEXT.get(status, ("", "", ""))[2]
    if not found:
        return ""
    return "; " + found.replace("{where}", _token_places(name))


def _token_places(name: str | None) -> str:
    """Name where destination ``name``'s token is set."""
    if name is None:
        return "where the destination's token is set"
    from poster.config.settings import token_env
    from poster.secrets import section

    return (
        f"in {token_env(name)}, [{section(name)}] token_file, or the systemd credential "
        f"{name}-token"
    )


WEBHOOK_NOT_SET = 10
"""The status of a post refused because the channel has no webhook yet."""


def refused_for_webhook(refusal: str) -> bool:
    """Tell whether a destination's refusal is for want of a valid webhook (status 10 or 1)."""
    return any(describe(status, "").split(" (", 1)[1] in refusal for status in (10, 1))
