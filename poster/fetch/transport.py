"""Carry httpx requests over the standard library's http.client, keeping HTTP/1.1 connections alive.

httpx's own transport (httpcore and h11) spends several times the CPU of http.client on a small
exchange such as a 304 answer to a conditional GET, which is most of what a polling pass does.
``StdlibTransport`` keeps httpx's client (redirect handling, decoding, errors) and swaps the wire.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator, Mapping

import certifi
import httpx

from poster.fetch.addresses import Address, AddressPolicy, NonPublicAddress, ResolveCache
from poster.fetch.connections import Connection, Key, Pool, TLSConnection
from poster.fetch.watchdog import DeadlineExceeded

CHUNK_SIZE = 64 * 1024
DEADLINE = "poster.deadline"
"""Request extension: the ``time.monotonic()`` by which the whole exchange must be over."""
ALLOW_PRIVATE = "poster.allow_private"
"""Request extension: False refuses a host with a non-public address (absent: allowed)."""
PUBLIC = "poster.public"
"""Response extension: whether every address the host resolved to is public."""
DEFAULT_PORTS = {"http": 80, "https": 443}
# Methods a client may repeat after a failure without changing the outcome (RFC 9110 §9.2.2).
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
# What a write or the wait for the status line raises when the server had closed the connection.
_PEER_CLOSED = (ConnectionError, ssl.SSLEOFError)

_Origin = tuple[str, str, int]
_Timeouts = Mapping[str, float | None]


def tls_context(*, trust_env: bool = True) -> ssl.SSLContext:
    """Build a verifying TLS context from SSL_CERT_FILE, SSL_CERT_DIR or certifi, as httpx does."""
    cafile = os.environ.get("SSL_CERT_FILE") if trust_env else None
    capath = os.environ.get("SSL_CERT_DIR") if trust_env else None
    if cafile:
        context = ssl.create_default_context(cafile=cafile)
    elif capath:
        context = ssl.create_default_context(capath=capath)
    else:
        context = ssl.create_default_context(cafile=certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context


class StdlibTransport(httpx.BaseTransport):
    """Send requests over pooled http.client connections; share one instance between threads."""

    def __init__(
        self,
        *,
        max_idle_per_host: int = 8,
        keepalive_expiry: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        trust_env: bool = True,
        policy: AddressPolicy | None = None,
    ) -> None:
        self._pool = Pool(max_idle_per_host, keepalive_expiry)
        # A pooled connection still checks its host's addresses: resolve each name once a while.
        self._policy = policy if policy is not None else AddressPolicy(resolve=ResolveCache())
        self._tls = ssl_context
        self._trust_env = trust_env
        self._tls_lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its response with the body still to be streamed."""
        origin = _origin(request)
        addresses = self._resolve(request, origin)
        public = self._policy.all_public(addresses)
        # The "pool" timeout never applies: without an idle connection a request opens one.
        timeouts: _Timeouts = request.extensions.get("timeout", {})
        deadline: float | None = request.extensions.get(DEADLINE)
        pooled = self._pool.acquire_any([(*origin, str(address)) for address in addresses])
        if pooled is not None:
            pooled.guard(deadline)
            try:
                return self._exchange(request, origin, pooled, timeouts, public)
            except (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                # The server may close an idle connection just as it is reused (RFC 9112 §9.3.1);
                # a request that is safe to repeat gets one fresh connection.
                if not (isinstance(exc.__cause__, _PEER_CLOSED) and _replayable(request)):
                    raise
        conn = self._connect(request, origin, addresses, timeouts, deadline)
        return self._exchange(request, origin, conn, timeouts, public)

    def close(self) -> None:
        """Close every idle connection; connections in use close when their response does."""
        self._pool.close()

    def _resolve(self, request: httpx.Request, origin: _Origin) -> tuple[Address, ...]:
        """Resolve the host once and check its addresses against the request's policy."""
        _, host, port = origin
        allow = request.extensions.get(ALLOW_PRIVATE, True)
        try:
            return self._policy.check(host, port, allow_private=allow)
        except NonPublicAddress as exc:
            exc.request = request
            raise
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc

    def _exchange(
        self,
        request: httpx.Request,
        origin: _Origin,
        conn: Connection,
        timeouts: _Timeouts,
        public: bool,
    ) -> httpx.Response:
        """Write the request on ``conn`` and read the status line and headers of the answer."""
        try:
            _send(request, conn, timeouts.get("write"))
            answer = _receive(request, conn, timeouts.get("read"))
        except BaseException as exc:
            conn.unguard()
            conn.close()
            if conn.expired:
                raise _deadline_exceeded(request) from exc
            raise
        # A request that asked to close leaves nothing to reuse (RFC 9112 §9.6).
        keep = request.headers.get("connection", "").lower() != "close"
        home = (self._pool, (*origin, conn.peer)) if keep else None
        stream = _ResponseStream(answer, request, conn, home)
        return httpx.Response(
            answer.status,
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.msg.items()],
            stream=stream,
            extensions={
                "http_version": b"HTTP/1.0" if answer.version == 10 else b"HTTP/1.1",
                "reason_phrase": answer.reason.encode("ascii", "ignore"),
                PUBLIC: public,
            },
        )

    def _connect(
        self,
        request: httpx.Request,
        origin: _Origin,
        addresses: tuple[Address, ...],
        timeouts: _Timeouts,
        deadline: float | None,
    ) -> Connection:
        """Open a new connection to ``origin``, with the TLS handshake for https."""
        scheme, host, port = origin
        timeout = timeouts.get("connect")
        conn = (
            TLSConnection(host, port, timeout=timeout, context=self._context())
            if scheme == "https"
            else Connection(host, port, timeout=timeout)
        )
        conn.addresses, conn.deadline = addresses, deadline
        try:
            conn.connect()
        except (OSError, UnicodeError) as exc:
            conn.unguard()
            conn.close()
            raise _connect_error(conn, exc, request) from exc
        return conn

    def _context(self) -> ssl.SSLContext:
        """Return the TLS context, building it on first use (building one takes ~50 ms)."""
        with self._tls_lock:
            if self._tls is None:
                self._tls = tls_context(trust_env=self._trust_env)
            return self._tls


