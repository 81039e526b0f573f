"""Keep a ledger in memory, or answer from another one and write nothing, with their records.

``poster.store.ledger`` names them too; they live apart so that status, which only reads the
stored state, never builds their classes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from poster.frozen import frozen
from poster.models import State
from poster.store.ledger import FAILED, PENDING, SEEN, SENT, SKIPPED, TROUBLED, UNCERTAIN

if TYPE_CHECKING:
    from poster.destinations import Receipt
    from poster.models import Validators
    from poster.store.ledger import KeyedBy, Ledger, Troubles


@frozen
class Delivery:
    """The latest known state of one item at one destination."""

    feed: str
    key: str
    destination: str
    state: State
    message_token: str | None = None
    error: str | None = None


@frozen
class Recall:
    """What a ledger knows of one read's items, asked once for all of them."""

    history: bool
    """Whether the feed was read successfully before: when not, the read is its first."""
    known: frozenset[str]
    """The keys known at every one of the destinations asked about (all, when none was)."""
    held: frozenset[str]
    """The keys an earlier first read held back."""


def recall_each(
    ledger: Ledger, feed: str, keys: Collection[str], destinations: Collection[str]
) -> Recall:
    """Answer ``Ledger.recall`` with one question a key, from the ledger's other answers."""
    known = (key for key in keys if all(ledger.is_known(feed, key, d) for d in destinations))
    held = (key for key in keys if ledger.is_held_back(feed, key))
    return Recall(ledger.has_history(feed), frozenset(known), frozenset(held))


class MemoryLedger:
    """Keep feed validators and deliveries in memory."""

    def __init__(self) -> None:
        self._validators: dict[str, Validators] = {}
        self._routes: dict[str, frozenset[str]] = {}
        self._keyed: dict[str, KeyedBy] = {}
        self._meta: dict[str, str] = {}
        self.deliveries: dict[tuple[str, str, str], Delivery] = {}

    def validators(self, feed: str) -> Validators | None:
        """Return the saved validators of ``feed``."""
        return self._validators.get(feed)

    def save_validators(self, feed: str, validators: Validators) -> None:
        """Keep the validators of ``feed``."""
        self._validators[feed] = validators

    def is_known(self, feed: str, key: str, destination: str | None = None) -> bool:
        """Tell whether the destination (or any, when None), or the backlog, has the item."""
        wanted = None if destination is None else (destination, "")
        return any(
            f == feed and k == key and (wanted is None or d in wanted)
            for f, k, d in self.deliveries
        )

    def record_pending(self, feed: str, key: str, destination: str) -> None:
        """Record the intent to post."""
        self.deliveries[(feed, key, destination)] = Delivery(feed, key, destination, PENDING)

    def record_sent(self, feed: str, key: str, receipt: Receipt) -> None:
        """Record an accepted post with its message token."""
        record = Delivery(feed, key, receipt.destination, SENT, receipt.message_token)
        self.deliveries[(feed, key, receipt.destination)] = record

    def record_failed(self, feed: str, key: str, destination: str, error: str) -> None:
        """Record a refused or unrenderable item with the reason."""
        record = Delivery(feed, key, destination, FAILED, error=error)
        self.deliveries[(feed, key, destination)] = record

    def record_uncertain(self, feed: str, key: str, destination: str, error: str) -> None:
        """Record a post whose outcome is unknown."""
        record = Delivery(feed, key, destination, UNCERTAIN, error=error)
        self.deliveries[(feed, key, destination)] = record

    def record_skipped(self, feed: str, key: str, destination: str, reason: str) -> None:
        """Record an item skipped as stale with the reason."""
        record = Delivery(feed, key, destination, SKIPPED, error=reason)
        self.deliveries[(feed, key, destination)] = record

    def release(self, feed: str, key: str, destination: str) -> None:
        """Drop a pending record so the item is offered again."""
        self.deliveries.pop((feed, key, destination), None)

    def has_history(self, feed: str) -> bool:
        """Tell whether validators or deliveries exist for the feed."""
        return feed in self._validators or any(f == feed for f, _, _ in self.deliveries)

    def is_held_back(self, feed: str, key: str) -> bool:
        """Tell whether the item is recorded as seen without a destination."""
        return (feed, key, "") in self.deliveries

    def mark_seen(self, feed: str, keys: Iterable[str]) -> None:
        """Record each key as seen, unless it already has a delivery record."""
        for key in keys:
            self.deliveries.setdefault((feed, key, ""), Delivery(feed, key, "", SEEN))

    def mark_seen_at(self, feed: str, keys: Iterable[str], destination: str) -> None:
        """Record each key as seen at ``destination``, unless it is known there."""
        for key in keys:
            if not self.is_known(feed, key, destination):
                self.deliveries[(feed, key, destination)] = Delivery(feed, key, destination, SEEN)

    def routes(self, feed: str) -> frozenset[str] | None:
        """Return the destinations the feed's items were selected for, if any were."""
        return self._routes.get(feed)

    def remember_routes(self, feed: str, routes: Iterable[str]) -> None:
        """Keep the destinations the feed's items were selected for."""
        self._routes[feed] = frozenset(routes)

    def get_meta(self, name: str) -> str | None:
        """Return a named entry, if kept."""
        return self._meta.get(name)

    def set_meta(self, name: str, value: str) -> None:
        """Keep a named entry."""
        self._meta[name] = value

    def keyed_by(self, feed: str) -> KeyedBy | None:
        """Return the settings the feed's keys were made by, if kept."""
        return self._keyed.get(feed)

    def remember_keyed_by(self, feed: str, keyed: KeyedBy) -> None:
        """Keep the settings the feed's keys are made by."""
        self._keyed[feed] = keyed

    def recall(self, feed: str, keys: Collection[str], destinations: Collection[str]) -> Recall:
        """Tell whether the feed has history and which keys are known or held back."""
        return recall_each(self, feed, keys, destinations)

    def troubles(self, feed: str, keys: Collection[str], destination: str) -> Troubles:
        """Return those of ``keys`` failed, uncertain or skipped at ``destination``, and why."""
        found = (self.deliveries.get((feed, key, destination)) for key in keys)
        return {d.key: (d.state, d.error or "") for d in found if d and d.state in TROUBLED}


