"""Bound how many items one document gives: a feed of 300,000 items is no feed to post from.

Feeds list their newest items first, and a real one lists tens to a few thousand: past
``MAX_ITEMS`` the rest of a document is left unread, and the feed's warning says so.
"""

from __future__ import annotations

MAX_ITEMS = 10_000
"""The most items read from one document (300,000 tiny ones took 24 s and 381 MB to read)."""


def over_cap(total: int) -> str:
    """Return the warning for a document listing ``total`` items, more than ``MAX_ITEMS``."""
    return f"the document lists {total:,} items; only its first {MAX_ITEMS:,} are read"
