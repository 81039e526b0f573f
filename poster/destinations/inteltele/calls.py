"""Make one HTTP call to the Intel Tele API and turn every way it can fail into a poster error.

This is the one edge where httpx errors, HTTP statuses and the gateway's error texts become
``RetryLater``, ``DeliveryUncertain``, ``DestinationFatal`` or ``MessageRejected``. Errors name
the endpoint's URL without its query: over GET the query carries ``api_key``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from poster.destinations.inteltele import wire
from poster.destinations.inteltele.outcomes import action_for, hint_for
from poster.errors import (
    DeliveryError,
    DeliveryUncertain,
    DestinationFatal,
    MessageRejected,
    RetryLater,
)
from poster.fetch import apicall
from poster.fetch.headers import parse_retry_after
from poster.frozen import frozen
from poster.text import when

ANSWER_MAX = 4 * 1024 * 1024
"""Answers above this are not read: the rates table, the largest, is a few KB."""
FORM = "application/x-www-form-urlencoded"
_STATUS_MAX = 200
_REJECTING_HTTP = frozenset({400, 413, 414, 422})
T = TypeVar("T")


@frozen
class ReadAnswer:
    """Who asks what: the destination's name, the endpoint, and whether the call sends."""

    name: str
    endpoint: str
    sends: bool
    """True for ``im/send``: a lost answer may hide a queued message."""


def call(
    client: httpx.Client,
    method: str,
    url: str,
    params: Mapping[str, str],
    timeout: httpx.Timeout,
    who: ReadAnswer,
    read: Callable[[Any], T],
) -> T:
    """Send ``params`` to ``url`` (query for GET, form for POST) and return ``read(data)``.

    ``url`` has no query; every error names it alone, never the params (they hold the key).
    """
    encoded = urlencode(params)
    target, content, headers = url, None, {}
    if method == "GET":
        target = f"{url}?{encoded}" if encoded else url
    else:
        content, headers = encoded.encode("ascii"), {"Content-Type": FORM}
    try:
        answer = apicall.call(
            client, method, target, headers=headers, content=content, timeout=timeout,
            limit=ANSWER_MAX, replayable=not who.sends,
        )  # fmt: skip
    except httpx.LocalProtocolError:
        # h11 may quote the offending value, which could be the key: drop the cause.
        raise DestinationFatal(f"{who.name}: could not build the {who.endpoint} request") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _transport_error(exc, who, url) from exc
    if answer.body is None:
        raise _lost(who, f"an answer over {ANSWER_MAX} bytes from {url}")
    data = interpret(answer.status, answer.header("retry-after"), answer.body, who)
    try:
        return read(data)
    except wire.Unreadable as exc:
        raise _lost(who, f"HTTP {answer.status} but {exc}", answer.status) from exc


def interpret(code: int, wait: str | None, content: bytes, who: ReadAnswer) -> Any:
    """Return the data of an answer, or raise the error its HTTP status or error text means.

    ``wait`` is the answer's Retry-After field, if it has one.
    """
    retry_after = parse_retry_after(wait)
    try:
        data = wire.decode(content)
    except wire.Unreadable:
        data = None
    error = wire.whole_error(data) if data is not None else None
    if error is not None:
        raise api_error(error[:_STATUS_MAX], who)
    if code == 429 or (code >= 500 and not who.sends):
        raise RetryLater(
            f"{who.name} answered HTTP {code} to {who.endpoint}; will retry {when(retry_after)}",
            code,
            f"HTTP {code}",
            retry_after,
        )
    if code >= 500:
        raise _lost(who, f"HTTP {code} without a readable answer", code, retry_after)
    if not 200 <= code < 300:
        if who.sends and code in _REJECTING_HTTP:
            raise MessageRejected(f"{who.name} rejected the message: HTTP {code}", code)
        raise DestinationFatal(
            f"{who.name} answered HTTP {code} to {who.endpoint}; check the base URL", code
        )
    if data is None:
        raise _lost(who, f"HTTP {code} with an answer that is not the API's JSON", code)
    return data


def api_error(status: str, who: ReadAnswer) -> DeliveryError:
    """Return the error for a whole-request error text: the one policy for the error table."""
    action = action_for(status, per_number=False)
    hint = hint_for(status)
    text = f"{who.name} refused {who.endpoint}: {status}" + (f"; {hint}" if hint else "")
    if action == "reject" and who.sends:
        return MessageRejected(text, None, status)
    # A read refused for a bad param is no fault of any one message: the setup is wrong.
    return DestinationFatal(text, None, status)


def _lost(
    who: ReadAnswer, what: str, code: int | None = None, retry_after: float | None = None
) -> DeliveryError:
    """Return the error for an answer poster cannot use: uncertain for a send, else fatal."""
    if who.sends:
        return DeliveryUncertain(
            f"{who.name} answered {who.endpoint} with {what}; the message may have been "
            "queued, so it is not sent again automatically",
            code,
            what,
        )
    return DestinationFatal(f"{who.name} answered {who.endpoint} with {what}; check the base URL")


def _transport_error(
    exc: httpx.HTTPError | httpx.InvalidURL, who: ReadAnswer, url: str
) -> DeliveryError:
    """Map an httpx error to retry (never sent), uncertain (maybe sent) or fatal (bad URL)."""
    kind = type(exc).__name__
    # Nothing left this machine: the connection or a pool slot was never obtained.
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return RetryLater(f"{who.name}: cannot reach {url} ({kind}); will retry later")
    if isinstance(exc, httpx.ProxyError):
        return RetryLater(f"{who.name}: the proxy to {url} failed ({kind}); will retry later")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return DestinationFatal(f"{who.name}: cannot call {url} ({kind}); check the base URL")
    if not who.sends:
        # Reading a status or the balance twice does no harm.
        return RetryLater(f"{who.name}: the {who.endpoint} call to {url} failed ({kind})")
    # Read timeouts, dropped connections and the like after sending began: the gateway may
    # have queued the message, and a second send would reach the phones twice.
    return DeliveryUncertain(
        f"{who.name}: the connection to {url} failed after the message was sent ({kind}); "
        "it may have been queued, so it is not sent again automatically"
    )
