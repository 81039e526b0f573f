"""Read requests and write answers for the sandbox's HTTP server; no routes live here."""

from __future__ import annotations

import http.client
import io
import json
import socket
import sys
import threading
import time
from collections.abc import Iterable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from poster.daemon.httpserver import shut_down
from poster.fetch.exchange import read_fields as read_head

IDLE_TIMEOUT = 60
"""Seconds a connection may wait between two pieces of a request before it is closed."""
READ_MAX_BYTES = 1024 * 1024
"""Bodies above this are refused unread; the API's own limit (30 KB) is far lower."""

# Media URLs point anywhere, so images may come from any origin; nothing else may.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src * data:; base-uri 'none'; form-action 'none'"
)


class Owner(Protocol):
    """What the server hands each request to."""

    def serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Answer one HTTP request."""


def read_body(handler: BaseHTTPRequestHandler) -> bytes | None:
    """Return the request body, or answer the request and return None when it cannot be read."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        send_json(handler, 411, {"error": "send the body with a Content-Length"}, close=True)
        return None
    try:
        length = int(handler.headers.get("Content-Length", "0"))
    except ValueError:
        length = -1
    if not 0 <= length <= READ_MAX_BYTES:
        body = {"status": 3, "status_message": f"the body must be 0 to {READ_MAX_BYTES} bytes"}
        send_json(handler, 200, body, close=True)
        return None
    return handler.rfile.read(length)


def send_json(
    handler: BaseHTTPRequestHandler, status: int, body: Any, *, close: bool = False
) -> None:
    """Write one JSON response."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    send(handler, status, data, "application/json; charset=utf-8", close=close)


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    kind: str,
    *,
    page: bool = False,
    close: bool = False,
) -> None:
    """Write one response; the page also gets a policy that blocks inline and foreign code."""
    fields = [("Content-Type", kind), ("Cache-Control", "no-store")]
    if page:
        fields.append(("Content-Security-Policy", PAGE_POLICY))
    answer(handler, status, fields, data, close=close)


def answer(
    handler: BaseHTTPRequestHandler,
    status: int,
    fields: Iterable[tuple[str, str]],
    data: bytes,
    *,
    close: bool = False,
) -> None:
    """Write the status line, Server, Date, ``fields``, Content-Length and ``data`` in one write.

    ``send_response`` and ``end_headers`` put the head in a write of its own and format the date
    afresh for every answer, which together cost a fake more than the call it answers.
    """
    lines = [
        f"{handler.protocol_version} {status} {_reason(status)}\r\n"
        f"Server: {handler.version_string()}\r\nDate: {_date()}\r\n"
    ]
    for name, value in fields:
        lines.append(f"{name}: {value}\r\n")
        if name.lower() == "connection" and value.lower() == "close":
            close = True
    if close:
        lines.append("Connection: close\r\n")
        handler.close_connection = True
    lines.append(f"Content-Length: {len(data)}\r\n\r\n")
    handler.wfile.write("".join(lines).encode("latin-1", "strict") + data)


def _reason(status: int) -> str:
    """Return the reason phrase of ``status``, or none for a code without one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


_dated: tuple[int, str] = (0, "")


def _date() -> str:
    """Return the Date field's value (RFC 9110 §6.6.1), formatted once a second."""
    global _dated
    now = int(time.time())
    if _dated[0] != now:
        _dated = (now, formatdate(now, usegmt=True))
    return _dated[1]


class _Handler(BaseHTTPRequestHandler):
    """Hand every request to the owning server."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, each keep-alive
    # answer would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: Server
    raw_requestline: bytes

    def parse_request(self) -> bool:
        """Read a well-formed HTTP/1.x request line here, its fields with ``read_fields``.

        Any other request line goes to the base class, which answers it as it does.
        """
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = line.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            return super().parse_request()
        self.requestline = line
        self.command, path, self.request_version = words
        # As the base class: a path of several leading slashes would read as a host name.
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        try:
            self.headers = read_fields(self.rfile)
        except http.client.HTTPException as exc:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, str(exc))
            return False
        # HTTP/1.1 keeps the connection open unless asked not to (RFC 9112 §9.3).
        connection = self.headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        expect = self.headers.get("Expect", "").lower()
        if expect == "100-continue" and self.request_version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    timeout = IDLE_TIMEOUT
    server_version = "poster-sandbox"

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def _serve(self, method: str) -> None:
        """Hand the request to the owner; JSON nested past Python's depth is a client's error."""
        try:
            self.server.owner.serve(self, method)
        except RecursionError:
            send_json(self, 400, {"error": "the JSON body nests too deep"}, close=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the terminal and test output clean; the page shows what arrived."""

    def version_string(self) -> str:
        """Name the server without the Python version."""
        return self.server_version


def read_fields(rfile: io.BufferedIOBase) -> Fields:
    """Read a request's header fields up to the blank line, as the feed reader reads answers'."""
    encoding = "iso-8859-1"
    return Fields(
        [(name.decode(encoding), value.decode(encoding)) for name, value in read_head(rfile)]
    )


class Fields(http.client.HTTPMessage):
    """A request's header fields, read without the email parser; ``get`` looks names up by dict.

    The email parser that ``http.client.parse_headers`` runs, and ``Message.get``'s scan of every
    field with each lookup, cost more than the rest of a call to a fake. The fields are read-only.
    """

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self._headers = pairs
        self._first: dict[str, str] = {}
        for name, value in reversed(pairs):
            self._first[name.lower()] = value

    def get(self, name: str, failobj: Any = None) -> Any:
        """Return the first value of the field ``name`` in any case, else ``failobj``."""
        return self._first.get(name.lower(), failobj)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first


class Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its owner and ignores clients that hang up."""

    daemon_threads = True
    request_queue_size = 128
    """Room for a client's burst of connections (socketserver's default of 5 drops some)."""

    def __init__(self, address: tuple[str, int], owner: Owner) -> None:
        self.owner = owner
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Say in one line what failed answering a client; a client that hung up says nothing.

        A client that timed out closes its socket before a slow answer is written.
        """
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        what = f"{type(error).__name__}: {error}"
        print(f"poster: sandbox: a request failed ({what}); it was not answered", file=sys.stderr)


class Serving:
    """A server answering on a thread of its own from the moment it is made until ``stop``."""

    def __init__(self, server: ThreadingHTTPServer, name: str, poll: float) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": poll}, name=name, daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """Return the host and port the server answers on."""
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def stop(self, timeout: float | None = None) -> None:
        """Stop answering, release the port and wait for the thread to end."""
        shut_down(self.server)
        self._thread.join(timeout)
