"""Offer the SMS.BY fake to the combined sandbox, and show what its phones got."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler

from poster.destinations.smsby.fake import DEFAULT_TOKEN, SmsByFake
from poster.sandbox.fakes import Bubble, Mounted, Phone, grouped

_STATES = {"NEW": "pending", "SENT": "sent", "DELIVERED": "delivered", "READ": "read"}
FAULTS = ("500", "garbage-500", "504", "drop", "slow:<seconds>")
SLOW_MAX_SECONDS = 3600.0
MOUNTED = Mounted("smsby", "SMS.BY", "/smsby", "/smsby", f"token {DEFAULT_TOKEN}")


class Sandboxed:
    """Run the SMS.BY fake on the sandbox's clock, with money for a long session."""

    mounted = MOUNTED

    def __init__(self, clock: Callable[[], float], balance: int) -> None:
        self.clock = clock
        self.balance = balance
        # The SMS.BY fake binds its port when made, so it is made by start().
        self._fake: SmsByFake | None = None

    @property
    def fake(self) -> SmsByFake:
        """Return the SMS.BY fake, made by ``start``."""
        if self._fake is None:
            raise RuntimeError("the gateways are not started; call start() first")
        return self._fake

    def start(self) -> None:
        """Make and start the fake; it also listens on a port of its own, which nothing needs."""
        self._fake = SmsByFake(clock=lambda: datetime.fromtimestamp(self.clock()))
        self._fake.gateway.balance = Decimal(self.balance)
        self._fake.__enter__()

    def stop(self) -> None:
        """Stop the fake."""
        self.fake.close()

    def serve(self, handler: BaseHTTPRequestHandler, _method: str) -> None:
        """Answer one request."""
        self.fake.answer(handler)

    def phones(self) -> list[Phone]:
        """Return what each phone got, failed numbers included."""
        return phones(self.fake)

    def inject(self, *faults: str) -> None:
        """Queue faults for the next calls; the fake does not check them, so this does."""
        for fault in faults:
            if not _known(fault):
                raise ValueError(f"unknown fault {fault!r}; use one of {', '.join(FAULTS)}")
        self.fake.faults.extend(faults)

    def pump(self) -> None:
        """Send the status callbacks now due."""
        self.fake.pump()


def _known(fault: str) -> bool:
    """Tell whether the SMS.BY fake knows ``fault``."""
    kind, colon, seconds = fault.partition(":")
    if not colon:
        return kind in FAULTS
    try:
        return kind == "slow" and 0 <= float(seconds) < SLOW_MAX_SECONDS
    except ValueError:
        return False


def phones(fake: SmsByFake) -> list[Phone]:
    """Return what each phone got from the SMS.BY fake, failed numbers included."""
    gateway = fake.gateway
    pairs = []
    with gateway.lock:
        for delivery in gateway.deliveries:
            status = gateway.status(delivery)
            bubble = Bubble(
                sender=delivery.sender,
                text=delivery.text,
                image=delivery.image_url,
                button=delivery.button,
                link=delivery.button_link,
                status=status if not delivery.error else f"{status}: {delivery.error}",
                state=_STATES.get(status, "failed"),
            )
            pairs.append((delivery.phone, bubble))
    return grouped(pairs)
