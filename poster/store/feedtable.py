"""Keep each feed's state in one document a feed: validators, reads, failures and next poll.

The caller holds the store's lock around every call; nothing here locks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from poster.store import documents
from poster.store.documents import FeedState, to_iso
from poster.store.index import NamedTable

if TYPE_CHECKING:
    from poster.models import NextPoll, Validators
    from poster.store.ledger import KeyedBy

TABLE = "feeds"


class FeedTable(NamedTable):
    """The feeds table and an index of its documents by feed name."""

    kind = field = "feed"
    check = staticmethod(documents.check_feed)

    @property
    def names(self) -> set[str]:
        """Return every feed with a document."""
        return set(self._ids)

    def validators(self, feed: str) -> Validators | None:
        """Return the validators saved after the feed's last successful pass."""
        doc = self._doc(feed)
        return documents.validators(doc) if doc is not None else None

    def save_validators(self, feed: str, validators: Validators) -> None:
        """Keep validators for the next conditional fetch."""
        fields = {"etag": validators.etag, "last_modified": validators.last_modified}
        taken = {"body_hash": validators.body_hash, "validators_for": validators.taken_for}
        if validators.source is not None:
            taken["validators_from"] = validators.source
        self._update(feed, {**fields, **taken, "validators": True})

    def routes(self, feed: str) -> frozenset[str] | None:
        """Return the destinations the feed's items were selected for, if they were kept."""
        doc = self._doc(feed)
        found = doc.get("routes") if doc is not None else None
        return frozenset(found) if isinstance(found, list) else None

    def save_routes(self, feed: str, routes: Iterable[str]) -> None:
        """Keep the destinations the feed's items were selected for."""
        self._update(feed, {"routes": sorted(routes)})

    def keyed_by(self, feed: str) -> KeyedBy | None:
        """Return the settings the feed's keys were made by, if they were kept."""
        doc = self._doc(feed)
        found = doc.get("keyed_by") if doc is not None else None
        if isinstance(found, list) and len(found) == 2:
            return found[0], found[1]
        return None

    def save_keyed_by(self, feed: str, keyed: KeyedBy) -> None:
        """Keep the settings the feed's keys are made by."""
        self._update(feed, {"keyed_by": list(keyed)})

    def has_validators(self, feed: str) -> bool:
        """Tell whether validators were ever saved for the feed."""
        doc = self._doc(feed)
        return doc is not None and doc["validators"]

    def state(self, feed: str) -> FeedState:
        """Return what is known about the feed; a feed never seen has an empty state."""
        doc = self._doc(feed)
        return documents.feed_state(doc) if doc is not None else FeedState(feed)

    def disabled(self, feed: str) -> str | None:
        """Return why the feed is disabled, or ``None`` when it is not."""
        doc = self._doc(feed)
        return doc["disabled"] if doc is not None else None

    def states(
        self, feeds: Iterable[str], docs: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, FeedState]:
        """Return the state of each of ``feeds`` from TinyDB's raw documents ``docs``."""
        # Reading the raw documents spares a TinyDB lookup and a copy of each: status asks
        # for every feed at once.
        found = {}
        for feed in feeds:
            doc_id = self._ids.get(feed)
            doc = None if doc_id is None else docs.get(str(doc_id))
            found[feed] = documents.feed_state(doc) if doc is not None else FeedState(feed)
        return found

    def fetch_ok(self, feed: str, when: datetime, poll: NextPoll | None) -> None:
        """Record a successful read and when to read next; reset the failures."""
        fields = {"last_success": to_iso(when), "last_error": None, "consecutive_failures": 0}
        if poll is not None:
            fields |= documents.next_poll_fields(poll)
        self._update(feed, {**fields, "next_attempt": None})

    def fetches_ok(self, feeds: Iterable[str], when: datetime) -> None:
        """Record a successful read of each feed at once: one journal write for all of them."""
        fields = {"last_success": to_iso(when), "last_error": None, "consecutive_failures": 0}
        fields["next_attempt"] = None
        names = list(dict.fromkeys(feeds))
        known = [self._ids[name] for name in names if name in self._ids]
        self._table.set_each(fields, known)
        new = [name for name in names if name not in self._ids]
        docs = [{**documents.new_feed_doc(name), **fields} for name in new]
        self._ids.update(zip(new, self._table.insert_multiple(docs), strict=True))

    def fetch_failed(self, feed: str, when: datetime, error: str, next_attempt: datetime) -> int:
        """Record a failed read; return how many reads in a row have failed."""
        doc = self._doc(feed)
        failures = (doc["consecutive_failures"] if doc is not None else 0) + 1
        fields: dict[str, Any] = {"last_failure": to_iso(when), "last_error": error}
        fields |= {"consecutive_failures": failures, "next_attempt": to_iso(next_attempt)}
        self._update(feed, fields)
        return failures

    def set_warning(self, feed: str, warning: str | None) -> None:
        """Keep what the feed's last parse repaired, or ``None`` when its document was sound."""
        doc = self._doc(feed)
        known = doc.get("last_warning") if doc is not None else None
        if known != warning:  # most parses change nothing: no journal write
            self._update(feed, {"last_warning": warning})

    def set_disabled(self, feed: str, reason: str | None) -> None:
        """Disable the feed with a reason, or enable it again with ``None``."""
        self._update(feed, {"disabled": reason})

    def resume(self, feed: str) -> None:
        """Enable the feed and have it read at once, its failures forgiven (an operator's)."""
        self._update(feed, {"disabled": None, "next_attempt": None, "consecutive_failures": 0})

    def _update(self, feed: str, fields: dict[str, Any]) -> None:
        self._put(feed, fields, lambda: documents.new_feed_doc(feed))
