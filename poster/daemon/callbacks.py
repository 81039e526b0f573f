"""Take gateways' status callbacks on the daemon's listener, and poll for the ones that never come.

Each gateway destination gets the path ``/gateway/<name>/<secret>``: the secret is made once and
kept in the state, so the URL given to the gateway stays the same across restarts and nobody
who does not know it can post statuses. Callbacks are accepted only for message ids poster sent.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping

from poster.daemon.httpserver import Call
from poster.daemon.listener import WebhookReceiver
from poster.destinations import REDACTED, Destination, Entries
from poster.destinations.gateway import StatusUpdate
from poster.destinations.gateway.destination import GatewayDestination
from poster.destinations.gateway.subscribers import GatewaySubscribers
from poster.errors import CallbackError, PosterError

log = logging.getLogger(__name__)

PREFIX = "/gateway/"
POLL_EVERY = 300.0
"""Seconds between two polls of the gateways for statuses no callback brought."""
MAX_BODY = 1024 * 1024
"""The largest status callback read: SMS.BY's carries a line for each number of a request of up
to 1,000 (about 110 KB), and the others far less."""
TEXT = "text/plain; charset=utf-8"


def secret_key(name: str) -> str:
    """Return the state entry holding destination ``name``'s callback secret."""
    return f"gateway-callback-secret:{name}"


def callback_path(state: Entries, name: str) -> str:
    """Return ``name``'s callback path, making and keeping its secret on first use."""
    secret = state.get_meta(secret_key(name))
    if not secret:
        secret = secrets.token_urlsafe(24)
        state.set_meta(secret_key(name), secret)
    return _path(name, secret)


def public_callback_url(state: Entries, public_url: str | None, name: str) -> str | None:
    """Return ``name``'s public callback URL once the daemon has made its secret, else None."""
    secret = state.get_meta(secret_key(name))
    if not public_url or not secret:
        return None
    return public_url.rstrip("/") + _path(name, secret)


def shown_callback_url(public_url: str, name: str) -> str:
    """Return the callback URL the daemon gives ``name`` as a preview shows it: secret hidden."""
    return public_url.rstrip("/") + _path(name, REDACTED)


def tell_callback_urls(
    state: Entries, public_url: str | None, destinations: Mapping[str, Destination]
) -> None:
    """Give each gateway destination the callback URL the daemon gives it, if made; make none."""
    for name, destination in destinations.items():
        if isinstance(destination, GatewayDestination):
            destination.address.url = public_callback_url(state, public_url, name)


def _path(name: str, secret: str) -> str:
    """Return the callback path of destination ``name`` with ``secret``."""
    return f"{PREFIX}{name}/{secret}"


class GatewayDesk:
    """Route callbacks to their gateway destination and poll the gateways now and then."""

    def __init__(
        self,
        state: Entries,
        public_url: str | None,
        *,
        poll_every: float = POLL_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._state = state
        self._public_url = public_url.rstrip("/") if public_url else None
        self._poll_every = poll_every
        self._clock = clock
        self._paths: dict[str, GatewayDestination] = {}
        self._lock = threading.Lock()
        self._last_poll: float | None = None
        self._poller: threading.Thread | None = None

    def update(self, destinations: Mapping[str, Destination], listening: bool) -> None:
        """Take the gateway destinations now configured; tell them their callback URL."""
        paths = {}
        for name, destination in destinations.items():
            if isinstance(destination, GatewayDestination):
                path = callback_path(self._state, name)
                paths[path] = destination
                public = self._public_url if listening else None
                destination.address.url = public + path if public else None
        with self._lock:
            self._paths = paths

    def handle(self, call: Call) -> tuple[int, str, bytes]:
        """Record one status callback; answer 404 on an unknown path, 400 on a bad callback."""
        destination = self._find(call.path)
        if destination is None:
            return 404, TEXT, b"not found\n"
        try:
            updates = _read(destination, call)
            known = destination.record(updates)
            if updates and not known:
                raise CallbackError("the callback names no message poster sent")
        except CallbackError as exc:
            log.warning("event=gateway-callback-refused destination=%s error=%s",
                        destination.name, exc)  # fmt: skip
            return 400, TEXT, f"{exc}\n".encode()
        log.debug("event=gateway-callback destination=%s recorded=%d", destination.name, known)
        return 200, TEXT, b"ok\n"

    def tick(self) -> None:
        """Start a poll of every gateway when one is due and none runs."""
        now = self._clock()
        if self._last_poll is not None and now - self._last_poll < self._poll_every:
            return
        if self._poller is not None and self._poller.is_alive():
            return
        self._last_poll = now
        with self._lock:
            gateways = list(self._paths.values())
        if gateways:
            # Off the main thread: a poll asks the gateway once per message on some APIs.
            self._poller = threading.Thread(
                target=_poll_all, args=(gateways,), name="gateway-poll", daemon=True
            )
            self._poller.start()

    def subscribers(self) -> list[GatewaySubscribers]:
        """Return each gateway destination's counts for its recent items."""
        with self._lock:
            gateways = list(self._paths.values())
        return [gateway.subscribers() for gateway in gateways]

    def stop(self, timeout: float = 5.0) -> None:
        """Wait for a poll under way to finish."""
        if self._poller is not None:
            self._poller.join(timeout)

    def _find(self, path: str) -> GatewayDestination | None:
        """Return the destination whose callback path ``path`` is, comparing in constant time."""
        with self._lock:
            paths = list(self._paths.items())
        found = None
        for known, destination in paths:
            if hmac.compare_digest(known.encode(), path.encode()):
                found = destination
        return found


def _read(destination: GatewayDestination, call: Call) -> list[StatusUpdate]:
    """Return the statuses a callback reports; a shape its reader trips on is unreadable."""
    try:
        return destination.adapter.callback(call.method, dict(call.query), call.body)
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        # RecursionError: JSON nested past the interpreter's depth, a hostile body's shape.
        raise CallbackError(f"unreadable callback ({type(exc).__name__})") from None


def _poll_all(gateways: list[GatewayDestination]) -> None:
    """Poll each gateway in turn; a gateway that fails is logged and the others go on."""
    for gateway in gateways:
        try:
            changed = gateway.poll()
        except PosterError as exc:
            log.warning("event=gateway-poll-failed destination=%s error=%s", gateway.name, exc)
            continue
        if changed:
            log.info("event=gateway-poll destination=%s recorded=%d", gateway.name, changed)


def start_gateways(
    state: Entries,
    public_url: str | None,
    destinations: Mapping[str, Destination],
    listener: WebhookReceiver | None,
    poll_every: float = POLL_EVERY,
) -> GatewayDesk:
    """Return the desk for ``destinations``, its callbacks served on ``listener`` if any."""
    desk = GatewayDesk(state, public_url, poll_every=poll_every)
    desk.update(destinations, listener is not None)
    if listener is not None:
        listener.add_callbacks(PREFIX, desk.handle, MAX_BODY)
    return desk
