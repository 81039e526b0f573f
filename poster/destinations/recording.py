"""Record messages instead of posting them: the destination behind ``poster preview``."""

from __future__ import annotations

from datetime import UTC, datetime

from poster.destinations import REDACTED, Receipt
from poster.destinations.viber.messages import Message, envelope

UNRESOLVED_SENDER = "<super-admin id from get_account_info>"


class RecordingDestination:
    """Build the exact body a channel would receive, keep it, and send nothing."""

    def __init__(self, name: str = "viber", sender: str | None = None) -> None:
        self._name = name
        self.sender = sender or UNRESOLVED_SENDER
        self.sent: list[Receipt] = []

    @property
    def name(self) -> str:
        """Return the name of the destination this stands in for."""
        return self._name

    def send(self, message: Message) -> Receipt:
        """Record the body that would be posted, with the token redacted."""
        body = envelope(message, sender=self.sender, auth_token=REDACTED)
        receipt = Receipt(self._name, None, datetime.now(UTC), body)
        self.sent.append(receipt)
        return receipt
