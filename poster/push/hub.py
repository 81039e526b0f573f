"""Send subscription and unsubscription requests to a WebSub hub (WebSub §5.1)."""

from __future__ import annotations

import logging
from http import HTTPStatus

import httpx

from poster.errors import HubError
from poster.push.subscriptions import Subscription

log = logging.getLogger(__name__)

TIMEOUT = 10.0
"""Seconds a hub has to answer a request; it verifies later, on a call of its own."""


def ask(client: httpx.Client, sub: Subscription, mode: str, callback_url: str) -> None:
    """Ask the hub to (un)subscribe; raise HubError when it refuses or cannot be reached."""
    form = {"hub.mode": mode, "hub.topic": sub.topic, "hub.callback": callback_url}
    if mode == "subscribe":
        form["hub.secret"] = sub.secret
    try:
        # The answer's body is never read: only its status matters, and it stays unbounded.
        with client.stream("POST", sub.hub, data=form, timeout=TIMEOUT) as response:
            status = response.status_code
    except httpx.TimeoutException as exc:
        raise HubError(sub.feed, f"hub {sub.hub}: no answer within {TIMEOUT:g}s") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        # The exception text may quote the request; name only its kind.
        raise HubError(sub.feed, f"cannot reach hub {sub.hub} ({type(exc).__name__})") from exc
    if not 200 <= status < 300:
        raise HubError(sub.feed, f"hub {sub.hub} refused to {mode}: HTTP {_status(status)}")
    log.info("event=websub-asked feed=%s mode=%s hub=%s http=%d", sub.feed, mode, sub.hub, status)


def _status(code: int) -> str:
    """Return a status code with its phrase when it has one."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)
