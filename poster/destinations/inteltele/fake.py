"""Serve a strict fake Intel Tele gateway on this machine, for tests and the sandbox.

Routes (GET with query params as the document shows them, or POST with a form body and the
query; ``Account.reads_form = False`` reads the query alone)::

    /im/send/  /im/status/  /balance/  /credit/  /rates/   the API of inteltele-im-api.txt
    GET /fake/messages      accepted messages by phone, as JSON, never with a credential

Status callbacks go to ``callback_url`` with ``callback_method`` (GET or POST, as the account's
profile says) when ``deliver_reports`` runs after the clock passed a message's outcome.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from poster.destinations.inteltele.fakestate import Account, Delivery, Gateway, Reply, phones_of
from poster.sandbox.httpio import Server, Serving, answer

READ_MAX_BYTES = 1024 * 1024
"""Bodies above this are refused unread: 50 numbers and 1000 symbols are far smaller."""
POLL_SECONDS = 0.05
CALLBACK_TIMEOUT = 2.0
ENDPOINTS = ("im/send", "im/status", "balance", "credit", "rates")


class ManualClock:
    """Give the time in seconds since the epoch, moved only by ``advance``."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        with self._lock:
            self.now += seconds


class FakeInteltele:
    """Run a fake gateway on 127.0.0.1 that answers like the documented API."""

    def __init__(
        self,
        account: Account | None = None,
        *,
        clock: ManualClock | None = None,
        callback_url: str | None = None,
        callback_method: str = "POST",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.clock = clock or ManualClock()
        self.gateway = Gateway(account or Account(), self.clock)
        self.callback_url = callback_url
        self.callback_method = callback_method
        self.callback_answers: list[tuple[str, int | str]] = []
        """(msgid, HTTP status or error name) of each callback made."""
        self._address = (host, port)
        self._closing = threading.Event()
        self._serving: Serving | None = None

    def __enter__(self) -> FakeInteltele:
        self._closing.clear()
        self._serving = Serving(Server(self._address, self), "inteltele-fake", POLL_SECONDS)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        serving, self._serving = self._serving, None
        if serving is None:
            return
        self._closing.set()
        serving.stop()

    @property
    def account(self) -> Account:
        """Return the account, whose settings a test may change."""
        return self.gateway.account

    @property
    def base_url(self) -> str:
        """Return the URL to give the client as its base URL."""
        if self._serving is None:
            raise RuntimeError("the fake is not running; use it in a with block")
        host, port = self._serving.address
        return f"http://{host}:{port}"

    @property
    def deliveries(self) -> list[Delivery]:
        """Return every accepted message, oldest first."""
        return list(self.gateway.deliveries)

    def inbox(self, phone: str) -> list[Delivery]:
        """Return what ``phone`` got, oldest first."""
        return phones_of(self.gateway.deliveries).get(phone, [])

    def inject(self, *faults: str) -> None:
        """Queue faults ("drop", "http500", "no-id", "slow:S") for the next API calls, one each.

        "no-id" answers the call without the message ids of the numbers it queued.
        """
        self.gateway.inject(*faults)

    def deliver_reports(self) -> int:
        """Call the callback URL once for each status now due; return how many were due."""
        due = self.gateway.due_reports()
        if self.callback_url is None:
            return len(due)
        with httpx.Client(timeout=CALLBACK_TIMEOUT) as client:
            for report in due:
                self.callback_answers.append((report["msgid"], self._report(client, report)))
        return len(due)

    def _report(self, client: httpx.Client, report: Mapping[str, str]) -> int | str:
        """Make one status callback and return its HTTP status or the error's name."""
        url = str(self.callback_url)
        try:
            if self.callback_method == "GET":
                return client.get(url, params=dict(report)).status_code
            return client.post(url, data=dict(report)).status_code
        except httpx.HTTPError as exc:
            return type(exc).__name__

    def serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Answer one HTTP request."""
        parts = urlsplit(handler.path)
        path = parts.path.strip("/")
        if method == "GET" and path == "fake/messages":
            _send_json(handler, 200, _listing(self.gateway.deliveries))
            return
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if method == "POST":
            body = _read_form(handler)
            if body is None:
                return
            if self.gateway.account.reads_form:
                params.update(body)
        reply = self.gateway.call(path, params, handler.client_address[0])
        self._answer(handler, reply)

    def _answer(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        """Carry out a reply: wait, drop the line, or write the JSON answer."""
        if reply.delay:
            self._closing.wait(reply.delay)
        if reply.body is None:
            # A lost answer: the request was carried out, the client sees the line close.
            handler.close_connection = True
            return
        headers = {"Retry-After": str(reply.retry_after)} if reply.retry_after else {}
        _send_json(handler, reply.http_status, reply.body, headers)


def _listing(deliveries: list[Delivery]) -> dict[str, list[dict[str, Any]]]:
    """Return the accepted messages by phone, as JSON-ready records."""
    return {
        phone: [
            {"message_id": d.message_id, "country": d.country, "cost": str(d.cost), **d.params}
            for d in items
        ]
        for phone, items in phones_of(deliveries).items()
    }


def _read_form(handler: BaseHTTPRequestHandler) -> dict[str, str] | None:
    """Return the form params of a POST body, or answer 400/413 and return None."""
    try:
        length = int(handler.headers.get("Content-Length", "0"))
    except ValueError:
        length = -1
    if not 0 <= length <= READ_MAX_BYTES:
        _send_json(handler, 413, {"error": f"the body must be 0 to {READ_MAX_BYTES} bytes"})
        handler.close_connection = True
        return None
    raw = handler.rfile.read(length)
    kind = handler.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


def _send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Write one JSON response."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    fields = [("Content-Type", "application/json; charset=utf-8"), *(headers or {}).items()]
    answer(handler, status, fields, data)
