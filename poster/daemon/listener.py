"""Receive the calls Viber makes to the channels' webhook, and check their signatures.

Viber calls the webhook once for each ``set_webhook`` (the "Set webhook callback" in the
reference) and needs an HTTP 200 for the webhook to be accepted; posting makes no callbacks, so
that check call is the only one a channel gets. The reference shows it as a bare JSON POST
(``{"event":"webhook","timestamp":...,"message_token":...}``) and says nothing of a signature,
so an unsigned check call is answered 200. The real service signs its callbacks:
``X-Viber-Content-Signature`` is the hex HMAC-SHA256 of the raw body keyed with the token. A
signed call is taken when it matches the token of any channel served here, and refused with 403
otherwise. Any other unsigned call is refused too, and an unsigned check call is recorded only
by its three documented fields: nothing acts on a webhook event beyond logging it.

The receiver speaks plain HTTP on a local address; in production a reverse proxy with a
certificate from a trusted CA terminates TLS in front of it, as Viber refuses anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Sequence
from http import HTTPStatus
from types import TracebackType
from typing import Any

from poster.daemon.httpserver import (
    MAX_HANDLERS,
    Callback,
    CallbackRoute,
    Files,
    Route,
    Server,
    shut_down,
)

log = logging.getLogger(__name__)

EVENTS_KEPT = 100
CHECK_FIELDS = ("event", "timestamp", "message_token")
"""The fields of the check call ("Set webhook callback"), all an unsigned call may carry in."""
ID_MAX = 64
"""The longest ``timestamp`` or ``message_token`` string taken: enough for any ID or UUID."""


def signature(body: bytes, token: str) -> str:
    """Return the lowercase hex HMAC-SHA256 of ``body`` keyed with ``token``."""
    return hmac.new(token.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, token: str, provided: str | None) -> bool:
    """Tell whether ``provided`` is the signature of ``body``, in constant time."""
    if not provided:
        return False
    expected = signature(body, token)
    return hmac.compare_digest(expected.encode("ascii"), provided.strip().lower().encode())


def verify_any(body: bytes, tokens: Sequence[str], provided: str | None) -> bool:
    """Tell whether ``provided`` is the signature of ``body`` with any of ``tokens``."""
    # Every token is tried, so the time taken does not tell which one matched.
    matches = [verify(body, token, provided) for token in tokens]
    return any(matches)


def check_call(event: dict[str, Any]) -> dict[str, Any] | None:
    """Return the documented fields of a well-formed check call, or None if it is not one.

    The reference shows ``timestamp`` and ``message_token`` as whole numbers and names only
    "Epoch time" and "Unique ID": a fraction of a second, or an ID in letters, is taken too.
    """
    if event.get("event") != "webhook":
        return None
    if not all(_is_stamp_or_id(event.get(key)) for key in ("timestamp", "message_token")):
        return None
    return {key: event[key] for key in CHECK_FIELDS}


def _distinct(tokens: str | Sequence[str]) -> tuple[str, ...]:
    """Return the tokens given, each once and in order, without empty ones."""
    listed = (tokens,) if isinstance(tokens, str) else tuple(tokens)
    return tuple(dict.fromkeys(token for token in listed if token))


def _is_stamp_or_id(value: Any) -> bool:
    """Tell whether ``value`` is a number not below 0, or a short word of printable ASCII."""
    if isinstance(value, str):
        return 0 < len(value) <= ID_MAX and all("!" <= ch <= "~" for ch in value)
    if isinstance(value, float):
        return math.isfinite(value) and value >= 0
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class WebhookReceiver:
    """Serve the webhook (and any extra GET routes) from a thread on one listener.

    ``tokens`` is the token of each channel whose webhook this is (one string for one channel).
    """

    def __init__(
        self,
        tokens: str | Sequence[str],
        host: str = "127.0.0.1",
        port: int = 8080,
        path: str = "/viber/webhook",
        max_handlers: int = MAX_HANDLERS,
    ) -> None:
        self.host = host
        self.port = port
        self.path = path
        self.max_handlers = max_handlers
        self._tokens = _distinct(tokens)
        self._routes: dict[str, Route] = {}
        self._callbacks: dict[str, CallbackRoute] = {}
        self._files: tuple[str, Files] | None = None
        self._events: deque[dict[str, Any]] = deque(maxlen=EVENTS_KEPT)
        self.on_check: Callable[[], None] | None = None
        """Told when Viber's check call is answered: a ``set_webhook`` is under way."""
        self._lock = threading.Lock()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"WebhookReceiver(url={self.url!r})"

    def __enter__(self) -> WebhookReceiver:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Return the webhook URL, with the port actually bound once started."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    @property
    def events(self) -> list[dict[str, Any]]:
        """Return a copy of the last events received, oldest first."""
        with self._lock:
            return list(self._events)

    def use_tokens(self, tokens: str | Sequence[str]) -> None:
        """Check the calls from now on against ``tokens`` (the channels after a reload)."""
        distinct = _distinct(tokens)
        with self._lock:
            self._tokens = distinct

    def add_route(self, path: str, handler: Route) -> None:
        """Serve ``handler``'s answer to GET requests on ``path``."""
        with self._lock:
            self._routes[path] = handler

    def add_callbacks(
        self,
        prefix: str,
        handler: Callback,
        max_body: int,
        *,
        oversized: bool = False,
        knows: Callable[[str], bool] | None = None,
    ) -> None:
        """Hand every GET and POST under ``prefix`` to ``handler``, bodies up to ``max_body``.

        A larger body is answered 413, or with ``oversized`` handed on as a ``too_large`` call.
        A POST to a path ``knows`` does not know is handed on with its body unread.
        """
        with self._lock:
            self._callbacks[prefix] = CallbackRoute(handler, max_body, oversized, knows)

    def add_files(self, prefix: str, handler: Files) -> None:
        """Hand every GET and HEAD of a name directly under ``prefix`` to ``handler``."""
        with self._lock:
            self._files = (prefix, handler)

    def _file_handler(self, path: str) -> Files | None:
        """Return the files handler when ``path`` is under its prefix."""
        with self._lock:
            found = self._files
        return found[1] if found is not None and path.startswith(found[0]) else None

    def _masked(self, text: str) -> str:
        """Return ``text`` with what follows each callback prefix, a secret, masked as ``***``."""
        with self._lock:
            prefixes = list(self._callbacks)
        for prefix in prefixes:
            text = re.sub(re.escape(prefix) + r"[^\s\"']*", prefix + "***", text)
        return text

    def _callback(self, path: str) -> CallbackRoute | None:
        """Return the handler of a callback path and its body cap, if ``path`` is one."""
        with self._lock:
            found = [(p, h) for p, h in self._callbacks.items() if path.startswith(p)]
        return max(found, key=lambda f: len(f[0]))[1] if found else None

    def start(self) -> None:
        """Bind the listener and serve in a daemon thread."""
        if self._server is not None:
            return
        self._server = Server(self)
        self.port = int(self._server.server_address[1])
        # A short poll keeps stop() quick; serve_forever checks for shutdown between polls.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="webhook", daemon=True
        )
        self._thread.start()
        log.info("event=webhook_listening url=%s", self.url)

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        shut_down(server)
        if thread is not None:
            thread.join()

    def _route(self, path: str) -> Route | None:
        """Return the GET handler for ``path``, if one is registered."""
        with self._lock:
            return self._routes.get(path)

    def _accept(self, body: bytes, provided: str | None) -> tuple[int, dict[str, Any] | None]:
        """Check and record one webhook call; return the HTTP status and the event.

        ``provided`` is the signature sent with the call, None when it came unsigned.
        """
        with self._lock:
            tokens = self._tokens
        if provided is not None and not verify_any(body, tokens, provided):
            return HTTPStatus.FORBIDDEN, None
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            # RecursionError: arrays nested thousands deep fit easily in MAX_BODY.
            return HTTPStatus.BAD_REQUEST, None
        if not isinstance(event, dict):
            return HTTPStatus.BAD_REQUEST, None
        if provided is None:
            event = check_call(event)
            if event is None:
                return HTTPStatus.FORBIDDEN, None
        with self._lock:
            self._events.append(event)
        if event.get("event") == "webhook" and self.on_check is not None:
            self.on_check()
        return HTTPStatus.OK, event
