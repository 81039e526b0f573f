"""Define the records of a feed's read: what the fetch brought and what the parser found.

``poster.models`` names them too; they live apart so that a command which reads no feed, such
as ``status`` or ``check``, never builds their classes.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from poster.frozen import field, frozen

if TYPE_CHECKING:
    from poster.items import Item


@frozen
class Validators:
    """What the previous response said, for conditional GET (RFC 9110 §13) and hashing."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    taken_for: str | None = None
    """A mark of the settings and destinations of the read they came from (``read_mark``)."""
    source: str | None = None
    """A mark of the address they came from (``url_mark``): one read from another address was
    read from another document, whose items are not all new (a feed that moved)."""


@frozen
class FeedHints:
    """What a feed document says about how often to read it (RSS 2.0, RSS 1.0 Syndication)."""

    ttl: int | None = None
    """Minutes the channel may be cached (RSS ``<ttl>``)."""
    skip_hours: frozenset[int] = frozenset()
    """Hours of the day, 0-23 GMT, in which not to read it (RSS ``<skipHours>``)."""
    skip_days: frozenset[int] = frozenset()
    """Days of the week, 0 for Monday, on which not to read it (RSS ``<skipDays>``)."""
    update_period: str | None = None
    """``hourly``, ``daily``, ``weekly``, ``monthly`` or ``yearly`` (``sy:updatePeriod``)."""
    update_frequency: int = 1
    """Updates per period (``sy:updateFrequency``)."""
    update_base: datetime | None = None
    """When the updates' rhythm started (``sy:updateBase``)."""


@frozen
class ParsedFeed:
    """A parsed feed: its own title and link, and its items in document order."""

    title: str = ""
    link: str | None = None
    items: tuple[Item, ...] = ()
    format: str = ""
    warnings: tuple[str, ...] = ()
    """What was wrong with the document but repaired, such as invalid bytes replaced."""
    hubs: tuple[str, ...] = ()
    """The WebSub hubs the document names (``rel="hub"`` links, JSON Feed ``hubs``)."""
    topic: str | None = None
    """The URL the document says it lives at (``rel="self"``, JSON Feed ``feed_url``)."""
    hints: FeedHints = field(default_factory=FeedHints)
    """What the publisher said about how often to read the feed."""


@frozen
class Freshness:
    """How long a response stays fresh (RFC 9111 §4.2), and the header that said so."""

    seconds: float
    source: str
    """The header as a person would name it: ``Cache-Control max-age=1800``."""


@frozen
class FetchResult:
    """The outcome of one successful fetch.

    ``body`` is ``None`` when there is nothing new to parse: the server answered 304, or the
    body is byte-identical to the previous one (``unchanged``).
    """

    feed: str
    url: str
    status: int
    body: bytes | None
    validators: Validators
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    unchanged: bool = False
    fetched_at: datetime | None = None
    elapsed: float = 0.0
    freshness: Freshness | None = None
    """How long the server said the response stays fresh, on a 200 or a 304 alike."""

    @property
    def has_body(self) -> bool:
        """Tell whether this result carries a body worth parsing."""
        return self.body is not None
