"""Send feed requests straight to an httpx transport, one hop at a time, keeping no cookies.

``httpx.Client`` runs auth flows, event hooks, a cookie jar and redirect bookkeeping around each
request. A feed poll needs none of them: ``fetch`` follows redirects itself, feeds get only the
headers configured for them, and a long-running poller would otherwise collect every site's
cookies. Sending to the transport directly spares about a quarter of the CPU a conditional
request costs, which is most of a pass where nothing changed. httpx's request, response and
error types stay.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.request import getproxies

import httpx

from poster.fetch.transport import DEFAULT_PORTS, StdlibTransport

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Credentials meant for one origin must not follow a redirect to another (RFC 9110 §15.4).
_ORIGIN_BOUND = ("Authorization", "Cookie")


class FeedClient:
    """Send GET requests for feeds through one transport, with default headers and a timeout."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        *,
        headers: Mapping[str, str],
        timeout: float,
    ) -> None:
        self.transport = transport
        self.headers = httpx.Headers(headers)
        self.timeout = timeout

    def request(
        self,
        url: httpx.URL,
        headers: httpx.Headers,
        timeout: float | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> httpx.Request:
        """Return a GET for ``url`` with the default headers, then ``headers``, and a timeout."""
        merged = httpx.Headers(self.headers)
        merged.update(headers)
        return httpx.Request(
            "GET",
            url,
            headers=merged,
            extensions={**_timeouts(timeout or self.timeout), **(extensions or {})},
        )

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the caller reads the body and closes the response."""
        response = self.transport.handle_request(request)
        response.request = request
        return response

    def close(self) -> None:
        """Close the transport and the connections it keeps."""
        self.transport.close()

    def __enter__(self) -> FeedClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def next_request(request: httpx.Request, response: httpx.Response) -> httpx.Request | None:
    """Return the GET that follows a redirect (RFC 9110 §15.4), or ``None`` for a final answer."""
    if response.status_code not in _REDIRECTS or "location" not in response.headers:
        return None
    url = _redirect_url(request, response.headers["location"])
    headers = httpx.Headers(request.headers)
    if _origin(url) != _origin(request.url):
        if not _is_https_upgrade(request.url, url):
            for name in _ORIGIN_BOUND:
                headers.pop(name, None)
        headers["Host"] = url.netloc.decode("ascii")
    return httpx.Request("GET", url, headers=headers, extensions=request.extensions)


def _proxied_transport() -> httpx.BaseTransport:
    """Return a transport for the environment's proxies: httpx's client, which mounts them."""
    return _ClientTransport(httpx.Client(follow_redirects=False, trust_env=True))


def default_transport() -> httpx.BaseTransport:
    """Return the http.client transport, or httpx's own when the environment names a proxy."""
    proxies = getproxies()
    if any(proxies.get(scheme) for scheme in ("http", "https", "all")):
        return _proxied_transport()
    return StdlibTransport()


class _ClientTransport(httpx.BaseTransport):
    """Send through an ``httpx.Client``, for what only it provides: proxies from the environment."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the client's proxy mounts, without following redirects."""
        response = self._client.send(request, stream=True)
        self._client.cookies.clear()  # feeds get only the headers configured for them
        return response

    def close(self) -> None:
        """Close the client."""
        self._client.close()


def api_client() -> httpx.Client:
    """Return an ``httpx.Client`` for destination APIs whose transport is built on first use.

    httpx builds a transport's TLS context (reading the CA bundle) when the client is made; a
    pass with nothing to post never needs it.
    """
    return httpx.Client(transport=_FirstUseTransport())


class _FirstUseTransport(httpx.BaseTransport):
    """Build httpx's own transport on the first request, then send every request through it."""

    def __init__(self) -> None:
        self._built: httpx.HTTPTransport | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through httpx's transport, building it first if needed."""
        with self._lock:
            if self._built is None:
                self._built = httpx.HTTPTransport()
            transport = self._built
        return transport.handle_request(request)

    def close(self) -> None:
        """Close the transport, if it was ever built."""
        with self._lock:
            if self._built is not None:
                self._built.close()


def _redirect_url(request: httpx.Request, location: str) -> httpx.URL:
    """Resolve a Location header against the request's URL, as httpx's client does."""
    try:
        url = httpx.URL(location)
    except httpx.InvalidURL as exc:
        raise httpx.RemoteProtocolError(
            f"Invalid URL in location header: {exc}.", request=request
        ) from None
    if url.scheme and not url.host:
        # A malformed absolute Location such as "https:/path" keeps the current host.
        url = url.copy_with(host=request.url.host)
    if url.is_relative_url:
        url = request.url.join(url)
    if request.url.fragment and not url.fragment:
        url = url.copy_with(fragment=request.url.fragment)  # RFC 9110 §10.2.2
    return url


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Return the scheme, host and effective port of ``url``."""
    return url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme)


def _is_https_upgrade(old: httpx.URL, new: httpx.URL) -> bool:
    """Tell whether a redirect only moves the same host from http to https on default ports."""
    return (
        old.host == new.host
        and (old.scheme, new.scheme) == ("http", "https")
        and old.port in (80, None)
        and new.port in (443, None)
    )


def _timeouts(seconds: float) -> dict[str, dict[str, float]]:
    """Return the request extension that sets every httpx timeout to ``seconds``."""
    return {"timeout": {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}}


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def display(url: httpx.URL | str) -> str:
    """Return ``url`` without its user info, which may hold a password."""
    return _USERINFO.sub(r"\1", str(url))
