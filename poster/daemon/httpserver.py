"""Serve the listener's HTTP: a thread per request up to a bound, and connection noise logged
sparingly. Each request goes to its receiver: the webhook on POST, routes and files on GET,
callbacks under their prefixes.
"""

from __future__ import annotations

import io
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from poster.daemon.httpbody import DRAIN as DRAIN_BODY
from poster.daemon.httpbody import Body, drain, read_chunked, read_sized
from poster.frozen import frozen

if TYPE_CHECKING:
    from poster.daemon.listener import WebhookReceiver

# Its lines are the listener's events, logged under the listener's name.
log = logging.getLogger("poster.daemon.listener")

SIGNATURE_HEADER = "X-Viber-Content-Signature"
MAX_BODY = 64 * 1024
DRAIN_MAX = 1024 * 1024
"""Oversized webhook bodies up to this size are read and dropped so the client sees the 413."""
BACKLOG = 128
"""Connections the kernel queues while every handler is busy."""
MAX_HANDLERS = 16
"""Requests handled at once, each on its own thread."""
BUSY_WAIT = 0.5
"""Seconds an accepted connection waits for a free handler before it gets a 503; while every
handler stays busy, the next ones get theirs at once."""
REQUEST_DEADLINE = 10.0
"""Seconds a client has to send its whole request, head and body, however it paces them: a
client sending a byte a second holds a handler no longer than one that sends nothing."""
NOISE_BURST = 10
NOISE_WINDOW = 60.0
WAKE_EVERY = 0.002
"""Seconds between the connections that wake a serving loop being shut down."""
STOP_WITHIN = 5.0
"""How long ``shut_down`` waits for the serving loop before it closes the socket anyway."""
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nServer: poster\r\nRetry-After: 1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\nConnection: close\r\n"
    b"\r\nService Unavailable\n"
)

Route = Callable[[], tuple[int, str, bytes]]
"""A GET handler: returns (status, content type, body)."""


@frozen
class Call:
    """One GET or POST under a callback prefix, as its handler sees it."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    too_large: bool = False
    """The POST's body was over the cap and dropped: ``body`` is empty."""


Callback = Callable[[Call], tuple[int, str, bytes]]
"""A handler of every GET and POST under a prefix: returns (status, content type, body)."""


@frozen
class CallbackRoute:
    """A handler of the calls under a prefix, with its cap on bodies."""

    handler: Callback
    max_body: int
    oversized: bool = False
    """Hand a body over the cap on as a ``too_large`` call instead of answering 413."""
    knows: Callable[[str], bool] | None = None
    """Tell whether a path is one the handler serves: a POST to another is answered without
    its body being read."""


Files = Callable[[str, str, Mapping[str, str]], tuple[int, dict[str, str], bytes]]
"""A handler of GET and HEAD under a prefix: (method, name, headers) to (status, headers, body)."""


class Noise:
    """Log what anyone may cause sparingly: ``burst`` lines a ``window`` at most, then a count.

    Connection noise (resets, timeouts, bad requests) is ``event`` ``webhook_noise`` at debug
    level; refused calls keep their own event and level. The count of the lines left out is
    logged, as ``event=<event>_dropped``, when the next window starts.
    """

    def __init__(
        self,
        burst: int = NOISE_BURST,
        window: float = NOISE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        *,
        event: str = "webhook_noise",
        level: int = logging.DEBUG,
        logger: logging.Logger = log,
    ) -> None:
        self._burst = burst
        self._window = window
        self._clock = clock
        self._event, self._level, self._log = event, level, logger
        self._lock = threading.Lock()
        self._started = clock()
        self._logged = 0
        self._dropped = 0

    @property
    def seen(self) -> int:
        """Return how many events this window has seen, logged or not."""
        with self._lock:
            return self._logged + self._dropped

    def allows(self) -> bool:
        """Count one event; tell whether its line may be logged, as this window had room."""
        with self._lock:
            now = self._clock()
            if now - self._started >= self._window:
                if self._dropped:
                    joined = "-" if "-" in self._event else "_"  # as the event spells it
                    self._log.log(
                        self._level, "event=%s%sdropped count=%d", self._event, joined,
                        self._dropped,
                    )  # fmt: skip
                self._started, self._logged, self._dropped = now, 0, 0
            if self._logged >= self._burst:
                self._dropped += 1
                return False
            self._logged += 1
            return True

    def note(self, client: str, reason: str) -> None:
        """Log one reset, timeout or bad request, unless this window had its share."""
        if self.allows():
            self._log.log(
                self._level, "event=%s client=%s reason=%s", self._event, client, _field(reason)
            )


