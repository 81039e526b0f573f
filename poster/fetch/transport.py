"""Carry requests over the standard library's http.client, keeping HTTP/1.1 connections alive.

httpx's own transport (httpcore and h11) spends several times the CPU of http.client on a small
exchange such as a 304 answer to a conditional GET, which is most of what a polling pass does.
``StdlibTransport`` serves httpx's clients (``handle_request``) and the feed reader, which asks
without building httpx's request and response objects (``get``), over the same connections.
"""

from __future__ import annotations

import functools
import http.client
import os
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator, Mapping

import httpx

from poster.fetch.addresses import Address, AddressPolicy, NonPublicAddress, ResolveCache
from poster.fetch.connections import Connection, OutOfTime, Pool, TLSConnection
from poster.fetch.exchange import (
    Answer,
    Blame,
    Head,
    Reply,
    chunked,
    deadline_exceeded,
    describe,
    request_head,
)
from poster.fetch.target import Target, from_url
from poster.fetch.watchdog import DeadlineExceeded

DEADLINE = "poster.deadline"
"""Request extension: the ``time.monotonic()`` by which the whole exchange must be over."""
ALLOW_PRIVATE = "poster.allow_private"
"""Request extension: False refuses a host with a non-public address (absent: allowed)."""
PUBLIC = "poster.public"
"""Response extension: whether every address the host resolved to is public."""
REPLAYABLE = "poster.replayable"
"""Request extension: False never sends the request twice, whatever its method (absent: by
method). A gateway's send over GET changes something: repeated, it reaches the phones twice."""
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
        import certifi  # here: with importlib.resources, it loads for the first https request

        context = ssl.create_default_context(cafile=certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context


class StdlibTransport(httpx.BaseTransport):
    """Send requests over pooled http.client connections; share one instance between threads.

    ``get`` is the feed reader's own way in, with no httpx request or response built per
    exchange; ``handle_request`` serves httpx's clients over the same connections.
    """

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

    def get(
        self,
        url: Target,
        fields: Head,
        *,
        timeout: float,
        deadline: float | None = None,
        allow_private: bool = True,
    ) -> Reply:
        """Send a GET for ``url`` with ``fields`` (Host included) and return the answer's head."""
        outgoing = _Outgoing(Blame(url), "GET", fields, None, False, timeout, timeout, deadline)
        return self._send(outgoing, allow_private)

    def call(
        self,
        url: Target,
        method: str,
        fields: Head,
        body: bytes | None,
        *,
        connect: float | None,
        write: float | None,
        read: float | None,
        replayable: bool = True,
    ) -> Reply:
        """Send ``method`` to ``url`` with ``fields`` (Host included) and ``body``; return the head.

        Destination APIs come in here, with no httpx request or response built per call. With
        ``replayable`` False the request is never sent twice, even over a reused connection.
        """
        outgoing = _Outgoing(
            Blame(url), method, fields, body, False, write, read, None,
            connect=connect, replayable=replayable and method in _IDEMPOTENT, repeated=True,
        )  # fmt: skip
        return self._send(outgoing, True)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its response with the body still to be streamed."""
        # The "pool" timeout never applies: without an idle connection a request opens one.
        timeouts: _Timeouts = request.extensions.get("timeout", {})
        body, chunk = _body(request)
        outgoing = _Outgoing(
            Blame(from_url(request.url), request),
            request.method,
            request.headers.raw,
            body,
            chunk,
            timeouts.get("write"),
            timeouts.get("read"),
            request.extensions.get(DEADLINE),
            connect=timeouts.get("connect"),
            replayable=_replayable(request),
        )
        reply = self._send(outgoing, request.extensions.get(ALLOW_PRIVATE, True))
        return httpx.Response(
            reply.status,
            headers=reply.fields,
            stream=_ResponseStream(reply),
            extensions={
                "http_version": reply.version,
                "reason_phrase": reply.reason,
                PUBLIC: reply.public,
            },
        )

    def close(self) -> None:
        """Close every idle connection; connections in use close when their response does."""
        self._pool.close()

    def _send(self, outgoing: _Outgoing, allow_private: bool) -> Reply:
        """Send on an idle connection to the host, or a new one, and read the answer's head."""
        origin = _origin(outgoing.blame)
        addresses = self._resolve(outgoing, origin, allow_private)
        public = self._policy.all_public(addresses)
        pooled = self._pool.acquire_any([(*origin, str(address)) for address in addresses])
        if pooled is not None:
            pooled.guard(outgoing.deadline)
            try:
                return _exchange(outgoing, origin, pooled, self._pool, public)
            except (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                # The server may close an idle connection just as it is reused (RFC 9112 §9.3.1);
                # a request that is safe to repeat gets one fresh connection.
                if not (isinstance(exc.__cause__, _PEER_CLOSED) and outgoing.replayable):
                    raise
        conn = self._connect(outgoing, origin, addresses)
        return _exchange(outgoing, origin, conn, self._pool, public)

    def _resolve(self, outgoing: _Outgoing, origin: _Origin, allow: bool) -> tuple[Address, ...]:
        """Resolve the host once, by the deadline, and check its addresses against the policy."""
        _, host, port = origin
        blame = outgoing.blame
        try:
            return self._policy.check(host, port, allow_private=allow, deadline=outgoing.deadline)
        except (NonPublicAddress, DeadlineExceeded) as exc:
            exc.request = blame.request
            raise
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpx.ConnectError(str(exc), request=blame.request) from exc

    def _connect(
        self, outgoing: _Outgoing, origin: _Origin, addresses: tuple[Address, ...]
    ) -> Connection:
        """Open a new connection to ``origin``, with the TLS handshake for https."""
        scheme, host, port = origin
        timeout = outgoing.connect
        conn = (
            TLSConnection(host, port, timeout=timeout, context=self._context())
            if scheme == "https"
            else Connection(host, port, timeout=timeout)
        )
        conn.addresses, conn.deadline = addresses, outgoing.deadline
        try:
            conn.connect()
        except (OSError, UnicodeError) as exc:
            conn.unguard()
            conn.close()
            raise _connect_error(conn, exc, outgoing.blame.request) from exc
        return conn

    def _context(self) -> ssl.SSLContext:
        """Return the TLS context, building it on first use (building one takes ~50 ms)."""
        with self._tls_lock:
            if self._tls is None:
                self._tls = tls_context(trust_env=self._trust_env)
            return self._tls


class _Outgoing:
    """One request to write: its head, its body, and the time each step may take."""

    __slots__ = (
        "blame", "body", "chunked", "connect", "deadline", "fields", "method", "read",
        "repeated", "replayable", "write",
    )  # fmt: skip

    def __init__(
        self,
        blame: Blame,
        method: str,
        fields: Head,
        body: bytes | Iterable[bytes] | None,
        chunked: bool,
        write: float | None,
        read: float | None,
        deadline: float | None,
        *,
        connect: float | None = None,
        replayable: bool = True,
        repeated: bool = False,
    ) -> None:
        self.blame, self.method, self.fields = blame, method, fields
        self.body, self.chunked = body, chunked
        self.write, self.read, self.deadline = write, read, deadline
        self.connect = read if connect is None else connect
        self.replayable = replayable
        self.repeated = repeated
        """Whether the same head is likely sent again, as an API client's calls are."""


def _exchange(
    outgoing: _Outgoing, origin: _Origin, conn: Connection, pool: Pool, public: bool
) -> Reply:
    """Write the request on ``conn`` and read the status line and headers of the answer."""
    try:
        _write(outgoing, conn)
        answer = _receive(outgoing, conn)
    except BaseException as exc:
        conn.unguard()
        conn.close()
        if conn.expired:
            raise deadline_exceeded(outgoing.blame.request) from exc
        raise
    # A request that asked to close leaves nothing to reuse (RFC 9112 §9.6).
    keep = not any(
        name.lower() == b"connection" and value.lower() == b"close"
        for name, value in outgoing.fields
    )
    home = (pool, (*origin, conn.peer)) if keep else None
    return Reply(answer, conn, home, outgoing.blame, public)


class _ResponseStream(httpx.SyncByteStream):
    """Stream a reply's raw body to httpx, then pool its connection if the body was read."""

    def __init__(self, reply: Reply) -> None:
        self._reply = reply

    def __iter__(self) -> Iterator[bytes]:
        """Yield the body as it arrives, still in its Content-Encoding."""
        return self._reply.raw()

    def close(self) -> None:
        """Pool the connection once the body was read to its end, else close it."""
        self._reply.close()


def _connect_error(
    conn: Connection, exc: OSError | UnicodeError, request: httpx.Request
) -> httpx.TransportError:
    """Translate an error opening a connection into httpx's terms."""
    if conn.expired or isinstance(exc, OutOfTime):
        return deadline_exceeded(request)
    if isinstance(exc, TimeoutError):
        return httpx.ConnectTimeout(str(exc) or "timed out", request=request)
    return httpx.ConnectError(str(exc), request=request)


def _origin(blame: Blame) -> _Origin:
    """Return the (scheme, host, port) a connection for the request must reach."""
    url = blame.url
    scheme = url.scheme
    if scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(
            f"Request URL has an unsupported protocol '{scheme}://'.", request=blame.request
        )
    if not url.host:
        raise httpx.UnsupportedProtocol("Request URL is missing a host.", request=blame.request)
    return scheme, url.host, url.port


def _write(outgoing: _Outgoing, conn: Connection) -> None:
    """Write the request line, the header fields and the body."""
    method, target, fields = outgoing.method, outgoing.blame.url.target, outgoing.fields
    try:
        if outgoing.repeated:
            head = _repeated_head(method, target, tuple(fields))
        else:
            head = request_head(method, target, fields)
    except (ValueError, UnicodeError) as exc:
        # The message would quote the offending header value, which may be a secret.
        raise httpx.LocalProtocolError(
            "illegal request line or header", request=outgoing.blame.request
        ) from exc
    body = outgoing.body
    try:
        sock = _timed(conn, outgoing.write)
        if body is None or isinstance(body, bytes):
            sock.sendall(head + body if body else head)
            return
        sock.sendall(head)
        for piece in chunked(body) if outgoing.chunked else body:
            sock.sendall(piece)
    except TimeoutError as exc:
        raise httpx.WriteTimeout(str(exc) or "timed out", request=outgoing.blame.request) from exc
    except OSError as exc:
        raise httpx.WriteError(str(exc), request=outgoing.blame.request) from exc


@functools.lru_cache(maxsize=64)
def _repeated_head(method: str, target: bytes, fields: tuple[tuple[bytes, bytes], ...]) -> bytes:
    """Return a request head built and checked once for the calls an API client repeats."""
    return request_head(method, target, list(fields))


def _body(request: httpx.Request) -> tuple[bytes | Iterable[bytes] | None, bool]:
    """Return the body to write and whether it goes in chunks (RFC 9112 §7.1)."""
    try:
        return request.content or None, False
    except httpx.RequestNotRead:
        pass
    stream = request.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise httpx.LocalProtocolError("an async body cannot be sent", request=request)
    return stream, "content-length" not in request.headers


def _receive(outgoing: _Outgoing, conn: Connection) -> Answer:
    """Read the status line and the headers of the answer."""
    answer = Answer(_timed(conn, outgoing.read), outgoing.method)
    try:
        answer.begin()
    except BaseException as exc:
        answer.close()
        translated = _receive_error(exc, outgoing.blame)
        if translated is None:
            raise
        raise translated from exc
    return answer


def _receive_error(exc: BaseException, blame: Blame) -> httpx.TransportError | None:
    """Translate an error reading the head of an answer into httpx's terms."""
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(str(exc) or "timed out", request=blame.request)
    if isinstance(exc, http.client.RemoteDisconnected):
        return httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=blame.request
        )
    if isinstance(exc, OSError):
        return httpx.ReadError(str(exc), request=blame.request)
    if isinstance(exc, http.client.HTTPException):
        return httpx.RemoteProtocolError(describe(exc), request=blame.request)
    return None


def _timed(conn: Connection, timeout: float | None) -> socket.socket:
    """Return the connection's socket with ``timeout`` applied, unless it is already in force."""
    sock: socket.socket | None = conn.sock
    if sock is None:
        raise OSError("the connection is closed")
    if sock.gettimeout() != timeout:
        sock.settimeout(timeout)
    return sock


def _replayable(request: httpx.Request) -> bool:
    """Tell whether ``request`` may be sent again: idempotent, with its body still in memory."""
    if request.extensions.get(REPLAYABLE) is False:
        return False
    # httpx keeps a body it has read (or was given as bytes) in a ByteStream.
    return request.method in _IDEMPOTENT and isinstance(request.stream, httpx.ByteStream)
