"""Keep the items a feed's first read held back as one compact document per read.

A new feed's backlog is remembered, never posted. Kept as one delivery document each, 30,000
such items cost about 35 MiB in memory and dominate start-up; kept as one list of keys per
read, ``{"feed": F, "at": time, "keys": [...]}``, they cost little more than the keys. The index
keeps each feed's keys as one sorted tuple, a tenth of what a set of them costs, made when
the feed is first looked up.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from poster.store.documents import DeliveryRecord, from_iso
from poster.store.ledger import SEEN

TABLE = "seen"


class SeenIndex:
    """Answer whether a feed's item was held back, from the keys of every seen document."""

    def __init__(self) -> None:
        from bisect import bisect_left  # here: a read-only open leaving the items aside makes none

        self._find = bisect_left
        self._keys: dict[str, tuple[str, ...]] = {}
        self._unsorted: dict[str, list[str]] = {}
        """Keys read from the documents, each feed's sorted when it is first looked at: a
        command that only shows the state, such as status, never sorts them."""

    @classmethod
    def build(cls, docs: Mapping[str, Mapping[str, Any]]) -> SeenIndex:
        """Index TinyDB's raw documents; raise ``ValueError`` naming the first unusable one."""
        found: dict[str, list[str]] = {}
        for doc_id, doc in docs.items():
            problem = check_seen(doc)
            if problem is not None:
                raise ValueError(f"seen record {doc_id} {problem}")
            found.setdefault(doc["feed"], []).extend(doc["keys"])
        index = cls()
        index._unsorted = {feed: keys for feed, keys in found.items() if keys}
        return index

    def has(self, feed: str, key: str) -> bool:
        """Tell whether the item was held back."""
        return self._holds(self._feed_keys(feed), key)

    def among(self, feed: str, keys: Iterable[str]) -> set[str]:
        """Return those of ``keys`` that were held back."""
        known = self._feed_keys(feed)
        return {key for key in keys if self._holds(known, key)} if known else set()

    def has_feed(self, feed: str) -> bool:
        """Tell whether any item of the feed was held back."""
        return feed in self._keys or feed in self._unsorted

    def add(self, feed: str, keys: Collection[str]) -> None:
        """Index the keys of a new document."""
        if keys:
            self._keys[feed] = _sorted([*self._feed_keys(feed), *keys])

    def remove(self, feed: str, keys: Collection[str]) -> None:
        """Forget keys whose document was pruned."""
        gone = set(keys)
        known = tuple(key for key in self._feed_keys(feed) if key not in gone)
        if known:
            self._keys[feed] = known
        else:
            self._keys.pop(feed, None)

    def _feed_keys(self, feed: str) -> tuple[str, ...]:
        """Return the feed's keys once each, sorted, sorting them on the first look."""
        if feed in self._unsorted:
            self._keys[feed] = _sorted(self._unsorted.pop(feed))
        return self._keys.get(feed, ())

    def _holds(self, keys: tuple[str, ...], key: str) -> bool:
        """Tell whether the sorted ``keys`` hold ``key``."""
        at = self._find(keys, key)
        return at < len(keys) and keys[at] == key


def _sorted(keys: Iterable[str]) -> tuple[str, ...]:
    """Return the keys once each, sorted, for a binary search."""
    return tuple(sorted(set(keys)))


def new_seen_doc(feed: str, keys: list[str], at: str) -> dict[str, Any]:
    """Return the document of one read's held-back keys."""
    return {"feed": feed, "at": at, "keys": keys}


def check_seen(doc: Mapping[str, Any]) -> str | None:
    """Say what is wrong with a seen document, or return ``None`` if it is usable."""
    if type(doc.get("feed")) is not str or type(doc.get("at")) is not str:
        return "has no text 'feed' or 'at'"
    keys = doc.get("keys")
    if type(keys) is not list or not _all_text(keys):
        return "has no list of text 'keys'"
    try:
        datetime.fromisoformat(doc["at"])
    except ValueError:
        return "has a time that is not ISO 8601"
    return None


def _all_text(keys: list[Any]) -> bool:
    """Tell whether every key is text, as the state's JSON decoder made it."""
    # Joining fails at the first key that is not a string: a fifth of the time of collecting
    # the keys' types, and a tenth of testing each key, over 30,000 keys.
    try:
        "".join(keys)
    except TypeError:
        return False
    return True


def seen_records(doc: Mapping[str, Any]) -> Iterator[DeliveryRecord]:
    """Show a seen document as delivery records, one per key, as operators see them."""
    at = from_iso(doc["at"])
    assert at is not None
    for key in doc["keys"]:
        yield DeliveryRecord(doc["feed"], key, "", SEEN, 0, None, at, at, None)


def held_records(
    docs: Mapping[str, Mapping[str, Any]], states: Collection[str] | None, feed: str | None
) -> list[DeliveryRecord]:
    """Return the held-back items of ``feed`` (or all) as records, if ``states`` wants them.

    ``docs`` are the table's documents by id, as the journal keeps them.
    """
    if states is not None and SEEN not in states:
        return []
    chosen = [doc for doc in docs.values() if not feed or doc["feed"] == feed]
    return [record for doc in chosen for record in seen_records(doc)]
