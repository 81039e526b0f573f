"""Serve the three gateways' strict fakes on the sandbox's port, each under its own path prefix.

Routes (base URLs for feeds.toml are the sandbox's address plus the ``base`` column)::

    prefix             base                        the fake behind it
    /decisiontelecom   /decisiontelecom/v1/api     DecisionTelecom (send-viber, receive-viber)
    /inteltele         /inteltele                  Intel Tele (im/send, im/status, balance, ...)
    /smsby             /smsby                      SMS.BY (api/v1/..., api/v2/...)

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
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from poster.destinations.decisiontelecom import fakestate
from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.inteltele.fake import FakeInteltele, ManualClock
from poster.destinations.inteltele.gateway import Account
from poster.destinations.smsby.fake import DEFAULT_TOKEN, SmsByFake
from poster.destinations.viber.sandbox.wire import READ_MAX_BYTES, read_body, send_json
from poster.sandbox.phones import (
    Phone,
    as_json,
    decisiontelecom_phones,
    inteltele_phones,
    smsby_phones,
)

BALANCE = 1000
"""Each fake account's money: enough for a long session; the fakes' own defaults run out fast."""

SMSBY_FAULTS = ("500", "garbage-500", "drop", "slow:<seconds>")
SLOW_MAX_SECONDS = 3600.0
OVERVIEW_ROUTE = "/sandbox/gateways"


@dataclass(frozen=True)
class Mounted:
    """One gateway as the sandbox serves it: where, under which name, with which credentials."""

    id: str
    name: str
    prefix: str
    base: str
    credentials: str
    """What to put in feeds.toml to be let in: the fakes' fixed sandbox credentials."""


MOUNTED = (
    Mounted(
        "decisiontelecom",
        "DecisionTelecom",
        "/decisiontelecom",
        "/decisiontelecom/v1/api",
        "access key fake-access-key",
    ),
    Mounted(
        "inteltele",
        "Intel Tele",
        "/inteltele",
        "/inteltele",
        f"username {Account.username}, api key {Account.api_key}",
    ),
    Mounted("smsby", "SMS.BY", "/smsby", "/smsby", f"token {DEFAULT_TOKEN}"),
)


class _Clock(ManualClock):
    """Give the Intel Tele fake the sandbox's clock instead of its own hand-moved one."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock())
        self._clock = clock

    def __call__(self) -> float:
        return self._clock()


class GatewayFakes:
    """Run the three fakes and answer for them on the sandbox's port (a ``Mount``)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.decisiontelecom = FakeDecisionTelecom(
            fakestate.Gateway(clock=clock, balance=float(BALANCE))
        )
        self.inteltele = FakeInteltele(Account(balance=Decimal(BALANCE)), clock=_Clock(clock))
        # The SMS.BY fake binds its port when made, so it is made by start().
        self._smsby: SmsByFake | None = None
        self._serve: dict[str, Callable[[BaseHTTPRequestHandler, str], None]] = {
            "decisiontelecom": self.decisiontelecom.serve,
            "inteltele": self.inteltele.serve,
            "smsby": lambda handler, _method: self.smsby.answer(handler),
        }
        self._started = False

    @property
    def smsby(self) -> SmsByFake:
        """Return the SMS.BY fake, made by ``start``."""
        if self._smsby is None:
            raise RuntimeError("the gateways are not started; call start() first")
        return self._smsby

    def start(self) -> None:
        """Start the fakes; each also listens on a port of its own, which nothing needs."""
        self._smsby = SmsByFake(clock=lambda: datetime.fromtimestamp(self.clock()))
        self._smsby.gateway.balance = Decimal(BALANCE)
        self.decisiontelecom.start()
        self.inteltele.__enter__()
        self.smsby.__enter__()
        self._started = True

    def stop(self) -> None:
        """Stop the fakes and wake their slow answers; safe to call twice."""
        if not self._started:
            return
        self._started = False
        self.decisiontelecom.stop()
        self.inteltele.__exit__(None, None, None)
        self.smsby.close()

    def phones(self, gateway: str) -> list[Phone]:
        """Return what each phone got from ``gateway`` (an id of ``MOUNTED``)."""
        if gateway == "decisiontelecom":
            return decisiontelecom_phones(self.decisiontelecom)
        if gateway == "inteltele":
            return inteltele_phones(self.inteltele)
        return smsby_phones(self.smsby)

    def inject(self, gateway: str, *faults: str) -> None:
        """Queue faults for a gateway's next calls; raise ValueError on an unknown one."""
        if gateway == "decisiontelecom":
            self.decisiontelecom.gateway.inject(*faults)
        elif gateway == "inteltele":
            self.inteltele.inject(*faults)
        else:
            for fault in faults:
                if not _smsby_fault(fault):
                    known = ", ".join(SMSBY_FAULTS)
                    raise ValueError(f"unknown fault {fault!r}; use one of {known}")
            self.smsby.faults.extend(faults)

    def pump(self) -> None:
        """Send every status callback now due, from each fake."""
        self.decisiontelecom.pump()
        self.inteltele.deliver_reports()
        self.smsby.pump()

    def overview(self) -> list[dict[str, Any]]:
        """Describe each gateway and its phones for the page."""
        return [
            {"id": m.id, "name": m.name, "base": m.base, "phones": as_json(self.phones(m.id))}
            for m in MOUNTED
        ]

    def route(self, handler: BaseHTTPRequestHandler, method: str, path: str) -> bool:
        """Answer a request to a gateway or to the routes above; return False for any other."""
        if path == OVERVIEW_ROUTE and method == "GET":
            send_json(handler, 200, self.overview())
            return True
        for mounted in MOUNTED:
            if path == f"{OVERVIEW_ROUTE}/{mounted.id}/faults" and method == "POST":
                self._inject(handler, mounted.id)
                return True
            if path.startswith(mounted.prefix + "/"):
                self._hand_on(handler, method, mounted)
                return True
        return False

    def _hand_on(self, handler: BaseHTTPRequestHandler, method: str, mounted: Mounted) -> None:
        """Give a request to its fake as if it had come without the prefix."""
        if not _readable(handler):
            return
        parts = urlsplit(handler.path)
        rest = parts.path.removeprefix(mounted.prefix)
        handler.path = f"{rest}?{parts.query}" if parts.query else rest
        self._serve[mounted.id](handler, method)

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
    if chunked or not length.isdigit() or int(length) > READ_MAX_BYTES:
        problem = f"send the body with a Content-Length of at most {READ_MAX_BYTES} bytes"
        send_json(handler, 400, {"error": problem}, close=True)
        return False
    return True


def _smsby_fault(fault: str) -> bool:
    """Tell whether the SMS.BY fake knows ``fault`` (its own list, which it does not check)."""
    kind, colon, seconds = fault.partition(":")
    if not colon:
        return kind in SMSBY_FAULTS
    try:
        return kind == "slow" and 0 <= float(seconds) < SLOW_MAX_SECONDS
    except ValueError:
        return False
