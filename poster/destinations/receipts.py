"""Define what passes between poster and an open destination: its sender, account, receipts.

``poster.destinations`` hands them out on first use, so that reading the configuration and the
state, which only needs the registry of kinds, builds none of their classes, and a pass that
posts nothing builds none but ``Opening`` (``openings``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from poster.frozen import field, frozen
from poster.models import State


@frozen
class Sender:
    """Who a destination posts as, and where poster learnt it (``feeds.toml``, ``remembered``)."""

    id: str
    source: str


@frozen
class Account:
    """What a destination's account call tells a person: lines to print, a warning to heed."""

    lines: tuple[str, ...]
    warning: str | None = None


@frozen
class Limit:
    """The most characters a field of a feed's fixed message may have, and who says so."""

    most: int
    by: str


@frozen
class RecipientResult:
    """What became of a message at one recipient (a channel has one, a gateway several)."""

    recipient: str
    state: State
    message_id: str | None = None
    error: str | None = None


@frozen
class Receipt:
    """Proof that a destination accepted a message, with one result per recipient."""

    destination: str
    message_token: str | None
    sent_at: datetime
    body: Mapping[str, Any] = field(default_factory=dict)
    """The JSON body as sent, with every secret replaced by ``REDACTED``."""
    results: tuple[RecipientResult, ...] = ()
