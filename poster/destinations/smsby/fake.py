"""Run a strict fake of the SMS.BY Viber gateway on 127.0.0.1 for tests and the sandbox.

It answers every method of ``bulk-viber-aggregator-api.txt`` from ``fakegateway.Gateway`` and
adds what a real gateway does to a client: a rate limit (HTTP 429 with Retry-After), status
callbacks to ``callback_url`` (a JSON POST; the document says only that "the response on the
method operation" is sent there, so ``callback_shape`` picks one of ``CALLBACK_SHAPES``), and
faults queued in ``faults``:

- ``"500"``: answer 500 without doing anything;
- ``"garbage-500"``: answer 500 with an HTML page without doing anything (the document's "500 —
  Server unavailable" says nothing of the body);
- ``"504"``: do the call, then answer 504 with an HTML page, as a proxy in front of the gateway
  does when it gives up waiting;
- ``"drop"``: do the call, then close the connection without answering (a lost answer);
- ``"slow:SECONDS"``: do the call, then wait before answering.

Time comes from an injectable clock, so statuses advance (NEW, SENT, DELIVERED, READ) without
sleeping: ``advance(seconds)`` moves a ``FakeClock`` and sends the callbacks that are due.
"""

from __future__ import annotations

import json
import math
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from poster.destinations.smsby.fakerules import Delivery, Reply
from poster.destinations.smsby.fakestate import Gateway
from poster.frozen import frozen
from poster.sandbox.httpio import Server, Serving, answer

CALLBACK_SHAPES = ("statuses", "both", "accepted")
"""What a callback carries: the ``statusBulkViber`` answer (a bare list, the default), that
answer with its uuid (``{"uuid": ..., "messages": [...]}``), or the send's answer (``uuid`` and
``success``)."""
READ_MAX_BYTES = 1024 * 1024
CALLBACK_TIMEOUT = 2.0
DEFAULT_TOKEN = "eyJpdiI6IjJzOFlFcXBmOUZEcGJlYzlzeFJValE9PSIsInZhbHV"
"""The token of the document's sample request."""


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2024, 10, 16, 22, 52, 42)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


@frozen
class Seen:
    """One request as the fake read it, for tests to check where each parameter travelled."""

    path: str
    query: Mapping[str, str]
    form: Mapping[str, str]
    body: Any
    content_type: str


