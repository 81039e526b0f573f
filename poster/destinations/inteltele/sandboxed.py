"""Offer the Intel Tele fake to the combined sandbox, and show what its phones got."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler

from poster.destinations.inteltele.fake import FakeInteltele, ManualClock
from poster.destinations.inteltele.fakestate import Account
from poster.sandbox.fakes import Bubble, Mounted, Phone, grouped, text_of

_STATES = {"enroute": "sent", "delivrd": "delivered"}
"""delivrd is delivered; the document names unknown, rejectd, expired, undeliv, deleted failed."""
MOUNTED = Mounted(
    "inteltele",
    "Intel Tele",
    "/inteltele",
    "/inteltele",
    f"username {Account.username}, api key {Account.api_key}",
)


class _Clock(ManualClock):
    """Give the Intel Tele fake the sandbox's clock instead of its own hand-moved one."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock())
        self._clock = clock

    def __call__(self) -> float:
        return self._clock()


class Sandboxed:
    """Run the Intel Tele fake on the sandbox's clock, with money for a long session."""

    mounted = MOUNTED

    def __init__(self, clock: Callable[[], float], balance: int) -> None:
        self.fake = FakeInteltele(Account(balance=Decimal(balance)), clock=_Clock(clock))

    def start(self) -> None:
        """Start the fake."""
        self.fake.__enter__()

    def stop(self) -> None:
        """Stop the fake."""
        self.fake.__exit__(None, None, None)

    def serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Answer one request."""
        self.fake.serve(handler, method)

    def phones(self) -> list[Phone]:
        """Return what each phone got."""
        return phones(self.fake)

    def inject(self, *faults: str) -> None:
        """Queue faults for the next calls."""
        self.fake.inject(*faults)

    def pump(self) -> None:
        """Send the delivery reports now due."""
        self.fake.deliver_reports()


def phones(fake: FakeInteltele) -> list[Phone]:
    """Return what each phone got from the Intel Tele fake."""
    now = fake.clock()
    pairs = []
    for delivery in fake.deliveries:
        status = delivery.status(now)
        params = delivery.params
        bubble = Bubble(
            sender=text_of(params, "im_sender"),
            text=text_of(params, "im_message"),
            image=text_of(params, "im_image"),
            button=text_of(params, "im_button_text"),
            link=text_of(params, "im_button_link"),
            status=status,
            state=_STATES.get(status, "failed"),
        )
        pairs.append((delivery.phone, bubble))
    return grouped(pairs)
