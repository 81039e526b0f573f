"""Offer the DecisionTelecom fake to the combined sandbox, and show what its phones got."""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from poster.destinations.decisiontelecom import fakestate
from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.sandbox.fakes import Bubble, Mounted, Phone, grouped, text_of

_STATES = {"pending": "pending", "sent": "sent", "delivered": "delivered"}
MOUNTED = Mounted(
    "decisiontelecom",
    "DecisionTelecom",
    "/decisiontelecom",
    "/decisiontelecom/v1/api",
    "access key fake-access-key",
)


class Sandboxed:
    """Run the DecisionTelecom fake on the sandbox's clock, with money for a long session."""

    mounted = MOUNTED

    def __init__(self, clock: Callable[[], float], balance: int) -> None:
        self.fake = FakeDecisionTelecom(fakestate.Gateway(clock=clock, balance=float(balance)))

    def start(self) -> None:
        """Start the fake."""
        self.fake.start()

    def stop(self) -> None:
        """Stop the fake."""
        self.fake.stop()

    def serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Answer one request."""
        self.fake.serve(handler, method)

    def phones(self) -> list[Phone]:
        """Return what each phone got."""
        return phones(self.fake)

    def inject(self, *faults: str) -> None:
        """Queue faults for the next calls."""
        self.fake.gateway.inject(*faults)

    def pump(self) -> None:
        """Send the status callbacks now due."""
        self.fake.pump()


def phones(fake: FakeDecisionTelecom) -> list[Phone]:
    """Return what each phone got from the DecisionTelecom fake."""
    pairs = []
    for accepted in fake.gateway.messages:
        status = fake.gateway.status(accepted).name.lower()
        body = accepted.body
        bubble = Bubble(
            sender=text_of(body, "source_addr"),
            text=text_of(body, "text"),
            image=text_of(body, "image"),
            button=text_of(body, "button_caption"),
            link=text_of(body, "button_action"),
            status=status,
            state=_STATES.get(status, "failed"),
        )
        pairs.append((accepted.phone, bubble))
    return grouped(pairs)
