"""Serve a strict fake DecisionTelecom Viber API on this machine, with callbacks and faults.

Routes::

    POST /v1/api/send-viber       send one message (``fakestate.Gateway`` judges it)
    POST /v1/api/receive-viber    the status of one message
    GET  /fake/messages           accepted messages as JSON, oldest first, never with the key

Status callbacks and 2-Way replies go out when a test calls ``pump()`` or ``reply()``, so time
only moves when the injected clock does.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from poster.destinations.decisiontelecom.fakestate import Answer, Gateway
from poster.frozen import frozen
from poster.sandbox import httpio
from poster.sandbox.httpio import Server, Serving

API_PREFIX = "/v1/api/"
READ_MAX_BYTES = 64 * 1024
CALLBACK_TIMEOUT = httpx.Timeout(2.0)
POLL_SECONDS = 0.05


@frozen
class Callback:
    """One callback the fake made: where, what, and the receiver's HTTP status (0: failed)."""

    url: str
    body: dict[str, Any]
    http_status: int


class FakeDecisionTelecom:
    """Run a local gateway that answers like the DecisionTelecom Viber API."""

    def __init__(self, gateway: Gateway | None = None, *, host: str = "127.0.0.1", port: int = 0):
        self.gateway = gateway or Gateway()
        self._address = (host, port)
        self._notified: dict[int, int] = {}
        self._tokens = itertools.count(44444444444444)
        self._closing = threading.Event()
        self._serving: Serving | None = None
        self._callbacks: httpx.Client | None = None

    def __enter__(self) -> FakeDecisionTelecom:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> FakeDecisionTelecom:
        """Bind the port and serve in a background thread."""
        self._closing.clear()
        self._serving = Serving(Server(self._address, self), "fake-decisiontelecom", POLL_SECONDS)
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed answers and release the port; safe to call twice."""
        serving, self._serving = self._serving, None
        if self._callbacks is not None:
            self._callbacks.close()
            self._callbacks = None
        if serving is None:
            return
        self._closing.set()
        serving.stop()

    @property
    def base_url(self) -> str:
        """Return the API base URL; clients append /send-viber and /receive-viber."""
        if self._serving is None:
            raise RuntimeError("the fake is not running; call start() first")
        host, port = self._serving.address
        return f"http://{host}:{port}/v1/api"

    def pump(self) -> list[Callback]:
        """Send a status callback for every message whose status changed since the last one."""
        made = []
        for accepted in self.gateway.messages:
            url = accepted.body.get("callback_url")
            status = int(self.gateway.status(accepted))
            if not url or self._notified.get(accepted.message_id) == status:
                continue
            self._notified[accepted.message_id] = status
            made.append(self._post(url, {"message_id": accepted.message_id, "status": status}))
        return made

    def reply(self, phone: str, text: str) -> Callback:
        """Send a subscriber's answer to the callback URL of their last 2-Way message."""
        accepted = self.gateway.two_way(phone)
        if accepted is None:
            raise ValueError(f"no 2-Way message with a callback_url was sent to {phone}")
        body = {
            "message_token": next(self._tokens),
            "phone_number": phone,
            "time": int(self.gateway.clock()),
            "message": {"text": text, "tracking_data": f"tracking_id:{accepted.message_id}"},
        }
        return self._post(str(accepted.body["callback_url"]), body)

    def _post(self, url: str, body: dict[str, Any]) -> Callback:
        """POST one JSON callback and return what the receiver answered (0: no answer)."""
        if self._callbacks is None:
            # Made on first use: building a client loads the CA bundle, which most runs skip.
            self._callbacks = httpx.Client(timeout=CALLBACK_TIMEOUT)
        try:
            response = self._callbacks.post(url, json=body)
        except httpx.HTTPError:
            return Callback(url, body, 0)
        return Callback(url, body, response.status_code)

    def serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Answer one HTTP request."""
        path = urlsplit(handler.path).path
        if method == "POST" and path.startswith(API_PREFIX):
            self._api(handler, path.removeprefix(API_PREFIX))
        elif method == "GET" and path == "/fake/messages":
            _send(handler, Answer(200, [asdict(m) for m in self.gateway.messages]))
        else:
            _send(handler, Answer(404, {"name": "Not Found", "message": f"no {method} {path}",
                                        "code": 0, "status": 404}))  # fmt: skip

    def _api(self, handler: BaseHTTPRequestHandler, endpoint: str) -> None:
        """Hand an API call to the gateway and carry out its answer."""
        try:
            length = int(handler.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= READ_MAX_BYTES:
            _send(handler, Answer(413, raw=b"request body too large"), close=True)
            return
        # Read the body even for an unknown endpoint, so the next request on a kept-alive
        # connection does not start inside it.
        raw = handler.rfile.read(length)
        if endpoint not in ("send-viber", "receive-viber"):
            _send(handler, Answer(404, {"name": "Not Found", "message": "Page not found.",
                                        "code": 0, "status": 404}))  # fmt: skip
            return
        headers = handler.headers
        answer = self.gateway.call(
            endpoint, headers.get("Authorization"), headers.get("Content-Type", ""), raw
        )
        if answer.delay:
            self._closing.wait(answer.delay)
        if answer.drop:
            # A lost answer: the request was carried out, the client sees the connection close.
            handler.close_connection = True
            return
        _send(handler, answer)


def _send(handler: BaseHTTPRequestHandler, answer: Answer, *, close: bool = False) -> None:
    """Write one answer: its JSON body, or its raw bytes."""
    if answer.raw is not None:
        data, kind = answer.raw, "text/html; charset=utf-8"
    else:
        data = json.dumps(answer.body, ensure_ascii=False).encode("utf-8")
        kind = "application/json; charset=UTF-8"
    fields = [("Content-Type", kind), *answer.headers]
    httpio.answer(handler, answer.http_status, fields, data, close=close)
