"""Run a WebSub hub on 127.0.0.1 for tests: subscriptions, verification of intent, signed pushes.

The hub answers a (un)subscription request with 202, then verifies it by calling the callback
with a challenge from a thread of its own, as the W3C WebSub Recommendation describes, naming
the topic with its unreserved characters decoded as §5.1.1 asks. Tests
wait on ``wait_verified`` (a condition, not a sleep), then ``publish`` content signed with each
subscription's secret (unsigned where none was given), or ``forge`` content with a wrong
signature. Given a TLS context it serves HTTPS, as a public hub does; ``tls_contexts`` makes the
pair of contexts for a certificate.
"""

from __future__ import annotations

import hmac
import re
import secrets
import ssl
import string
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from poster.daemon.httpserver import shut_down

UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")


@dataclass(frozen=True)
class Verification:
    """One verification call the hub made and what the callback answered."""

    mode: str
    topic: str
    callback: str
    status: int
    confirmed: bool


class Hub:
    """A threaded WebSub hub on a free port of 127.0.0.1."""

    def __init__(
        self, lease: int = 600, *, verify: bool = True, tls: ssl.SSLContext | None = None
    ) -> None:
        self.lease = lease
        self.verify = verify
        """Verify requests; a hub that never does leaves them pending."""
        self.requests: list[dict[str, str]] = []
        self.subscribers: dict[tuple[str, str], str | None] = {}
        """The secret of each verified subscription, by (topic, callback); None when none given."""
        self.verifications: list[Verification] = []
        self.refuse = False
        """Answer every request with 500, as a hub in trouble would."""
        self.moves: dict[str, tuple[int, str]] = {}
        """Answer a request to a path with a redirect: path to (status, Location)."""
        self.paths: list[str] = []
        """The path of each request, in the order of ``requests``."""
        self._changed = threading.Condition()
        self._httpd = _Server(self, tls)
        self._scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self._httpd.server_address[1]}/hub"

    def __enter__(self) -> Hub:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and release the port: the hub is gone."""
        shut_down(self._httpd)

    def wait_verified(self, count: int, timeout: float = 5.0) -> list[Verification]:
        """Return the verifications once there are ``count``, or fail after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.verifications) >= count, timeout):
                raise AssertionError(f"the hub made {len(self.verifications)} verifications")
            return list(self.verifications)

    def publish(
        self, topic: str, body: bytes, content_type: str, method: str = "sha256"
    ) -> list[int]:
        """Push ``body`` to every subscriber of ``topic``, signed when it gave a secret."""
        sent = []
        for (subscribed, callback), secret in list(self.subscribers.items()):
            if subscribed == topic:
                signature = None
                if secret is not None:
                    signature = f"{method}={hmac.new(secret.encode(), body, method).hexdigest()}"
                sent.append(self._push(callback, body, content_type, signature))
        return sent

    def forge(self, callback: str, body: bytes, content_type: str, signature: str | None) -> int:
        """Push ``body`` to a callback with a signature of one's own choosing."""
        return self._push(callback, body, content_type, signature)

    def deny(self, topic: str, callback: str, reason: str) -> int:
        """Tell a callback its subscription was denied; return its status."""
        query = urlencode({"hub.mode": "denied", "hub.topic": topic, "hub.reason": reason})
        return httpx.get(f"{callback}?{query}", timeout=5).status_code

    def _push(self, callback: str, body: bytes, content_type: str, signature: str | None) -> int:
        headers = {"Content-Type": content_type, "Link": f'<{self.url}>; rel="hub"'}
        if signature is not None:
            headers["X-Hub-Signature"] = signature
        return httpx.post(callback, content=body, headers=headers, timeout=5).status_code

    def _received(self, form: dict[str, str], path: str = "/hub") -> int:
        """Take a subscriber's request; verify it from another thread after answering."""
        with self._changed:
            self.requests.append(form)
            self.paths.append(path)
        if path in self.moves:
            return self.moves[path][0]
        if self.refuse:
            return 500
        if form.get("hub.mode") not in ("subscribe", "unsubscribe") or "hub.callback" not in form:
            return 400
        if self.verify:
            threading.Thread(target=self._verify, args=(form,), daemon=True).start()
        return 202

    def _verify(self, form: dict[str, str]) -> None:
        """Call the callback with a challenge; keep the subscription when it is echoed."""
        mode, topic, callback = form["hub.mode"], decoded(form["hub.topic"]), form["hub.callback"]
        challenge = secrets.token_hex(8)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(self.lease)
        try:
            answer = httpx.get(f"{callback}?{urlencode(params)}", timeout=5)
        except httpx.HTTPError:  # a subscriber gone before the call: not verified, as at a hub
            status, confirmed = 0, False
        else:
            status = answer.status_code
            confirmed = status == 200 and answer.text == challenge
        with self._changed:
            if confirmed and mode == "subscribe":
                self.subscribers[(topic, callback)] = form.get("hub.secret")
            elif confirmed:
                self.subscribers.pop((topic, callback), None)
            self.verifications.append(Verification(mode, topic, callback, status, confirmed))
            self._changed.notify_all()


def decoded(url: str) -> str:
    """Return ``url`` with escaped unreserved characters decoded, as WebSub §5.1.1 asks of hubs."""
    return re.sub(r"%([0-9A-Fa-f]{2})", _unreserved, url)


def _unreserved(found: re.Match[str]) -> str:
    """Return the character an escape stands for when it is unreserved, else the escape."""
    char = chr(int(found.group(1), 16))
    return char if char in UNRESERVED else found.group(0)


def tls_contexts(certificate: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Return a server context serving the certificate in a folder and a client one trusting it."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    return server, ssl.create_default_context(cafile=certificate / "cert.pem")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hub: Hub, tls: ssl.SSLContext | None) -> None:
        self.hub = hub
        super().__init__(("127.0.0.1", 0), _Handler)
        if tls is not None:
            # The handshake happens on the handler's thread, at its first read, not in accept().
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        path = urlsplit(self.path).path
        status = self.server.hub._received(form, path)
        self.send_response(status)
        if path in self.server.hub.moves:
            self.send_header("Location", self.server.hub.moves[path][1])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass
