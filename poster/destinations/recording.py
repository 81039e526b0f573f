"""Record messages instead of posting them: the destination behind ``poster preview``.

As a kind of its own (``kind = "recording"``) it keeps a plain rendering of each post in
memory, at most ``KEPT`` of them: a destination to try routing with, which posts nowhere.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from poster.config import FeedConfig
from poster.destinations import Kind, Message, Receipt
from poster.models import Item, Post

TEXT_MAX = 100_000
"""The most characters of text a recorded message keeps."""
KEPT = 1000
"""How many receipts a recording destination keeps; older ones are dropped."""


@dataclass(frozen=True)
class RecordedMessage:
    """A post reduced to what every kind shares: type, text and link."""

    type: str
    text: str
    link: str | None = None
    kind_name: ClassVar[str] = "recording"

    def payload(self) -> dict[str, Any]:
        """Return the recorded fields."""
        return {"type": self.type, "text": self.text, "link": self.link}


class RecordingKind:
    """Keep each post's type, text and link, whatever the feed asks for."""

    name = "recording"

    def choose_type(self, item: Item, feed: FeedConfig) -> str:
        """Return the feed's fixed or configured type; ``auto`` records text."""
        if feed.fixed is not None:
            return feed.fixed.type
        return "text" if feed.type == "auto" else feed.type

    def possible_types(self, feed: FeedConfig) -> tuple[str, ...]:
        """Return the one type this kind records for ``feed``, and text."""
        first = feed.fixed.type if feed.fixed is not None else feed.type
        return tuple(dict.fromkeys(t for t in (first, "text") if t != "auto"))

    def text_limit(self, type: str) -> int:
        """Return the cap on recorded text."""
        return TEXT_MAX

    def compose(self, post: Post) -> Message:
        """Return the recorded form of ``post``."""
        return RecordedMessage(post.type, post.text[:TEXT_MAX], post.link)

    def preview_body(self, message: Message, sender: str | None) -> dict[str, Any]:
        """Return the recorded fields."""
        return message.payload()


KIND = RecordingKind()


class RecordingDestination:
    """Build the exact body a destination of ``kind`` would receive, keep it, send nothing."""

    def __init__(self, name: str, kind: Kind = KIND, sender: str | None = None) -> None:
        self._name = name
        self._kind = kind
        self.sender = sender
        self.sent: deque[Receipt] = deque(maxlen=KEPT)

    @property
    def name(self) -> str:
        """Return the name of the destination this stands in for."""
        return self._name

    @property
    def kind(self) -> Kind:
        """Return the kind whose bodies are recorded."""
        return self._kind

    def send(self, message: Message) -> Receipt:
        """Record the body that would be posted, with every secret redacted."""
        body = self._kind.preview_body(message, self.sender)
        receipt = Receipt(self._name, None, datetime.now(UTC), body)
        self.sent.append(receipt)
        return receipt