class ReadOnlyLedger:
    """Answer from another ledger, or from nothing, and never write.

    What a read would record for later reads (keys held back, the routes and key settings it
    keeps, named entries) is kept in memory, so that a preview decides as the run would.
    """

    def __init__(self, source: Ledger | None = None) -> None:
        self._source = source
        self._routes: dict[str, frozenset[str]] = {}
        self._keyed: dict[str, KeyedBy] = {}
        self._meta: dict[str, str] = {}
        self._seen_at: set[tuple[str, str, str]] = set()
        """Keys held back in memory, by feed, key and destination ("" for every one)."""
        self._marked: set[str] = set()
        """The feeds with keys in ``_seen_at``: only their recalls need it."""

    def validators(self, feed: str) -> Validators | None:
        """Return the source's validators, if there is a source."""
        return self._source.validators(feed) if self._source else None

    def save_validators(self, feed: str, validators: Validators) -> None:
        """Write nothing."""

    def is_known(self, feed: str, key: str, destination: str | None = None) -> bool:
        """Ask the source whether the item was ever posted, or held back here."""
        if (feed, key, "") in self._seen_at or (feed, key, destination) in self._seen_at:
            return True
        return self._source.is_known(feed, key, destination) if self._source else False

    def record_pending(self, feed: str, key: str, destination: str) -> None:
        """Write nothing."""

    def record_sent(self, feed: str, key: str, receipt: Receipt) -> None:
        """Write nothing."""

    def record_failed(self, feed: str, key: str, destination: str, error: str) -> None:
        """Write nothing."""

    def record_uncertain(self, feed: str, key: str, destination: str, error: str) -> None:
        """Write nothing."""

    def record_skipped(self, feed: str, key: str, destination: str, reason: str) -> None:
        """Write nothing."""

    def release(self, feed: str, key: str, destination: str) -> None:
        """Write nothing."""

    def has_history(self, feed: str) -> bool:
        """Ask the source; without one, every feed is new, as it is to a run on fresh state."""
        return self._source.has_history(feed) if self._source else False

    def is_held_back(self, feed: str, key: str) -> bool:
        """Ask the source whether the item was held back, or held back here."""
        if (feed, key, "") in self._seen_at:
            return True
        return self._source.is_held_back(feed, key) if self._source else False

    def mark_seen(self, feed: str, keys: Iterable[str]) -> None:
        """Keep in memory that ``keys`` are held back."""
        self._seen_at.update((feed, key, "") for key in keys)
        self._marked.add(feed)

    def mark_seen_at(self, feed: str, keys: Iterable[str], destination: str) -> None:
        """Keep in memory that ``keys`` are held back at ``destination``."""
        self._seen_at.update((feed, key, destination) for key in keys)
        self._marked.add(feed)

    def routes(self, feed: str) -> frozenset[str] | None:
        """Return the routes kept in memory, else the source's."""
        found: frozenset[str] | None = self._kept(self._routes, feed, lambda s: s.routes(feed))
        return found

    def remember_routes(self, feed: str, routes: Iterable[str]) -> None:
        """Keep the routes in memory."""
        self._routes[feed] = frozenset(routes)

    def get_meta(self, name: str) -> str | None:
        """Return the entry kept in memory, else the source's."""
        found: str | None = self._kept(self._meta, name, lambda s: s.get_meta(name))
        return found

    def set_meta(self, name: str, value: str) -> None:
        """Keep the entry in memory."""
        self._meta[name] = value

    def keyed_by(self, feed: str) -> KeyedBy | None:
        """Return the key settings kept in memory, else the source's."""
        found: KeyedBy | None = self._kept(self._keyed, feed, lambda s: s.keyed_by(feed))
        return found

    def remember_keyed_by(self, feed: str, keyed: KeyedBy) -> None:
        """Keep the key settings in memory."""
        self._keyed[feed] = keyed

    def recall(self, feed: str, keys: Collection[str], destinations: Collection[str]) -> Recall:
        """Ask the source; without one, the feed is new and no key is known."""
        if self._source is None or feed in self._marked:
            return recall_each(self, feed, keys, destinations)
        return self._source.recall(feed, keys, destinations)

    def troubles(self, feed: str, keys: Collection[str], destination: str) -> Troubles:
        """Ask the source; without one, nothing was recorded."""
        return self._source.troubles(feed, keys, destination) if self._source else {}

    def _kept(self, kept: Mapping[str, Any], name: str, ask: Callable[[Ledger], Any]) -> Any:
        """Return ``kept[name]``, else what the source answers ``ask``, else None."""
        if name in kept:
            return kept[name]
        return ask(self._source) if self._source is not None else None
