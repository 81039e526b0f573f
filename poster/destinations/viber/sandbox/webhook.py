"""Check a webhook URL the way set_webhook does: allowed scheme, then the check callback.

The reference ("Setting a webhook", "Set webhook callback") requires an https URL and a callback
answered with HTTP 200. The sandbox runs offline, so it also accepts plain http on a loopback
host; https URLs are called for real and fail like any unreachable webhook. The reference shows
the callback unsigned; the real Viber signs it (``X-Viber-Content-Signature``), and so does the
sandbox unless told to send it as the reference shows it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import ssl
import time
from functools import cache
from urllib.parse import urlsplit

import httpx

CHECK_TIMEOUT = 5.0
"""Seconds the webhook has to answer the check call."""

SIGNATURE_HEADER = "X-Viber-Content-Signature"


def sign(body: bytes, token: str) -> str:
    """Return the lowercase hex HMAC-SHA256 of ``body`` keyed with the auth token."""
    return hmac.new(token.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _is_loopback(host: str) -> bool:
    """Tell whether ``host`` names this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """Return why ``url`` cannot be a webhook before any call is made, or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return f"url {url!r} is not a valid URL"
    if not host:
        return f"url {url!r} has no host"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and _is_loopback(host):
        return None
    return (
        f"url {url!r} must use https (plain http is accepted only on a loopback host "
        "such as 127.0.0.1 in the sandbox)"
    )


@cache
def _tls() -> ssl.SSLContext:
    """Return one verifying TLS context for every check call; building one costs ~50 ms."""
    return httpx.create_ssl_context()


def check_body(now: float | None = None) -> bytes:
    """Return the JSON body of one check callback ("Set webhook callback")."""
    stamp = int((time.time() if now is None else now) * 1000)
    event = {"event": "webhook", "timestamp": stamp, "message_token": secrets.randbits(63)}
    return json.dumps(event, separators=(",", ":")).encode("utf-8")


def call_problem(url: str, token: str | None, timeout: float = CHECK_TIMEOUT) -> str | None:
    """Send the check callback to ``url``, signed with ``token`` unless it is None.

    Return why the call failed, or None when the webhook answered HTTP 200.
    """
    body = check_body()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers[SIGNATURE_HEADER] = sign(body, token)
    try:
        # No proxies from the environment: the webhook is called directly, as Viber would.
        with httpx.Client(timeout=timeout, trust_env=False, verify=_tls()) as client:
            response = client.post(url, content=body, headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return f"the check call to {url} failed ({type(exc).__name__}: {exc})"
    if response.status_code != 200:
        return (
            f"the check call to {url} got HTTP {response.status_code}; the webhook must answer 200"
        )
    return None
