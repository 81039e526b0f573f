"""Serve a sandbox channel over HTTP on this machine: the API under /pa, the channel page at /.

Routes::

    POST /pa/post | /pa/set_webhook | /pa/get_account_info   the Channels Post API
    GET  /                      the channel page (polls /sandbox/posts every second)
    GET  /sandbox/posts         accepted posts as JSON, oldest first, never with a token
    GET  /sandbox/faults        faults still queued
    POST /sandbox/faults        {"faults": ["rate_limit", "slow:2.5", ...]} queues faults
    GET  /sandbox/notice        {"summary": ..., "problems": [...]}: what the page shows above
                                the posts (``poster studio`` reports each render there)
    GET  /samples/NAME.jpg      a picture from the samples folder, when the sandbox serves one
    GET  /media/NAME.jpeg       an image poster converted, when the run names a media folder
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import urlsplit

from poster.destinations.viber.sandbox.api import Channel, Reply
from poster.media.store import serve

READ_MAX_BYTES = 1024 * 1024
"""Bodies above this are refused unread; the API's own limit (30 KB) is far lower."""

DEFAULT_CLI_PORT = 8765

POLL_SECONDS = 0.05
"""How often the server loop checks for stop(); short so tests and Ctrl-C finish at once."""

_ASSETS = {
    "/sandbox/page.js": ("page.js", "text/javascript; charset=utf-8"),
    "/sandbox/page.css": ("page.css", "text/css; charset=utf-8"),
}

SAMPLES_ROUTE = "/samples/"
MEDIA_ROUTE = "/media/"
PICTURE_MAX_BYTES = 5 * 1024 * 1024
"""A sample picture larger than this is not served; the shipped ones are a few KB."""

_PICTURE_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
}  # fmt: skip
# One plain file name: no folders, no dot files, so nothing outside the folder can be named.
_PICTURE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.(?:jpe?g|png|webp)", re.IGNORECASE)

# Media URLs point anywhere, so images may come from any origin; nothing else may.
_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src * data:; base-uri 'none'; form-action 'none'"
)


def _asset(name: str) -> str:
    """Return the text of a file shipped inside this package."""
    return (
        resources.files("poster.destinations.viber.sandbox")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )


