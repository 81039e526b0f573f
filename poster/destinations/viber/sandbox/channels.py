"""Keep the sandbox's channels, one per token, and answer the routes that manage them.

Routes (``<id>`` is the channel's number, 1 for the first; a token never appears in a URL)::

    GET  /sandbox/channels               each channel: id, name, posts, faults, revoked, webhook
    POST /sandbox/channels               {"token": ..., "name": ...} adds a channel
    GET  /sandbox/channels/<id>/posts    its accepted posts, oldest first, never with a token
    POST /sandbox/channels/<id>/faults   {"faults": ["rate_limit", ...]} queues faults
    POST /sandbox/channels/<id>/token    {"revoked": true} refuses its token with status 2;
                                         {"revoked": false} accepts it again
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

from poster.destinations.viber.sandbox.fakechannel import Channel
from poster.sandbox.httpio import read_body, send_json
from poster.secrets import token_problem

NAME_MAX = 80
"""The longest channel name the page shows whole."""

ROUTE = "/sandbox/channels"
_ONE = re.compile(r"/sandbox/channels/([1-9][0-9]{0,3})/(posts|faults|token)")


class Channels:
    """Hold the sandbox's channels in the order they were added; a call's token picks one."""

    def __init__(self, first: Channel) -> None:
        self._channels = [first]
        self._lock = threading.Lock()

    @property
    def all(self) -> list[Channel]:
        """Return every channel, the first one first."""
        with self._lock:
            return list(self._channels)

    def get(self, number: int) -> Channel | None:
        """Return channel ``number`` (1 for the first), or None."""
        channels = self.all
        return channels[number - 1] if 0 < number <= len(channels) else None

    def add(
        self, token: str, name: str = "", members: Sequence[Mapping[str, str]] | None = None
    ) -> int:
        """Add a channel answering to ``token`` and return its number; ValueError says why not."""
        problem = token_problem(token)
        if problem:
            raise ValueError(f"the token {problem}")
        if len(name) > NAME_MAX or not name.isprintable():
            raise ValueError(f"the name must be at most {NAME_MAX} printable characters")
        with self._lock:
            if any(channel.owns(token) for channel in self._channels):
                raise ValueError("another channel already has this token")
            number = len(self._channels) + 1
            title = name.strip() or f"Sandbox channel {number}"
            self._channels.append(Channel(token=token, channel_name=title, members=members))
        return number

    def pick(self, header_token: str | None, raw: bytes) -> Channel:
        """Return the channel whose token the call carries; the first refuses any other token."""
        token = header_token or _body_token(raw)
        channels = self.all
        return next((c for c in channels if token and c.owns(token)), channels[0])

    def overview(self) -> list[dict[str, Any]]:
        """Describe each channel for the page and for tests, without its token."""
        return [
            {
                "id": number,
                "name": channel.channel_name,
                "posts": len(channel.posts),
                "faults": channel.pending_faults,
                "revoked": channel.revoked,
                "webhook": channel.webhook,
            }
            for number, channel in enumerate(self.all, start=1)
        ]

    def route(self, handler: BaseHTTPRequestHandler, method: str, path: str) -> bool:
        """Answer a request to one of the routes above; return False for any other path."""
        if path == ROUTE:
            if method == "POST":
                self._add(handler)
            else:
                send_json(handler, 200, self.overview())
            return True
        match = _ONE.fullmatch(path)
        if match is None:
            return False
        channel = self.get(int(match[1]))
        if channel is None:
            send_json(handler, 404, {"error": f"no channel {match[1]}; see GET {ROUTE}"})
        elif method == "GET" and match[2] == "posts":
            send_json(handler, 200, channel.posts)
        elif method == "POST" and match[2] in ("faults", "token"):
            _switch(handler, channel, match[2])
        else:
            send_json(handler, 405, {"error": f"{method} is not allowed on {path}"})
        return True

    def _add(self, handler: BaseHTTPRequestHandler) -> None:
        """Add the channel a request describes and answer with its number and name."""
        body = _json_object(handler)
        if body is None:
            return
        token, name = body.get("token"), body.get("name", "")
        if not isinstance(token, str) or not isinstance(name, str):
            send_json(handler, 400, {"error": 'send {"token": "...", "name": "..."}'})
            return
        try:
            number = self.add(token, name)
        except ValueError as exc:
            send_json(handler, 400, {"error": str(exc)})
            return
        send_json(handler, 201, self.overview()[number - 1])


def switch_faults(channel: Channel, body: Mapping[str, Any]) -> dict[str, Any]:
    """Queue the faults a request names; ValueError says what a valid request is."""
    faults = body.get("faults")
    if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
        raise ValueError('send {"faults": ["rate_limit", "slow:2.5", ...]}')
    channel.inject(*faults)
    return {"faults": channel.pending_faults}


def _switch_token(channel: Channel, body: Mapping[str, Any]) -> dict[str, Any]:
    """Revoke or restore the token as a request says; ValueError says what a valid one is."""
    revoked = body.get("revoked")
    if not isinstance(revoked, bool):
        raise ValueError('send {"revoked": true} or {"revoked": false}')
    channel.set_revoked(revoked)
    return {"revoked": channel.revoked}


_SWITCHES = {"faults": switch_faults, "token": _switch_token}


def _switch(handler: BaseHTTPRequestHandler, channel: Channel, name: str) -> None:
    """Apply one switch to ``channel`` and answer with its new state, or 400 with the reason."""
    body = _json_object(handler)
    if body is None:
        return
    try:
        answer = _SWITCHES[name](channel, body)
    except ValueError as exc:
        send_json(handler, 400, {"error": str(exc)})
        return
    send_json(handler, 200, answer)


def _json_object(handler: BaseHTTPRequestHandler) -> dict[str, Any] | None:
    """Return the request's JSON object, or answer 400 and return None."""
    raw = read_body(handler)
    if raw is None:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        send_json(handler, 400, {"error": "the body must be a JSON object"})
        return None
    return body


def _body_token(raw: bytes) -> str | None:
    """Return the ``auth_token`` of a JSON body, or None when it has none."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    token = body.get("auth_token") if isinstance(body, dict) else None
    return token if isinstance(token, str) else None
