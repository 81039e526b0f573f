"""Serve feeds over real HTTP on 127.0.0.1 for tests: routes, validators, gzip, a request log.

Use it as a context manager or through the ``feed_server`` fixture::

    with FeedServer() as server:
        server.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, body)
        url = server.url("/feed.xml")

A route is ``(status, headers, body)`` or a ``Route`` with options. Routes may be changed
between requests. Every request is recorded in ``server.requests``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple

from poster.daemon.httpserver import shut_down

NOT_FOUND = (404, {"Content-Type": "text/plain"}, b"not found\n")


class Route(NamedTuple):
    """What the server answers on one path."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    gzip: bool = False  # compress when the request accepts gzip
    chunked: bool = False  # send in 1 KiB chunks without Content-Length
    delay: float = 0.0  # seconds to wait before answering
    validators: bool = True  # add ETag and Last-Modified to 200s and answer conditionals
    basic: tuple[str, str] | None = None  # answer 401 unless given this user and password


class Received(NamedTuple):
    """One request as the server saw it; header names are lowercased."""

    method: str
    path: str
    headers: dict[str, str]
    peer: int = 0
    """The client's port: the same port means the same (kept-alive) connection."""


class FeedServer:
    """Run a threaded HTTP server on a free port of 127.0.0.1 (or of ``host``, or on ``port``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.routes: dict[str, Route | tuple[int, Mapping[str, str], bytes]] = {}
        self.requests: list[Received] = []
        self.keep_alive = False
        """Keep connections open between answers (off: every answer closes its connection)."""
        self._stamps: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd = _Server(self, port)
        # A short poll interval keeps close() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving, wake delayed answers and release the port."""
        self._closing.set()
        if not self._thread.is_alive() and self._thread.ident is None:
            self._httpd.server_close()  # never served: nothing to stop, only the port to free
            return
        shut_down(self._httpd)
        self._thread.join()

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/") -> str:
        """Return the absolute URL of ``path`` on this server."""
        return f"http://{self.host}:{self.port}{path}"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Record one request and send the route's answer (or 404)."""
        received = {name.lower(): value for name, value in handler.headers.items()}
        with self._lock:
            peer = handler.client_address[1]
            self.requests.append(Received(handler.command, handler.path, received, peer))
            route = Route(*self.routes.get(handler.path, NOT_FOUND))
        if route.delay:
            self._closing.wait(route.delay)
        if route.basic is not None and received.get("authorization") != _basic(*route.basic):
            challenge = {"WWW-Authenticate": 'Basic realm="feeds", charset="UTF-8"'}
            return _send(handler, 401, challenge, b"unauthorized\n", chunked=False)
        headers, body = dict(route.headers), route.body
        names = {name.lower() for name in headers}
        if route.validators and route.status == 200:
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            if "etag" not in names:
                headers["ETag"] = etag
            if "last-modified" not in names:
                headers["Last-Modified"] = format_datetime(self._stamp(handler.path, etag), True)
            sent = {name.lower(): value for name, value in headers.items()}
            if _not_modified(received, sent["etag"], sent["last-modified"]):
                validators = {"ETag": sent["etag"], "Last-Modified": sent["last-modified"]}
                return _send(handler, 304, validators, b"", chunked=False)
        if route.gzip and "gzip" in received.get("accept-encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        _send(handler, route.status, headers, body, chunked=route.chunked)

    def _stamp(self, path: str, etag: str) -> datetime:
        """Return when the body of ``path`` last changed, one second apart per change."""
        with self._lock:
            known = self._stamps.get(path)
            if known is not None and known[0] == etag:
                return known[1]
            stamp = datetime.now(UTC).replace(microsecond=0)
            if known is not None:
                stamp = max(stamp, known[1] + timedelta(seconds=1))
            self._stamps[path] = (etag, stamp)
            return stamp


def _basic(user: str, password: str) -> str:
    """Return the Authorization value of HTTP Basic credentials in UTF-8 (RFC 7617)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _not_modified(request: Mapping[str, str], etag: str, last_modified: str) -> bool:
    """Evaluate If-None-Match, else If-Modified-Since, as RFC 9110 §13.2.2 orders them."""
    if "if-none-match" in request:
        # Weak comparison (RFC 9110 §8.8.3.2) is the one GET conditionals use.
        tags = {tag.strip().removeprefix("W/") for tag in request["if-none-match"].split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    if "if-modified-since" in request:
        try:
            since = parsedate_to_datetime(request["if-modified-since"])
            return parsedate_to_datetime(last_modified) <= since
        except (TypeError, ValueError):
            return False
    return False


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    chunked: bool,
) -> None:
    """Write one response, closing the connection unless the server keeps them alive."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    if chunked:
        handler.send_header("Transfer-Encoding", "chunked")
    elif status != 304 and "content-length" not in {name.lower() for name in headers}:
        handler.send_header("Content-Length", str(len(body)))
    keep = isinstance(handler.server, _Server) and handler.server.owner.keep_alive
    if not keep:
        handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = not keep
    if not chunked:
        handler.wfile.write(body)
        return
    for start in range(0, len(body), 1024):
        piece = body[start : start + 1024]
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.flush()
    handler.wfile.write(b"0\r\n\r\n")


class _Handler(BaseHTTPRequestHandler):
    """Hand every GET to the owning FeedServer."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.owner.answer(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


class _Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its FeedServer and ignores clients that hang up."""

    daemon_threads = True

    def __init__(self, owner: FeedServer, port: int) -> None:
        self.owner = owner
        super().__init__((owner.host, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out closes its socket before the delayed answer is written.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)
