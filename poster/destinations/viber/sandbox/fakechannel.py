"""Keep a sandbox channel's state and answer its API calls as the Channels Post API does.

Each call is answered from the raw request: the token (header ``X-Viber-Auth-Token`` or body
``auth_token``), the JSON body, then the endpoint's own checks (``rules``). Answers mirror the
reference: HTTP 200 with ``{"status", "status_message", ...}``. Queued faults change the next
``/post`` answers so clients can be tested against rate limits, errors and lost answers.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from poster.destinations.viber.sandbox.rules import (
    BAD_DATA,
    BODY_MAX_BYTES,
    INVALID_AUTH_TOKEN,
    INVALID_URL,
    MISSING_DATA,
    OK,
    TOO_MANY_REQUESTS,
    WEBHOOK_NOT_SET,
    Rejection,
    check_message,
    check_sender,
)
from poster.destinations.viber.sandbox.webhook import call_problem, url_problem
from poster.frozen import frozen

DEFAULT_MEMBERS: tuple[Mapping[str, str], ...] = (
    {"id": "sandbox-superadmin=", "name": "Sandbox Admin", "role": "superadmin"},
    {"id": "sandbox-admin=", "name": "Sandbox Editor", "role": "admin"},
)

EVENT_TYPES = ("delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started")
"""What set_webhook answers; the reference calls them deprecated but still sends them."""

CHAT_HOSTNAME = "SN-SANDBOX_"
"""The host name a post answer carries; the real API names its chat server here."""

FAULT_KINDS = ("rate_limit", "http500", "drop", "drop_before", "slow:<seconds>")

WebhookCaller = Callable[[str, str | None], str | None]


@frozen
class Fault:
    """One injected misbehaviour for one ``/post`` call."""

    kind: str
    seconds: float = 0.0

    def __str__(self) -> str:
        return f"slow:{self.seconds:g}" if self.kind == "slow" else self.kind


def parse_fault(text: str) -> Fault:
    """Return the fault named by ``text``; raise ValueError naming the known kinds."""
    kind, colon, argument = text.partition(":")
    if kind == "slow" and colon:
        try:
            seconds = float(argument)
        except ValueError:
            seconds = -1.0
        if 0 <= seconds < 3600:
            return Fault("slow", seconds)
    elif not colon and kind in FAULT_KINDS:
        return Fault(kind)
    raise ValueError(f"unknown fault {text!r}; use one of {', '.join(FAULT_KINDS)}")


@frozen
class Reply:
    """What the server does for one call: a JSON body after ``delay`` seconds, or hang up."""

    body: Mapping[str, Any] | None
    http_status: int = 200
    delay: float = 0.0


def _refusal(rejection: Rejection) -> Reply:
    return Reply({"status": rejection.status, "status_message": rejection.status_message})


_EARLY_REPLIES = {
    "drop_before": Reply(None),
    "rate_limit": Reply({"status": TOO_MANY_REQUESTS, "status_message": "Too many requests"}),
    # No "status" field: a client that ignores the HTTP status should fail loudly here.
    "http500": Reply({"error": "Internal Server Error"}, http_status=500),
}


@dataclass
class _State:
    """The mutable part of a channel, guarded by ``Channel._lock``."""

    webhook: str | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    revoked: bool = False


class Channel:
    """Hold one sandbox channel (token, members, webhook, posts, faults) and answer API calls."""

    def __init__(
        self,
        *,
        token: str,
        channel_name: str,
        members: Sequence[Mapping[str, str]] | None = None,
        call_webhook: WebhookCaller = call_problem,
        sign_callbacks: bool = True,
    ) -> None:
        self.channel_name = channel_name
        self.sign_callbacks = sign_callbacks
        """Sign the check call as the real Viber does; False sends it as the reference shows it."""
        self.account_id = f"pa:{secrets.randbelow(10**20):020d}"
        self.members = [dict(m) for m in (DEFAULT_MEMBERS if members is None else members)]
        self._token = token
        self._call_webhook = call_webhook
        self._lock = threading.Lock()
        self._state = _State()

    @property
    def posts(self) -> list[dict[str, Any]]:
        """Return copies of the accepted posts, oldest first, without any token."""
        with self._lock:
            return [dict(post) for post in self._state.posts]

    @property
    def webhook(self) -> str | None:
        """Return the webhook URL currently set, if any."""
        with self._lock:
            return self._state.webhook

    @property
    def pending_faults(self) -> list[str]:
        """Return the faults still queued for coming ``/post`` calls, next first."""
        with self._lock:
            return [str(fault) for fault in self._state.faults]

    @property
    def revoked(self) -> bool:
        """Tell whether the token is revoked, so every call with it is refused with status 2."""
        with self._lock:
            return self._state.revoked

    def set_revoked(self, revoked: bool) -> None:
        """Revoke the token (as a superadmin does in the app) or restore it."""
        with self._lock:
            self._state.revoked = revoked

    def owns(self, token: object) -> bool:
        """Tell whether ``token`` is this channel's token, revoked or not."""
        return self._token_matches(token)

    def clear(self) -> None:
        """Forget the accepted posts, so a fresh render shows on an empty channel."""
        with self._lock:
            self._state.posts.clear()

    def inject(self, *faults: str) -> None:
        """Queue faults, one per coming ``/post`` call; raise ValueError on an unknown one."""
        parsed = [parse_fault(text) for text in faults]
        with self._lock:
            self._state.faults.extend(parsed)

    def call(self, endpoint: str, header_token: str | None, raw: bytes) -> Reply:
        """Answer one call to ``/pa/<endpoint>`` with the raw body and the header token."""
        answer = _ENDPOINTS.get(endpoint)
        if answer is None:
            message = f"unknown endpoint /pa/{endpoint}; use {', '.join(_ENDPOINTS)}"
            return Reply({"status": BAD_DATA, "status_message": message}, http_status=404)
        fault = self._next_fault() if endpoint == "post" else None
        if fault is not None and fault.kind in _EARLY_REPLIES:
            return _EARLY_REPLIES[fault.kind]
        request = self._open(header_token, raw)
        reply = _refusal(request) if isinstance(request, Rejection) else answer(self, request)
        if fault is not None and fault.kind == "drop":
            return Reply(None)
        if fault is not None and fault.kind == "slow":
            return Reply(reply.body, reply.http_status, delay=fault.seconds)
        return reply

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._state.faults.popleft() if self._state.faults else None

    def _token_matches(self, token: object) -> bool:
        expected = self._token.encode("utf-8")
        return isinstance(token, str) and hmac.compare_digest(token.encode("utf-8"), expected)

    def _open(self, header_token: str | None, raw: bytes) -> dict[str, Any] | Rejection:
        """Return the authenticated JSON body, or why the call is refused before any endpoint."""
        if header_token and not self._token_matches(header_token):
            return Rejection(
                INVALID_AUTH_TOKEN, "the X-Viber-Auth-Token header is not this channel's token"
            )
        try:
            # An empty body counts as {} ("Post data {}" for get_account_info).
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return Rejection(BAD_DATA, "the body is not valid JSON (UTF-8); send a JSON object")
        if not isinstance(body, dict):
            return Rejection(BAD_DATA, "the body must be a JSON object")
        if not header_token and "auth_token" not in body:
            return Rejection(
                INVALID_AUTH_TOKEN,
                "no auth token: send the X-Viber-Auth-Token header or auth_token in the body",
            )
        if "auth_token" in body and not self._token_matches(body["auth_token"]):
            return Rejection(INVALID_AUTH_TOKEN, "auth_token is not this channel's token")
        if self.revoked:
            return Rejection(
                INVALID_AUTH_TOKEN, "this channel's token was revoked; use its new token"
            )
        if len(raw) > BODY_MAX_BYTES:
            return Rejection(
                BAD_DATA, f"the body is {len(raw)} bytes; the limit is {BODY_MAX_BYTES} (30 KB)"
            )
        return body

    def _post(self, body: dict[str, Any]) -> Reply:
        """Validate and record one post ("Sending a message")."""
        if self.webhook is None:
            return _refusal(Rejection(WEBHOOK_NOT_SET, "no webhook is set: call set_webhook first"))
        rejection = check_sender(body, self.members) or check_message(body)
        if rejection is not None:
            return _refusal(rejection)
        token = secrets.randbelow(2**63 - 1) + 1
        post = {key: value for key, value in body.items() if key != "auth_token"}
        post.update(message_token=token, ts=int(time.time() * 1000))
        with self._lock:
            self._state.posts.append(post)
        ok = {"status": OK, "status_message": "ok", "message_token": token}
        return Reply(ok | {"chat_hostname": CHAT_HOSTNAME})

    def _set_webhook(self, body: dict[str, Any]) -> Reply:
        """Set or remove the webhook after the check call ("Setting a webhook")."""
        url = body.get("url")
        if url is None:
            return _refusal(
                Rejection(MISSING_DATA, 'url is required; send "" to remove the webhook')
            )
        if not isinstance(url, str):
            return _refusal(Rejection(BAD_DATA, "url must be a string"))
        if url:
            key = self._token if self.sign_callbacks else None
            problem = url_problem(url) or self._call_webhook(url, key)
            if problem is not None:
                return _refusal(Rejection(INVALID_URL, problem))
        with self._lock:
            self._state.webhook = url or None
        if not url:
            return Reply({"status": OK, "status_message": "ok"})
        return Reply({"status": OK, "status_message": "ok", "event_types": list(EVENT_TYPES)})

    def _account_info(self, body: dict[str, Any]) -> Reply:
        """Describe the channel and its members ("Get Account Info")."""
        info: dict[str, Any] = {"status": OK, "status_message": "ok"}
        # The reference's example spells the key "Id"; clients written against the Bot API
        # read "id". Both carry the same value so either reading works.
        info.update(id=self.account_id, Id=self.account_id, chat_hostname=self.channel_name)
        info["members"] = [dict(member) for member in self.members]
        if (url := self.webhook) is not None:
            info["webhook"] = url
        return Reply(info)


_ENDPOINTS: dict[str, Callable[[Channel, dict[str, Any]], Reply]] = {
    "post": Channel._post,
    "set_webhook": Channel._set_webhook,
    "get_account_info": Channel._account_info,
}
