"""Serve the gateways' strict fakes on the sandbox's port, each under its own path prefix.

Every kind that offers a fake through the registry (``sandbox_fakes``) is mounted; each fake
says its prefix and base (base URLs for feeds.toml are the sandbox's address plus the base)::

    GET  /sandbox/gateways                each gateway, and each phone with what it got
    POST /sandbox/gateways/<id>/faults    {"faults": [...]} queues faults for its next calls

Each fake keeps its own rules and faults; this module strips the prefix and hands the request
on. Statuses advance with the clock given (the wall clock by default); ``pump`` sends the status
callbacks now due, as the fakes do when a test moves their clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from poster.destinations import sandbox_fakes
from poster.sandbox.fakes import Fake, Mounted, as_json
from poster.sandbox.httpio import READ_MAX_BYTES, read_body, send_json

BALANCE = 1000
"""Each fake account's money: enough for a long session; the fakes' own defaults run out fast."""
OVERVIEW_ROUTE = "/sandbox/gateways"


class GatewayFakes:
    """Run every kind's fake and answer for them on the sandbox's port (a ``Mount``)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.fakes: dict[str, Fake] = {
            fake.mounted.id: fake for fake in sandbox_fakes(clock, BALANCE)
        }
        self._started = False

    @property
    def mounted(self) -> tuple[Mounted, ...]:
        """Return where each fake is served, in registry order."""
        return tuple(fake.mounted for fake in self.fakes.values())

    def fake(self, gateway: str) -> Any:
        """Return the fake of ``gateway`` (a mounted id) as its kind made it."""
        return self.fakes[gateway]

    def start(self) -> None:
        """Start the fakes; each may also listen on a port of its own, which nothing needs."""
        for fake in self.fakes.values():
            fake.start()
        self._started = True

    def stop(self) -> None:
        """Stop the fakes and wake their slow answers; safe to call twice."""
        if not self._started:
            return
        self._started = False
        for fake in self.fakes.values():
            fake.stop()

    def inject(self, gateway: str, *faults: str) -> None:
        """Queue faults for a gateway's next calls; raise ValueError on an unknown one."""
        self.fakes[gateway].inject(*faults)

    def pump(self) -> None:
        """Send every status callback now due, from each fake."""
        for fake in self.fakes.values():
            fake.pump()

    def overview(self) -> list[dict[str, Any]]:
        """Describe each gateway and its phones for the page."""
        return [
            {"id": where.id, "name": where.name, "base": where.base, "phones": as_json(phones)}
            for where, phones in ((fake.mounted, fake.phones()) for fake in self.fakes.values())
        ]

    def route(self, handler: BaseHTTPRequestHandler, method: str, path: str) -> bool:
        """Answer a request to a gateway or to the routes above; return False for any other."""
        if path == OVERVIEW_ROUTE and method == "GET":
            send_json(handler, 200, self.overview())
            return True
        for fake in self.fakes.values():
            where = fake.mounted
            if path == f"{OVERVIEW_ROUTE}/{where.id}/faults" and method == "POST":
                self._inject(handler, where.id)
                return True
            if path.startswith(where.prefix + "/"):
                self._hand_on(handler, method, fake)
                return True
        return False

    def _hand_on(self, handler: BaseHTTPRequestHandler, method: str, fake: Fake) -> None:
        """Give a request to its fake as if it had come without the prefix."""
        if not _readable(handler):
            return
        parts = urlsplit(handler.path)
        rest = parts.path.removeprefix(fake.mounted.prefix)
        handler.path = f"{rest}?{parts.query}" if parts.query else rest
        fake.serve(handler, method)

    def _inject(self, handler: BaseHTTPRequestHandler, gateway: str) -> None:
        """Queue the faults a request names and answer with them, or 400 with the reason."""
        raw = read_body(handler)
        if raw is None:
            return
        try:
            faults = json.loads(raw).get("faults")
            if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
                raise ValueError('send {"faults": ["drop", "slow:2.5", ...]}')
            self.inject(gateway, *faults)
        except (ValueError, AttributeError) as exc:
            send_json(handler, 400, {"error": str(exc)})
            return
        send_json(handler, 200, {"queued": faults})


def _readable(handler: BaseHTTPRequestHandler) -> bool:
    """Tell whether a fake can read the body; otherwise answer as the sandbox does and say no."""
    length = handler.headers.get("Content-Length", "0")
    chunked = "chunked" in handler.headers.get("Transfer-Encoding", "").lower()
    if chunked or not (length.isascii() and length.isdigit()) or int(length) > READ_MAX_BYTES:
        problem = f"send the body with a Content-Length of at most {READ_MAX_BYTES} bytes"
        send_json(handler, 400, {"error": problem}, close=True)
        return False
    return True
