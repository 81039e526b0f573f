"""Record messages instead of posting them: the destination behind ``poster preview``.

As a kind of its own (``kind = "recording"``) it writes a plain rendering of each post as one
JSON line to ``<name>.jsonl`` in the state folder: a destination to try routing with, which
posts nowhere.
"""

from __future__ import annotations

import errno
import json
import threading
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from poster.config import DestinationConfig, FeedConfig
from poster.config.feedkeys import Key
from poster.destinations import Kind, Message, Opening, Receipt
from poster.errors import DestinationFatal, RetryLater
from poster.frozen import frozen
from poster.models import Item, Post

TEXT_MAX = 100_000
"""The most characters of text a recorded message keeps."""
KEPT = 1000
"""How many receipts a recording destination keeps; older ones are dropped."""


@frozen
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
    keys: Mapping[str, Key] = {}

    def settings(self, values: Mapping[str, Any]) -> None:
        """Return nothing: a recording destination has no keys of its own."""
        return None

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

    def open(self, spec: DestinationConfig, where: Opening) -> RecordingDestination:
        """Return a destination writing each body to ``<name>.jsonl`` in the state folder."""
        return RecordingDestination(spec.name, path=where.state_dir / f"{spec.name}.jsonl")


KIND = RecordingKind()


class RecordingDestination:
    """Build the exact body a destination of ``kind`` would receive, keep it, send nothing."""

    def __init__(
        self, name: str, kind: Kind = KIND, sender: str | None = None, path: Path | None = None
    ) -> None:
        self._name = name
        self._kind = kind
        self.sender = sender
        self.path = path
        self.sent: deque[Receipt] = deque(maxlen=KEPT)
        self._lock = threading.Lock()

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
        if self.path is not None:
            self._write(body)
        self.sent.append(receipt)
        return receipt

    def _write(self, body: dict[str, Any]) -> None:
        """Append ``body`` as one JSON line; a failed write is retried like a lost connection,
        unless the file can never be written as it is (a folder, no permission), which stops
        the destination until it is fixed, as a refused token does."""
        line = json.dumps(body, ensure_ascii=False, sort_keys=True) + "\n"
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as out:  # type: ignore[union-attr]
                out.write(line)
        except OSError as exc:
            text = f"{self._name}: cannot write {self.path}: {exc.strerror}"
            if exc.errno in _NEVER_WRITTEN:
                fix = "make it a file poster may write, or remove it, then reload"
                raise DestinationFatal(f"{text}; {fix}") from exc
            raise RetryLater(f"{text}; will retry later") from exc


_NEVER_WRITTEN = frozenset(
    (errno.EISDIR, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.ELOOP)
)
"""Errors that writing the same file again cannot mend."""