class Server(ThreadingHTTPServer):
    """An HTTP server that knows its receiver and runs at most ``max_handlers`` at once."""

    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(self, receiver: WebhookReceiver) -> None:
        if ":" in receiver.host:
            self.address_family = socket.AF_INET6
        self.receiver = receiver
        self.noise = Noise()
        self.refusals = Noise(event="webhook_refused", level=logging.WARNING)
        self._slots = threading.BoundedSemaphore(receiver.max_handlers)
        self._saturated = False
        super().__init__((receiver.host, receiver.port), Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to a new thread once a slot is free, or answer 503.

        The accepting thread waits ``BUSY_WAIT`` for a slot only while the last connection got
        one: the connections queued behind a full house are answered at once, not in turn.
        """
        if not self._slots.acquire(timeout=0 if self._saturated else BUSY_WAIT):
            self._saturated = True
            self.noise.note(client_address[0], "busy")
            _refuse(request)
            self.shutdown_request(request)
            return
        self._saturated = False
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Handle one connection, then free its slot."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Note a connection that failed (mostly resets) in one line, without a traceback."""
        self.noise.note(client_address[0], type(sys.exc_info()[1]).__name__)


def shut_down(server: BaseServer) -> None:
    """Stop a running ``serve_forever`` at once and close the server's socket.

    ``shutdown()`` waits until the serving loop sees it, and the loop waits up to its poll
    interval for a connection first. A connection made meanwhile ends that wait, so the loop
    stops within a few milliseconds instead of a poll interval (50 ms for the listener).
    A loop that never started (or is stuck) is waited for at most ``STOP_WITHIN`` seconds; the
    socket is closed either way.
    """
    stopping = threading.Thread(target=server.shutdown, name="shutdown", daemon=True)
    stopping.start()
    give_up = time.monotonic() + STOP_WITHIN
    while stopping.is_alive() and time.monotonic() < give_up:
        _wake(server.server_address)
        stopping.join(WAKE_EVERY)
    server.server_close()


def _wake(address: Any) -> None:
    """Connect to a listening socket and hang up, which wakes the loop waiting on it."""
    host, port = str(address[0]), int(address[1])
    # A server bound to every address is reached on loopback.
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    try:
        with socket.create_connection((host, port), timeout=WAKE_EVERY * 100):
            pass
    except OSError:
        return


def _refuse(request: socket.socket) -> None:
    """Send a fixed 503 without waiting: a client that does not read gets nothing."""
    try:
        request.setblocking(False)
        request.send(_BUSY)
    except OSError:
        pass


class _Paced(io.RawIOBase):
    """The reading side of a connection, under one deadline for everything read from it."""

    def __init__(self, connection: socket.socket, deadline: float) -> None:
        super().__init__()
        self._connection = connection
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        """Read what the client sent, waiting at most until the deadline."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request took too long to arrive")
        self._connection.settimeout(left)
        return self._connection.recv_into(buffer)


class Handler(BaseHTTPRequestHandler):
    """Answer one request: the webhook on POST, registered routes on GET."""

    server: Server
    timeout = 10
    server_version = "poster"

    def setup(self) -> None:
        """Read the request under ``REQUEST_DEADLINE``; ``timeout`` bounds each write."""
        super().setup()
        self.rfile.close()
        paced = _Paced(self.connection, time.monotonic() + REQUEST_DEADLINE)
        self.rfile = io.BufferedReader(paced)

    def do_POST(self) -> None:
        """Check, record and acknowledge one webhook call."""
        receiver, parts = self.server.receiver, urlsplit(self.path)
        if receiver._callback(parts.path) is not None:
            self._call_back()
            return
        if parts.path != receiver.path:
            self._other_method()
            return
        body = self._read_body()
        if body is None:
            return
        provided = self.headers.get(SIGNATURE_HEADER)
        if provided is None:
            provided = next(iter(parse_qs(parts.query).get("sig", [])), None)
        status, event = receiver._accept(body, provided)
        if event is None:
            reason = "bad_json"
            if status == HTTPStatus.FORBIDDEN:
                reason = "unsigned" if provided is None else "bad_signature"
            if self.server.refusals.allows():  # anyone may send them: a few lines a minute
                client = self.client_address[0]
                log.warning("event=webhook_refused reason=%s client=%s", reason, client)
            self._send(status)
            return
        log.info(
            "event=webhook type=%s message_token=%s timestamp=%s signed=%s",
            *(_field(event.get(key)) for key in ("event", "message_token", "timestamp")),
            "no" if provided is None else "yes",
        )
        self._send(200, b"{}", "application/json")

    def do_GET(self) -> None:
        """Serve a registered route."""
        if self.server.receiver._callback(urlsplit(self.path).path) is not None:
            self._call_back()
            return
        if self._serve_file():
            return
        route = self.server.receiver._route(urlsplit(self.path).path)
        if route is None:
            self._other_method()
            return
        try:
            status, content_type, body = route()
        except Exception:
            log.exception("event=route_failed path=%s", urlsplit(self.path).path)
            self._send(500)
            return
        self._send(status, body, content_type)

    def _call_back(self) -> None:
        """Hand a GET or POST under the callback prefix to its handler."""
        parts = urlsplit(self.path)
        route = self.server.receiver._callback(parts.path)
        assert route is not None
        body = Body(b"")
        if self.command == "POST" and route.knows is not None and not route.knows(parts.path):
            # Read and dropped, not kept: a socket closed with its input unread is reset, and
            # the client would lose the answer (a hub told 410 stops pushing).
            self.close_connection = True
            self._drop_body(route.max_body)
        elif self.command == "POST":
            read = self._read_callback_body(route)
            if read is None:
                return
            body = read
        query = tuple(parse_qsl(parts.query, keep_blank_values=True))
        headers = tuple(self.headers.items())
        call = Call(self.command, parts.path, query, headers, body.data, body.too_large)
        try:
            status, content_type, answer = route.handler(call)
        except Exception:
            log.exception("event=callback_failed")
            self._send(500)
            return
        self._send(status, answer, content_type)

    def _other_method(self) -> None:
        """Answer 405 on a known path and 404 elsewhere."""
        receiver, path = self.server.receiver, urlsplit(self.path).path
        if path == receiver.path:
            self._send(405, headers={"Allow": "POST"})
        elif receiver._route(path) is not None:
            self._send(405, headers={"Allow": "GET"})
        else:
            self._send(404)

    def do_HEAD(self) -> None:
        """Answer HEAD for served files; elsewhere, as any other method."""
        if not self._serve_file():
            self._other_method()

    def _serve_file(self) -> bool:
        """Answer a GET or HEAD under the files prefix; tell whether the path was one."""
        path = urlsplit(self.path).path
        handler = self.server.receiver._file_handler(path)
        if handler is None:
            return False
        name = path.rsplit("/", 1)[-1]
        try:
            status, headers, body = handler(self.command, name, dict(self.headers.items()))
        except Exception:
            log.exception("event=file_failed path=%s", path)
            self._send(500)
            return True
        content_type = headers.pop("Content-Type", "text/plain; charset=utf-8")
        self._send(status, body if status in (200, 304) else None, content_type, headers)
        return True

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other_method

    def _read_callback_body(self, route: CallbackRoute) -> Body | None:
        """Return a callback's body, sized or chunked, or answer 411/400/413/501 and return None."""
        coding = self.headers.get("Transfer-Encoding")
        if coding is not None:
            # RFC 9112 §6.3: a transfer coding overrides Content-Length; only chunked is taken.
            self.close_connection = self.close_connection or "Content-Length" in self.headers
            if coding.strip().lower() != "chunked":
                self.close_connection = True
                self._send(501)
                return None
            body = read_chunked(self.rfile, route.max_body)
        else:
            length = self._length()
            if length is None:
                return None
            body = read_sized(self.rfile, length, route.max_body)
        if body is None:
            self.close_connection = True
            self._send(400)
            return None
        if not body.whole:
            self.close_connection = True
        if body.too_large and not route.oversized:
            self.close_connection = True
            self._send(413)
            return None
        return body

    def _drop_body(self, limit: int) -> None:
        """Read a body of at most ``limit`` bytes (and ``DRAIN`` more) and drop it; a larger
        or malformed one is left."""
        coding = self.headers.get("Transfer-Encoding")
        if coding is not None:
            if coding.strip().lower() == "chunked":
                read_chunked(self.rfile, limit, keep=False)
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            return
        if 0 < length <= limit + DRAIN_BODY:
            drain(self.rfile, length)

    def _length(self) -> int | None:
        """Return the Content-Length, or answer 411/400 and return None."""
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self._send(411)
            return None
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            self._send(400)
            return None
        return length

    def _read_body(self, limit: int = MAX_BODY) -> bytes | None:
        """Return the raw body, sized or chunked, or answer 411/400/413/501 and return None."""
        coding = self.headers.get("Transfer-Encoding")
        if coding is not None:
            # RFC 9112 §6.3: a transfer coding overrides Content-Length; only chunked is taken.
            self.close_connection = True
            if coding.strip().lower() != "chunked":
                self._send(501)
                return None
            chunked = read_chunked(self.rfile, limit)
            if chunked is None:
                self._send(400)
                return None
            body = chunked
        else:
            length = self._length()
            if length is None:
                return None
            body = read_sized(self.rfile, length, limit, DRAIN_MAX)
        if body.too_large:
            self.close_connection = True
            self._send(413)
            return None
        return body.data

    def _send(
        self,
        status: int,
        body: bytes | None = None,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Write a whole answer; without a body, the status phrase is the body."""
        if body is None:
            body = f"{HTTPStatus(status).phrase}\n".encode()
        self.connection.settimeout(self.timeout)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Send the access log to logging at debug level instead of stderr, secrets masked."""
        line = _escaped(self.server.receiver._masked(format % args))
        log.debug("event=webhook_http client=%s %s", self.client_address[0], line)

    def log_error(self, format: str, *args: Any) -> None:
        """Note a bad or timed-out request as noise instead of writing to stderr."""
        self.server.noise.note(self.client_address[0], self.server.receiver._masked(format % args))

    def version_string(self) -> str:
        """Name the server without the Python version, which only helps an attacker."""
        return self.server_version


def _escaped(text: str) -> str:
    """Return ``text`` with its control characters escaped, as one line of the log."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _field(value: Any) -> str:
    """Return a value from a remote event, safe to put in one log line."""
    text = "".join(ch if ch.isprintable() and ch != " " else "_" for ch in str(value))
    return text[:80]