class SmsByFake:
    """Serve the fake gateway on a port of 127.0.0.1 (0 picks a free one)."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        port: int = 0,
        clock: Callable[[], datetime] | None = None,
        rate_limit: int | None = None,
        rate_window: float = 1.0,
    ) -> None:
        self.clock = clock or FakeClock()
        self.gateway = Gateway(token, self.clock)
        self.faults: deque[str] = deque()
        self.requests: list[Seen] = []
        self.callback_log: list[tuple[str, int | str]] = []
        """Each callback sent: the URL and the HTTP status, or the error."""
        self.callback_shape = CALLBACK_SHAPES[0]
        self.rate_limit = rate_limit
        self.rate_window = timedelta(seconds=rate_window)
        self._recent: deque[datetime] = deque()
        self._reported: dict[str, str] = {}
        self._closing = threading.Event()
        self._server = Server(("127.0.0.1", port), self)
        self._serving: Serving | None = None

    def __enter__(self) -> SmsByFake:
        self._serving = Serving(self._server, "fake-smsby", 0.02)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving, wake slow answers and release the port."""
        self._closing.set()
        if self._serving is not None:
            self._serving.stop(timeout=5)
        else:
            self._server.server_close()

    @property
    def base_url(self) -> str:
        """Return the URL to give the client as its base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def got(self, phone: str) -> list[Delivery]:
        """Return every message ``phone`` has received, oldest first."""
        return self.gateway.got(phone)

    def advance(self, seconds: float) -> None:
        """Move a ``FakeClock`` forward and send the status callbacks now due."""
        if not isinstance(self.clock, FakeClock):
            raise TypeError("advance() needs the fake's own FakeClock")
        self.clock.advance(seconds)
        self.pump()

    def pump(self) -> None:
        """POST the status of each bulk request whose statuses changed since its last callback."""
        with self.gateway.lock:
            due = []
            for uuid, url in self.gateway.callbacks.items():
                shown = self.gateway.bulk_status(uuid)
                mark = json.dumps([_statuses(m) for m in shown])
                if self._reported.get(uuid) != mark:
                    self._reported[uuid] = mark
                    due.append((url, self._callback(uuid, shown)))
        for url, body in due:
            self.callback_log.append((url, _post_json(url, body)))

    def _callback(self, uuid: str, shown: list[dict[str, Any]]) -> Any:
        """Return a callback's body in ``callback_shape``."""
        if self.callback_shape == "both":
            return {"uuid": uuid, "messages": shown}
        if self.callback_shape == "accepted":
            return {"uuid": uuid, "success": "OK"}
        return shown

    def serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Answer a GET or POST; the gateway documents no other method."""
        if method == "HEAD":
            handler.send_error(501)
            return
        self.answer(handler)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Read one request, apply the next fault and the rate limit, and answer it."""
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        if length > READ_MAX_BYTES:
            _send(handler, Reply(400, {"error": "Invalid request: the body is too large"}))
            return
        raw = handler.rfile.read(length)
        ctype = handler.headers.get("Content-Type", "")
        form, body = _decode(ctype, raw)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        seen = Seen(parts.path, query, form, body, ctype.split(";")[0].strip())
        fault = self.faults.popleft() if self.faults else ""
        self.requests.append(seen)
        limited = self._limited()
        if fault == "500" or limited:
            _send(handler, limited or Reply(500, {"error": "Server unavailable"}))
            return
        if fault == "garbage-500":
            _send(handler, Reply(500, None), b"<html><body>Internal Server Error</body></html>")
            return
        # Every method of the document is a POST; anything else is a page that does not exist.
        reply = Reply(404, {"error": "Page not found"})
        if handler.command == "POST":
            reply = self.gateway.handle(seen.path, query, form, body)
        self._finish(handler, reply, fault)

    def _finish(self, handler: BaseHTTPRequestHandler, reply: Reply, fault: str) -> None:
        """Send ``reply`` as the fault says: lost, a proxy's 504, late or as it is."""
        if fault == "drop":
            handler.close_connection = True
            return
        if fault == "504":
            _send(handler, Reply(504, None), b"<html><body>504 Gateway Time-out</body></html>")
            return
        if fault.startswith("slow:"):
            self._closing.wait(float(fault.partition(":")[2]))
        _send(handler, reply)

    def _limited(self) -> Reply | None:
        """Return the 429 answer when this request goes over the rate limit."""
        if self.rate_limit is None:
            return None
        now = self.clock()
        while self._recent and now - self._recent[0] >= self.rate_window:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            wait = self.rate_window - (now - self._recent[0])
            seconds = str(max(1, math.ceil(wait.total_seconds())))
            return Reply(429, {"error": "Request limit exceeded"}, {"Retry-After": seconds})
        self._recent.append(now)
        return None


def _statuses(mailing: Mapping[str, Any]) -> Any:
    """Return what a callback reports of a mailing, without the ever-changing times."""
    if "errors" in mailing:
        return mailing["errors"]
    return [(d["phone"], d["status"]) for d in mailing["success"]]


def _post_json(url: str, body: Any) -> int | str:
    """POST a callback and return the HTTP status, or the error's name."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError) as exc:
        return type(exc).__name__


def _decode(ctype: str, raw: bytes) -> tuple[dict[str, str], Any]:
    """Return the form fields and the JSON body of a request, by its Content-Type."""
    kind = ctype.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        text = raw.decode("utf-8", "replace")
        return dict(parse_qsl(text, keep_blank_values=True)), None
    if kind == "multipart/form-data":
        return _multipart(ctype, raw), None
    if kind == "application/json":
        try:
            return {}, json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return {}, None
    return {}, None


def _multipart(ctype: str, raw: bytes) -> dict[str, str]:
    """Return the fields of a multipart/form-data body; a file field holds its file name."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        value = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        fields[name] = (filename or "file") if filename is not None else value
    return fields


def _send(handler: BaseHTTPRequestHandler, reply: Reply, raw: bytes | None = None) -> None:
    """Write ``reply`` as JSON, or ``raw`` as an HTML page."""
    body = raw if raw is not None else json.dumps(reply.body, ensure_ascii=False).encode()
    ctype = "text/html" if raw is not None else "application/json"
    answer(handler, reply.status, [("Content-Type", ctype), *reply.headers.items()], body)