class Sandbox:
    """Run a local channel that answers like the Channels Post API and shows its posts."""

    def __init__(
        self,
        *,
        token: str = "sandbox-token",
        host: str = "127.0.0.1",
        port: int = 0,
        channel_name: str = "Sandbox channel",
        members: Sequence[Mapping[str, str]] | None = None,
        samples: Path | None = None,
    ) -> None:
        self.channel = Channel(token=token, channel_name=channel_name, members=members)
        self.samples = samples
        """The folder whose pictures are served at /samples/, if any."""
        self.media: Path | None = None
        """The folder of images poster converted, served at /media/, if any."""
        self._address = (host, port)
        self._notice: dict[str, Any] = {"summary": "", "problems": []}
        self._page = _asset("page.html").replace("__CHANNEL_NAME__", html.escape(channel_name))
        self._closing = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> Sandbox:
        """Bind the port and serve in a background thread."""
        if self._httpd is not None:
            raise RuntimeError("the sandbox is already running")
        self._closing.clear()
        self._httpd = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": POLL_SECONDS},
            name="poster-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed answers and release the port; safe to call twice."""
        httpd, thread, self._httpd, self._thread = self._httpd, self._thread, None, None
        if httpd is None or thread is None:
            return
        self._closing.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()

    @property
    def url(self) -> str:
        """Return the channel page's URL."""
        if self._httpd is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    @property
    def api_url(self) -> str:
        """Return the API base URL; clients append /post, /set_webhook, /get_account_info."""
        return self.url + "pa"

    @property
    def posts(self) -> list[dict[str, Any]]:
        """Return the accepted posts in order, each with message_token and ts, no token."""
        return self.channel.posts

    @property
    def webhook(self) -> str | None:
        """Return the webhook URL currently set, if any."""
        return self.channel.webhook

    def inject(self, *faults: str) -> None:
        """Queue faults for the next /post calls, one each; raise ValueError on an unknown one."""
        self.channel.inject(*faults)

    def set_notice(self, summary: str, problems: Sequence[str] = ()) -> None:
        """Show a summary line and problems above the posts; empty ones hide the notice."""
        self._notice = {"summary": summary, "problems": list(problems)}

    def serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Answer one HTTP request."""
        path = urlsplit(handler.path).path
        if method == "POST" and path.startswith("/pa/"):
            self._api(handler, path.removeprefix("/pa/"))
        elif method == "POST" and path == "/sandbox/faults":
            self._inject(handler)
        elif method == "GET" and path == "/":
            _send(handler, 200, self._page.encode(), "text/html; charset=utf-8", page=True)
        elif method == "GET" and path == "/sandbox/posts":
            _send_json(handler, 200, self.posts)
        elif method == "GET" and path == "/sandbox/faults":
            _send_json(handler, 200, {"faults": self.channel.pending_faults})
        elif method == "GET" and path == "/sandbox/notice":
            _send_json(handler, 200, self._notice)
        elif method in ("GET", "HEAD") and path.startswith(MEDIA_ROUTE):
            self._media(handler, method, path.removeprefix(MEDIA_ROUTE))
        elif method == "GET" and path.startswith(SAMPLES_ROUTE):
            self._picture(handler, path.removeprefix(SAMPLES_ROUTE))
        elif method == "GET" and path in _ASSETS:
            name, kind = _ASSETS[path]
            _send(handler, 200, _asset(name).encode(), kind)
        else:
            _send_json(handler, 404, {"error": f"no {method} route for {path}"})

    def _api(self, handler: BaseHTTPRequestHandler, endpoint: str) -> None:
        """Hand an API call to the channel and carry out its reply."""
        raw = _read_body(handler)
        if raw is None:
            return
        reply: Reply = self.channel.call(endpoint, handler.headers.get("X-Viber-Auth-Token"), raw)
        if reply.delay:
            self._closing.wait(reply.delay)
        if reply.body is None:
            # A lost answer: the client sees the connection close with no response at all.
            handler.close_connection = True
            return
        _send_json(handler, reply.http_status, reply.body)

    def _picture(self, handler: BaseHTTPRequestHandler, name: str) -> None:
        """Serve one picture file from the samples folder, or say why there is none."""
        data = _read_picture(self.samples, name)
        if data is None:
            _send_json(handler, 404, {"error": f"no sample picture {name!r}"})
            return
        _send(handler, 200, data, _PICTURE_TYPES[Path(name).suffix.lower()])

    def _media(self, handler: BaseHTTPRequestHandler, method: str, name: str) -> None:
        """Serve a converted image exactly as the daemon's listener does."""
        if self.media is None:
            _send_json(handler, 404, {"error": "this sandbox serves no converted images"})
            return
        status, fields, data = serve(self.media, method, name, dict(handler.headers.items()))
        handler.send_response(status)
        for field, value in fields.items():
            handler.send_header(field, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if method == "GET":
            handler.wfile.write(data)

    def _inject(self, handler: BaseHTTPRequestHandler) -> None:
        """Queue faults sent as {"faults": [...]} by another process."""
        raw = _read_body(handler)
        if raw is None:
            return
        try:
            faults = json.loads(raw).get("faults")
            if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
                raise ValueError('send {"faults": ["rate_limit", "slow:2.5", ...]}')
            self.channel.inject(*faults)
        except (ValueError, AttributeError) as exc:
            _send_json(handler, 400, {"error": str(exc)})
            return
        _send_json(handler, 200, {"faults": self.channel.pending_faults})


def _read_picture(folder: Path | None, name: str) -> bytes | None:
    """Return the bytes of a small picture directly in ``folder``, or None."""
    if folder is None or not _PICTURE_NAME.fullmatch(name):
        return None
    try:
        with (folder / name).open("rb") as file:
            data = file.read(PICTURE_MAX_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= PICTURE_MAX_BYTES else None


def _read_body(handler: BaseHTTPRequestHandler) -> bytes | None:
    """Return the request body, or answer the request and return None when it cannot be read."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        _send_json(handler, 411, {"error": "send the body with a Content-Length"}, close=True)
        return None
    try:
        length = int(handler.headers.get("Content-Length", "0"))
    except ValueError:
        length = -1
    if not 0 <= length <= READ_MAX_BYTES:
        body = {"status": 3, "status_message": f"the body must be 0 to {READ_MAX_BYTES} bytes"}
        _send_json(handler, 200, body, close=True)
        return None
    return handler.rfile.read(length)


def _send_json(
    handler: BaseHTTPRequestHandler, status: int, body: Any, *, close: bool = False
) -> None:
    """Write one JSON response."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    _send(handler, status, data, "application/json; charset=utf-8", close=close)


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    kind: str,
    *,
    page: bool = False,
    close: bool = False,
) -> None:
    """Write one response; the page also gets a policy that blocks inline and foreign code."""
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(data)))
    handler.send_header("Cache-Control", "no-store")
    if page:
        handler.send_header("Content-Security-Policy", _PAGE_POLICY)
    if close:
        handler.send_header("Connection", "close")
        handler.close_connection = True
    handler.end_headers()
    handler.wfile.write(data)


