"""Send subscription and unsubscription requests to a WebSub hub (WebSub §5.1).

A hub may redirect a request with 307 or 308 (§5.1.2); the request is sent again to the new URL,
a few hops at most. Each hop is asked over HTTPS when its URL is plain HTTP to a public host
(§8.2): the request carries the secret that signs what the hub pushes, and pushed content is
posted as polled content is. Plain HTTP stays for loopback and private hosts, and a request over
it goes without the secret (§5.1), so such a hub pushes unsigned content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from poster.errors import HubError
from poster.fetch.addresses import AddressPolicy
from poster.push.subscriptions import Subscription

log = logging.getLogger(__name__)

TIMEOUT = 10.0
"""Seconds a hub has to answer a request; it verifies later, on a call of its own."""
MAX_HOPS = 5
"""Redirects followed for one request before it counts as refused."""
REDIRECTS = frozenset({307, 308})
"""The redirects WebSub §5.1.2 names; a hub's other 3xx answers are refusals."""
ADDRESSES = AddressPolicy()


def ask(
    client: httpx.Client,
    sub: Subscription,
    mode: str,
    callback_url: str,
    addresses: AddressPolicy = ADDRESSES,
    giving: Callable[[bool], None] = lambda given: None,
) -> str | None:
    """Ask the hub to (un)subscribe; return where a 308 moved it, or None.

    ``giving`` is told, before each subscription request goes out, whether it gives the secret.
    Raise HubError when the hub refuses or cannot be reached.
    """
    url, moved, lasting = sub.hub_url, None, True
    for _ in range(MAX_HOPS + 1):
        asked = secure(url, addresses)
        form = _form(sub, mode, callback_url, asked)
        if mode == "subscribe":
            giving("hub.secret" in form)
        status, location = _post(client, sub, asked, form)
        if status not in REDIRECTS or not location:
            break
        url = _redirected(sub, asked, location)
        # Only a chain of 308s moves the hub: a 308 after a 307 is relative to a passing URL.
        lasting = lasting and status == 308
        moved = url if lasting else moved
    else:
        raise HubError(sub.feed, f"hub {sub.hub_url} redirected more than {MAX_HOPS} times")
    if not 200 <= status < 300:
        raise HubError(sub.feed, f"hub {asked} refused to {mode}: HTTP {_status(status)}")
    log.info("event=websub-asked feed=%s mode=%s hub=%s http=%d", sub.feed, mode, asked, status)
    return moved


def _form(sub: Subscription, mode: str, callback_url: str, url: str) -> dict[str, str]:
    """Return the request to send to ``url``, with the secret only on a subscription over HTTPS."""
    form = {"hub.mode": mode, "hub.topic": sub.topic, "hub.callback": callback_url}
    # WebSub §5.1: hub.secret "SHOULD only be specified when the request was made over HTTPS".
    if mode == "subscribe" and urlsplit(url).scheme.lower() == "https":
        form["hub.secret"] = sub.secret
    return form


def secure(url: str, addresses: AddressPolicy = ADDRESSES) -> str:
    """Return ``url`` over HTTPS when it is plain HTTP to a host that is not local (WebSub §8.2)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or _local(parts.hostname, parts.port or 80, addresses):
        return url
    return urlunsplit(("https", *parts[1:]))


def _local(host: str | None, port: int, addresses: AddressPolicy) -> bool:
    """Tell whether every address of ``host`` is loopback or private; unresolved ones are not."""
    if not host:
        return False
    try:
        found = addresses.addresses(host, port)
    except (OSError, ValueError, UnicodeError):
        return False
    return bool(found) and not any(addresses.public(address) for address in found)


def _post(
    client: httpx.Client, sub: Subscription, url: str, form: dict[str, str]
) -> tuple[int, str | None]:
    """Send one request; return its status and the Location it names."""
    try:
        # The answer's body is never read: only its head matters, and the body stays unbounded.
        with client.stream("POST", url, data=form, timeout=TIMEOUT) as response:
            return response.status_code, response.headers.get("location")
    except httpx.TimeoutException as exc:
        raise HubError(sub.feed, f"hub {url}: no answer within {TIMEOUT:g}s") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        # The exception text may quote the request; name only its kind.
        raise HubError(sub.feed, f"cannot reach hub {url} ({type(exc).__name__})") from exc


def _redirected(sub: Subscription, url: str, location: str) -> str:
    """Return the absolute URL a redirect names, refusing one poster cannot send a request to."""
    target = urljoin(url, location.strip())
    if urlsplit(target).scheme.lower() not in ("http", "https"):
        raise HubError(sub.feed, f"hub {url} redirected to a URL that is not HTTP")
    return target


def _status(code: int) -> str:
    """Return a status code with its phrase when it has one."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)