class _ResponseStream(httpx.SyncByteStream):
    """Stream a response's raw body, then pool its connection if the body was read to the end."""

    def __init__(
        self,
        answer: http.client.HTTPResponse,
        request: httpx.Request,
        conn: Connection,
        home: tuple[Pool, Key] | None,
    ) -> None:
        self._answer = answer
        self._request = request
        self._conn = conn
        self._home = home
        self._complete = False
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        """Yield the body as it arrives, still in its Content-Encoding; http.client de-chunks."""
        while chunk := self._read():
            yield chunk
        if self._conn.expired:
            # The watchdog's shutdown reads as the end of a body that runs until close.
            raise _deadline_exceeded(self._request)
        if self._answer.length:
            # A body shorter than its Content-Length is incomplete (RFC 9112 §8).
            raise httpx.RemoteProtocolError(
                "server closed the connection before the end of the body", request=self._request
            )
        self._complete = True

    def close(self) -> None:
        """Pool the connection once the body was read to its end, else close it."""
        if self._closed:
            return
        self._closed = True
        answer, conn = self._answer, self._conn
        conn.unguard()
        # Only a fully read message leaves the connection ready for the next (RFC 9112 §9.3).
        if (
            self._complete
            and self._home is not None
            and answer.isclosed()
            and not answer.will_close
        ):
            pool, origin = self._home
            pool.release(origin, conn)
            return
        answer.close()
        conn.close()

    def _read(self) -> bytes:
        """Read the next piece of the body, translating socket and framing errors."""
        request = self._request
        try:
            return self._answer.read(CHUNK_SIZE)
        except (OSError, http.client.HTTPException) as exc:
            if self._conn.expired:
                raise _deadline_exceeded(request) from exc
            if isinstance(exc, TimeoutError):
                raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
            if isinstance(exc, OSError):
                raise httpx.ReadError(str(exc), request=request) from exc
            raise httpx.RemoteProtocolError(_describe(exc), request=request) from exc


