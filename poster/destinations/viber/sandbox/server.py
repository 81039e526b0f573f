"""Serve sandbox channels over HTTP on this machine: the API under /pa, the channel page at /.

Routes::

    POST /pa/post | /pa/set_webhook | /pa/get_account_info   the Channels Post API; the call's
                                token picks the channel (header, else the body's auth_token)
    GET  /                      the channel page (polls the routes below every second)
    GET  /sandbox/posts         the first channel's posts as JSON, oldest first, never a token
    GET  /sandbox/faults        faults still queued for the first channel
    POST /sandbox/faults        {"faults": ["rate_limit", "slow:2.5", ...]} queues faults there
    /sandbox/channels...        every channel, and a way to add one (see ``channels``)
    GET  /sandbox/gateways      what mounted gateways show; [] when none is mounted
    GET  /sandbox/notice        {"summary": ..., "problems": [...]}: what the page shows above
                                the posts (``poster studio`` reports each render there)
    GET  /samples/NAME.jpg      a picture from the samples folder, when the sandbox serves one
    GET  /media/NAME.jpeg       an image poster converted, when the run names a media folder

A mount (``Mount``) answers the paths it owns before the sandbox does, on the same port.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

from poster.destinations.viber.sandbox.channels import Channels, switch_faults
from poster.destinations.viber.sandbox.fakechannel import Channel, Reply
from poster.media.jpegstore import serve
from poster.sandbox.httpio import Server, Serving, read_body, send, send_json

DEFAULT_CLI_PORT = 8765

POLL_SECONDS = 0.05
"""How often the server loop checks for stop(); short so tests and Ctrl-C finish at once."""

_ASSETS = {
    "/sandbox/dom.js": ("dom.js", "text/javascript; charset=utf-8"),
    "/sandbox/page.js": ("page.js", "text/javascript; charset=utf-8"),
    "/sandbox/tabs.js": ("tabs.js", "text/javascript; charset=utf-8"),
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


class Mount(Protocol):
    """Something served on the sandbox's port beside the channels: started, stopped, routed."""

    def start(self) -> None:
        """Get ready to answer requests."""

    def stop(self) -> None:
        """Release what ``start`` took and wake answers that wait."""

    def route(self, handler: BaseHTTPRequestHandler, method: str, path: str) -> bool:
        """Answer a request to a path it owns and return True; return False for any other."""


def _asset(name: str) -> str:
    """Return the text of a file shipped inside this package."""
    return (
        resources.files("poster.destinations.viber.sandbox")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )


