"""Define the frozen records that flow between the pipeline's stages.

The records of a feed's read (``poster.reads``), its items and their posts (``poster.items``)
a feed's fixed messages (``poster.fixed``) and its next read (``poster.polls``) load from here
on first use, so that reading the configuration and the state builds none of their classes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from poster.lazy import names_from

if TYPE_CHECKING:
    from poster.fixed import Contact as Contact
    from poster.fixed import Fixed as Fixed
    from poster.fixed import Location as Location
    from poster.fixed import Sticker as Sticker
    from poster.items import Body as Body
    from poster.items import FeedMeta as FeedMeta
    from poster.items import Item as Item
    from poster.items import Media as Media
    from poster.items import Post as Post
    from poster.polls import NextPoll as NextPoll
    from poster.reads import FeedHints as FeedHints
    from poster.reads import FetchResult as FetchResult
    from poster.reads import Freshness as Freshness
    from poster.reads import ParsedFeed as ParsedFeed
    from poster.reads import Validators as Validators

_HOMES = {
    **dict.fromkeys(("Body", "FeedMeta", "Item", "Media", "Post"), "poster.items"),
    **dict.fromkeys(
        ("FeedHints", "FetchResult", "Freshness", "ParsedFeed", "Validators"), "poster.reads"
    ),
    **dict.fromkeys(("Contact", "Fixed", "Location", "Sticker"), "poster.fixed"),
    "NextPoll": "poster.polls",
}
"""The records kept in other modules, each with the module that defines it."""

__getattr__ = names_from(__name__, _HOMES)


class Action(StrEnum):
    """What the selection stage decides for an item."""

    POST = "post"
    FILTERED = "filtered"
    SEEN = "seen"
    """Not posted because the destination already has it (posted, or failed and kept for retry)."""
    HELD = "held_back"
    """Not posted, now or ever, because a feed's first read held it back (``backlog``)."""
    REPEATED = "repeated"
    """Not posted because an item above it in the same document has its key: that one is."""


class State(StrEnum):
    """Where an item stands at one destination; the values are what the ledger stores."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    SEEN = "seen"
    """Known without being posted: the backlog of a feed seen for the first time."""
    RELEASED = "released"
    """Handed back by an operator, to be sent on the feed's next pass."""
    SKIPPED = "skipped"
    """Not posted because it waited longer than the destination's ``max_wait``; retryable."""
    DEFERRED = "deferred"
    """Waiting for a later pass (pacing, rate limits, a destination that refuses); never stored."""