def _connect_error(
    conn: Connection, exc: OSError | UnicodeError, request: httpx.Request
) -> httpx.TransportError:
    """Translate an error opening a connection into httpx's terms."""
    if conn.expired:
        return _deadline_exceeded(request)
    if isinstance(exc, TimeoutError):
        return httpx.ConnectTimeout(str(exc) or "timed out", request=request)
    return httpx.ConnectError(str(exc), request=request)


def _deadline_exceeded(request: httpx.Request) -> DeadlineExceeded:
    """Return the error for an exchange cut off at its deadline."""
    return DeadlineExceeded("the exchange went past its deadline", request=request)


def _origin(request: httpx.Request) -> _Origin:
    """Return the (scheme, host, port) a connection for ``request`` must reach."""
    url = request.url
    scheme = url.scheme
    if scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(
            f"Request URL has an unsupported protocol '{scheme}://'.", request=request
        )
    if not url.raw_host:
        raise httpx.UnsupportedProtocol("Request URL is missing a host.", request=request)
    return scheme, url.raw_host.decode("ascii"), url.port or DEFAULT_PORTS[scheme]


def _send(request: httpx.Request, conn: Connection, timeout: float | None) -> None:
    """Write the request line, the headers httpx prepared and the body."""
    _set_timeout(conn, timeout)
    try:
        # httpx already set Host and Accept-Encoding; http.client must not add its own.
        conn.putrequest(
            request.method,
            request.url.raw_path.decode("ascii"),
            skip_host=True,
            skip_accept_encoding=True,
        )
        for name, value in request.headers.raw:
            conn.putheader(name, value)
        body, chunked = _body(request)
        conn.endheaders(body, encode_chunked=chunked)
    except TimeoutError as exc:
        raise httpx.WriteTimeout(str(exc) or "timed out", request=request) from exc
    except OSError as exc:
        raise httpx.WriteError(str(exc), request=request) from exc
    except (ValueError, http.client.HTTPException) as exc:
        # The message would quote the offending header value, which may be a secret.
        raise httpx.LocalProtocolError("illegal request line or header", request=request) from exc


def _body(request: httpx.Request) -> tuple[bytes | Iterable[bytes] | None, bool]:
    """Return the body to write and whether http.client must chunk it (RFC 9112 §7.1)."""
    try:
        return request.content or None, False
    except httpx.RequestNotRead:
        pass
    stream = request.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise httpx.LocalProtocolError("an async body cannot be sent", request=request)
    return stream, "content-length" not in request.headers


def _receive(
    request: httpx.Request, conn: Connection, timeout: float | None
) -> http.client.HTTPResponse:
    """Read the status line and the headers of the answer."""
    _set_timeout(conn, timeout)
    try:
        return conn.getresponse()
    except TimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
    except http.client.RemoteDisconnected as exc:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        ) from exc
    except OSError as exc:
        raise httpx.ReadError(str(exc), request=request) from exc
    except http.client.HTTPException as exc:
        raise httpx.RemoteProtocolError(_describe(exc), request=request) from exc


def _set_timeout(conn: Connection, timeout: float | None) -> None:
    """Apply ``timeout`` to the connection's socket unless it is already in force."""
    sock: socket.socket | None = conn.sock
    if sock is not None and sock.gettimeout() != timeout:
        sock.settimeout(timeout)


def _replayable(request: httpx.Request) -> bool:
    """Tell whether ``request`` may be sent again: idempotent, with its body still in memory."""
    # httpx keeps a body it has read (or was given as bytes) in a ByteStream.
    return request.method in _IDEMPOTENT and isinstance(request.stream, httpx.ByteStream)


def _describe(exc: http.client.HTTPException) -> str:
    """Name a framing error without quoting more than a short piece of what the server sent."""
    return f"{type(exc).__name__}: {str(exc)[:80]}" if str(exc) else type(exc).__name__
