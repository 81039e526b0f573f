"""Read the channel's answers to ``get_account_info`` and ``set_webhook`` into records.

``api`` loads this module on the first such call, so a pass that only posts, or reads feeds
and posts nothing, builds none of these classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from poster.destinations.viber.codes import advice, describe
from poster.frozen import frozen


@frozen
class Member:
    """One admin of the channel as listed by ``get_account_info``."""

    id: str
    name: str
    role: str
    avatar: str | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.id}, {self.role})"


@frozen
class AccountInfo:
    """The channel's id, name and admins as registered in Viber."""

    id: str
    name: str
    members: tuple[Member, ...]

    def superadmins(self) -> tuple[Member, ...]:
        """Return the members allowed to be the sender of posts (role ``superadmin``)."""
        return tuple(m for m in self.members if m.role == "superadmin")


@frozen
class WebhookResult:
    """Viber's answer to ``set_webhook``, with an explanation in plain words."""

    ok: bool
    status: int
    status_message: str
    explanation: str


def account_info(data: Mapping[str, Any]) -> AccountInfo:
    """Return the channel's details and admins from a ``get_account_info`` answer."""
    raw = data.get("members")
    listed = raw if isinstance(raw, list) else []
    members = tuple(_member(m) for m in listed if isinstance(m, dict))
    # The reference's example spells the id "Id"; accept either spelling.
    account_id = data.get("id", data.get("Id", ""))
    name = data.get("name") or data.get("chat_hostname") or ""
    return AccountInfo(str(account_id), str(name), members)


def _member(raw: Mapping[str, Any]) -> Member:
    """Return one member of a ``get_account_info`` answer."""
    avatar = raw.get("avatar")
    return Member(
        id=str(raw.get("id", "")),
        name=str(raw.get("name", "")),
        role=str(raw.get("role", "")),
        avatar=str(avatar) if avatar else None,
    )


def webhook_result(url: str, status: int, status_message: str) -> WebhookResult:
    """Return a ``WebhookResult`` whose explanation tells the operator what happened."""
    if status == 0:
        done = "the webhook is removed"
        if url:
            done = f"Viber checked {url} and it answered 200; the webhook is set"
        return WebhookResult(True, 0, status_message, done)
    if not url:
        refused = _removal_refused(status, status_message)
        return WebhookResult(False, status, status_message, refused)
    if status == 1:
        explanation = (
            f"Viber could not reach {url} or it did not answer 200 to the check call; start "
            "the receiver first, make sure it is reachable from the internet over https:// with "
            "a certificate from a trusted certificate authority, then set the webhook again"
        )
    else:
        explanation = f"Viber refused the webhook: {describe(status, status_message)}"
        explanation += advice(status) or "; try again later"
    return WebhookResult(False, status, status_message, explanation)


def _removal_refused(status: int, status_message: str) -> str:
    """Explain a refused removal (``set_webhook`` with an empty URL) without naming a URL."""
    refused = f"Viber refused to remove the webhook: {describe(status, status_message)}"
    if status == 1:
        # The channel reference does not describe removal; Viber's REST API removes a webhook
        # with set_webhook and an empty url, which is what poster sends.
        return (
            f"{refused}; poster asks for the removal as Viber's API expects, with set_webhook "
            "and an empty url, and the channel did not take it. The webhook stays as it was; "
            "to move it, run `poster webhook set URL` with the new address"
        )
    return refused + (advice(status) or "; try again later")