class _Handler(BaseHTTPRequestHandler):
    """Hand every request to the owning Sandbox."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, each keep-alive
    # answer would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self.server.owner.serve(self, "GET")

    def do_POST(self) -> None:
        self.server.owner.serve(self, "POST")

    def do_HEAD(self) -> None:
        if urlsplit(self.path).path.startswith(MEDIA_ROUTE):
            self.server.owner.serve(self, "HEAD")
            return
        self.send_response(405)
        self.send_header("Allow", "GET, POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the terminal and test output clean; the page shows what arrived."""


class _Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its Sandbox and ignores clients that hang up."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], owner: Sandbox) -> None:
        self.owner = owner
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out closes its socket before a slow answer is written.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def describe(sandbox: Sandbox) -> str:
    """Return the lines that tell a person where the sandbox is and how to point poster at it."""
    sender = next(
        (m["id"] for m in sandbox.channel.members if m.get("role") == "superadmin"), "(none)"
    )
    return "\n".join(
        [
            f"Sandbox channel {sandbox.channel.channel_name!r} is running.",
            f"  page       {sandbox.url}  (open it in a browser; new posts appear at the bottom)",
            f"  api_url    {sandbox.api_url}  ([viber] api_url in feeds.toml)",
            f"  sender     {sender}  ([viber] from, a superadmin)",
            "  token      the one it was started with (POSTER_VIBER_TOKEN must match)",
            f'  faults     POST {{"faults": ["rate_limit"]}} to {sandbox.url}sandbox/faults',
            "Press Ctrl-C to stop.",
        ]
    )


def post_line(post: Mapping[str, Any], width: int = 72) -> str:
    """Return one line that tells a post apart: its type and the start of what it shows."""
    shown = next((post[k] for k in ("text", "file_name", "media", "sticker_id") if post.get(k)), "")
    lines = str(shown).strip().splitlines()
    first = lines[0] if lines else ""
    if len(first) > width:
        first = first[: width - 1] + "…"
    return f"{post.get('type', '?'):<8} {first}".rstrip()


def serve_forever(
    *,
    token: str = "sandbox-token",
    host: str = "127.0.0.1",
    port: int = DEFAULT_CLI_PORT,
    channel_name: str = "Sandbox channel",
    out: TextIO | None = None,
    until: threading.Event | None = None,
) -> None:
    """Run a sandbox, print where to look, and block until Ctrl-C (or ``until`` is set)."""
    with Sandbox(token=token, host=host, port=port, channel_name=channel_name) as sandbox:
        print(describe(sandbox), file=out or sys.stdout, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            (until or threading.Event()).wait()
