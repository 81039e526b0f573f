"""Define the one interface every destination implements: ``send(message) -> Receipt``.

A destination is a channel or gateway that takes Channels-Post-style messages. Adding one is a
new module here that satisfies ``Destination``; the pipeline never asks which kind it talks to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from poster.destinations.viber.messages import Message

REDACTED = "***"


@dataclass(frozen=True)
class Receipt:
    """Proof that a destination accepted a message."""

    destination: str
    message_token: str | None
    sent_at: datetime
    body: Mapping[str, Any] = field(default_factory=dict)
    """The JSON body as sent, with every secret replaced by ``REDACTED``."""


class Destination(Protocol):
    """Something poster can post messages to."""

    @property
    def name(self) -> str:
        """Return the destination's name, as used in logs and the ledger."""
        ...

    def send(self, message: Message) -> Receipt:
        """Post one message, or raise a ``poster.errors.DeliveryError`` subclass."""
        ...