class Sandbox:
    """Run local channels that answer like the Channels Post API and show their posts.

    The first channel signs its webhook check call as the real Viber does; with
    ``sign_callbacks=False`` it sends the call unsigned, as the reference shows it.
    """

    def __init__(
        self,
        *,
        token: str = "sandbox-token",
        host: str = "127.0.0.1",
        port: int = 0,
        channel_name: str = "Sandbox channel",
        members: Sequence[Mapping[str, str]] | None = None,
        samples: Path | None = None,
        mounts: Sequence[Mount] = (),
        sign_callbacks: bool = True,
    ) -> None:
        first = Channel(
            token=token, channel_name=channel_name, members=members, sign_callbacks=sign_callbacks
        )
        self.channels = Channels(first)
        self.mounts = tuple(mounts)
        """What else answers on this port, asked in order before the sandbox's own routes."""
        self.samples = samples
        """The folder whose pictures are served at /samples/, if any."""
        self.media: Path | None = None
        """The folder of images poster converted, served at /media/, if any."""
        self._address = (host, port)
        self._notice: dict[str, Any] = {"summary": "", "problems": []}
        self._page = _asset("page.html").replace("__CHANNEL_NAME__", html.escape(channel_name))
        self._closing = threading.Event()
        self._serving: Serving | None = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> Sandbox:
        """Bind the port and serve in a background thread."""
        if self._serving is not None:
            raise RuntimeError("the sandbox is already running")
        self._closing.clear()
        server = Server(self._address, self)
        for mount in self.mounts:
            mount.start()
        self._serving = Serving(server, "poster-sandbox", POLL_SECONDS)
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed answers and release the port; safe to call twice."""
        serving, self._serving = self._serving, None
        if serving is None:
            return
        self._closing.set()
        for mount in self.mounts:
            mount.stop()
        serving.stop()

    @property
    def channel(self) -> Channel:
        """Return the first channel, the one the sandbox was started with."""
        return self.channels.all[0]

    def add_channel(self, token: str, name: str = "") -> Channel:
        """Add a channel answering to ``token``; raise ValueError on a bad or taken token."""
        number = self.channels.add(token, name)
        return self.channels.all[number - 1]

    @property
    def url(self) -> str:
        """Return the channel page's URL."""
        if self._serving is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        host, port = self._serving.address
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
        if method == "HEAD" and not path.startswith(MEDIA_ROUTE):
            _refuse_head(handler)
            return
        if self.channels.route(handler, method, path):
            return
        if any(mount.route(handler, method, path) for mount in self.mounts):
            return
        if method == "POST" and path.startswith("/pa/"):
            self._api(handler, path.removeprefix("/pa/"))
        elif method == "POST" and path == "/sandbox/faults":
            self._inject(handler)
        elif method == "GET" and path == "/sandbox/gateways":
            send_json(handler, 200, [])
        elif method == "GET" and path == "/":
            send(handler, 200, self._page.encode(), "text/html; charset=utf-8", page=True)
        elif method == "GET" and path == "/sandbox/posts":
            send_json(handler, 200, self.posts)
        elif method == "GET" and path == "/sandbox/faults":
            send_json(handler, 200, {"faults": self.channel.pending_faults})
        elif method == "GET" and path == "/sandbox/notice":
            send_json(handler, 200, self._notice)
        elif method in ("GET", "HEAD") and path.startswith(MEDIA_ROUTE):
            self._media(handler, method, path.removeprefix(MEDIA_ROUTE))
        elif method == "GET" and path.startswith(SAMPLES_ROUTE):
            self._picture(handler, path.removeprefix(SAMPLES_ROUTE))
        elif method == "GET" and path in _ASSETS:
            name, kind = _ASSETS[path]
            send(handler, 200, _asset(name).encode(), kind)
        else:
            send_json(handler, 404, {"error": f"no {method} route for {path}"})

    def _api(self, handler: BaseHTTPRequestHandler, endpoint: str) -> None:
        """Hand an API call to the channel and carry out its reply."""
        raw = read_body(handler)
        if raw is None:
            return
        header_token = handler.headers.get("X-Viber-Auth-Token")
        channel = self.channels.pick(header_token, raw)
        reply: Reply = channel.call(endpoint, header_token, raw)
        if reply.delay:
            self._closing.wait(reply.delay)
        if reply.body is None:
            # A lost answer: the client sees the connection close with no response at all.
            handler.close_connection = True
            return
        send_json(handler, reply.http_status, reply.body)

    def _picture(self, handler: BaseHTTPRequestHandler, name: str) -> None:
        """Serve one picture file from the samples folder, or say why there is none."""
        data = _read_picture(self.samples, name)
        if data is None:
            send_json(handler, 404, {"error": f"no sample picture {name!r}"})
            return
        send(handler, 200, data, _PICTURE_TYPES[Path(name).suffix.lower()])

    def _media(self, handler: BaseHTTPRequestHandler, method: str, name: str) -> None:
        """Serve a converted image exactly as the daemon's listener does."""
        if self.media is None:
            send_json(handler, 404, {"error": "this sandbox serves no converted images"})
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
        raw = read_body(handler)
        if raw is None:
            return
        try:
            body = json.loads(raw)
            answer = switch_faults(self.channel, body if isinstance(body, dict) else {})
        except ValueError as exc:
            send_json(handler, 400, {"error": str(exc)})
            return
        send_json(handler, 200, answer)


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


def _refuse_head(handler: BaseHTTPRequestHandler) -> None:
    """Answer HEAD with 405 and no body: only converted images are served to HEAD."""
    handler.send_response(405)
    handler.send_header("Allow", "GET, POST")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def post_line(post: Mapping[str, Any], width: int = 72) -> str:
    """Return one line that tells a post apart: its type and the start of what it shows."""
    shown = next((post[k] for k in ("text", "file_name", "media", "sticker_id") if post.get(k)), "")
    lines = str(shown).strip().splitlines()
    first = lines[0] if lines else ""
    if len(first) > width:
        first = first[: width - 1] + "…"
    return f"{post.get('type', '?'):<8} {first}".rstrip()
