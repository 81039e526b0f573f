"""Provide what the sandbox tests share: a webhook receiver and a channel ready to post to.

This module holds helpers only; the tests live in the ``test_sandbox_*`` modules.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import httpx

from poster.daemon.httpserver import shut_down
from poster.destinations.viber.sandbox import Sandbox

TOKEN = "test-token-5f1c0e"
SENDER = "sandbox-superadmin="
DATA = Path(__file__).parent.parent / "data" / "sandbox"

# One TLS context for every test client: httpx builds a new one per client otherwise (~80 ms).
TLS = ssl.create_default_context()


def load_messages() -> dict[str, dict[str, Any]]:
    """Return one valid post body per message type, keyed by type, without auth or sender."""
    messages: dict[str, dict[str, Any]] = json.loads((DATA / "messages.json").read_text())
    return messages


class Callback(NamedTuple):
    """One check call the receiver got: its signature (None if unsigned) and whether it is right."""

    body: dict[str, Any]
    content_type: str
    signed: bool
    signature: str | None = None


class Receiver:
    """Answer webhook check calls on 127.0.0.1 with ``status``, verifying the signature itself."""

    def __init__(self, token: str, status: int = 200) -> None:
        self.token = token
        self.status = status
        self.calls: list[Callback] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Return the webhook URL."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/viber/webhook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        shut_down(self._httpd)
        self._thread.join()

    def record(self, raw: bytes, signature: str | None, content_type: str) -> int:
        """Keep one call and return the status to answer with."""
        expected = hmac.new(self.token.encode(), raw, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(signature or "", expected)
        self.calls.append(Callback(json.loads(raw), content_type, signed, signature))
        return self.status


def _receiver_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            signature = self.headers.get("X-Viber-Content-Signature")
            status = receiver.record(raw, signature, self.headers.get("Content-Type", ""))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output clean."""

    return Handler


def api_client(sandbox: Sandbox, token: str | None = TOKEN, timeout: float = 5.0) -> httpx.Client:
    """Return a client for the sandbox API that sends ``token`` in the header (if any)."""
    headers = {"X-Viber-Auth-Token": token} if token is not None else {}
    return httpx.Client(
        base_url=sandbox.api_url + "/", headers=headers, timeout=timeout, verify=TLS
    )


@contextmanager
def open_channel(**options: Any) -> Iterator[tuple[Sandbox, httpx.Client, Receiver]]:
    """Run a sandbox whose webhook is set to a live receiver, with an authenticated client."""
    with (
        Receiver(TOKEN) as receiver,
        Sandbox(token=TOKEN, **options) as sandbox,
        api_client(sandbox) as client,
    ):
        answer = client.post("set_webhook", json={"url": receiver.url}).json()
        assert answer["status"] == 0, answer
        yield sandbox, client, receiver


def post(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """Send one post from the superadmin and return the JSON answer."""
    answer: dict[str, Any] = client.post("post", json={"from": SENDER, **body}).json()
    return answer
