"""Index documents by what the ledger finds them by (deliveries by feed, key and destination,
feeds and named values by name), so no ledger call scans the history."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from poster.store.documents import RELEASED, check_delivery

if TYPE_CHECKING:
    from poster.store.journaldb import JournalTable

_NO_RECORDS: Mapping[str, int] = MappingProxyType({})


class DeliveryIndex:
    """Find a delivery's document id, and count the live records of each item and feed."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], dict[str, int]] = {}
        self._known: Counter[tuple[str, str]] = Counter()
        self._active: Counter[str] = Counter()
        self.max_id = 0

    @classmethod
    def build(cls, docs: Mapping[str, Mapping[str, Any]]) -> DeliveryIndex:
        """Index TinyDB's raw documents; raise ``ValueError`` naming the first unusable one."""
        index = cls()
        live: list[tuple[str, str]] = []
        for doc_id, doc in docs.items():
            problem = check_delivery(doc)
            if problem is not None:
                raise ValueError(f"delivery record {doc_id} {problem}")
            item = (doc["feed"], doc["key"])
            destinations = index._ids.setdefault(item, {})
            if doc["destination"] in destinations:
                raise ValueError(f"delivery record {doc_id} repeats an earlier one")
            destinations[doc["destination"]] = int(doc_id)
            if doc["state"] != RELEASED:
                live.append(item)
        # Counting in bulk keeps start-up fast with a long history.
        index._known.update(live)
        index._active.update(feed for feed, _ in live)
        index.max_id = max(map(int, docs), default=0)
        return index

    def find(self, feed: str, key: str, destination: str) -> int | None:
        """Return the document id of one delivery, if it has a record."""
        return self._ids.get((feed, key), {}).get(destination)

    def records(self, feed: str, key: str) -> Mapping[str, int]:
        """Return the document id of the item's record at each destination, as kept."""
        return self._ids.get((feed, key), _NO_RECORDS)

    def destinations(self, feed: str, key: str) -> dict[str, int]:
        """Return the document id of the item's record at each destination."""
        return dict(self._ids.get((feed, key), {}))

    def is_known(self, feed: str, key: str) -> bool:
        """Tell whether the item has a live record anywhere."""
        return (feed, key) in self._known

    def is_active(self, feed: str) -> bool:
        """Tell whether the feed has any live record."""
        return feed in self._active

    def add(self, feed: str, key: str, destination: str, doc_id: int, state: str) -> None:
        """Index a new document."""
        self._ids.setdefault((feed, key), {})[destination] = doc_id
        self.change(feed, key, None, state)

    def remove(self, feed: str, key: str, destination: str, state: str) -> None:
        """Forget a removed document."""
        destinations = self._ids[(feed, key)]
        del destinations[destination]
        if not destinations:
            del self._ids[(feed, key)]
        self.change(feed, key, state, None)

    def change(self, feed: str, key: str, old: str | None, new: str | None) -> None:
        """Keep the live counts in step with one record's change of state."""
        delta = _live(new) - _live(old)
        if delta:
            _add(self._known, (feed, key), delta)
            _add(self._active, feed, delta)


def _live(state: str | None) -> int:
    return int(state is not None and state != RELEASED)


def _add(counter: Counter[Any], key: Hashable, delta: int) -> None:
    counter[key] += delta
    if counter[key] <= 0:
        del counter[key]


def index_by(
    kind: str,
    field: str,
    docs: Mapping[str, Mapping[str, Any]],
    check: Callable[[Mapping[str, Any]], str | None],
) -> dict[str, int]:
    """Map each document's ``field`` to its id; raise ``ValueError`` naming an unusable one."""
    ids: dict[str, int] = {}
    for doc_id, doc in docs.items():
        problem = check(doc)
        if problem is not None:
            raise ValueError(f"{kind} record {doc_id} {problem}")
        ids[doc[field]] = int(doc_id)
    return ids


class NamedTable:
    """A TinyDB table of one document per name, and an index of the documents by name.

    Its documents are read as the journal keeps them, and written through TinyDB's table,
    made on the first write. The caller holds the store's lock around every call; nothing
    here locks.
    """

    kind = "named"
    """What the documents are called in an error about one of them."""
    field = "name"
    """The field that holds each document's name."""

    def __init__(
        self,
        docs: Callable[[], Mapping[str, Mapping[str, Any]]],
        table: Callable[[], JournalTable],
    ) -> None:
        self._docs = docs
        self._open = table
        self._ids: dict[str, int] = {}

    @property
    def _table(self) -> JournalTable:
        """Return TinyDB's table, to write through."""
        return self._open()

    def build(self, docs: Mapping[str, Mapping[str, Any]]) -> None:
        """Index TinyDB's raw documents; raise ``ValueError`` naming the first unusable one."""
        self._ids = index_by(self.kind, self.field, docs, self.check)

    @staticmethod
    def check(doc: Mapping[str, Any]) -> str | None:
        """Say what is wrong with a document, or return ``None`` if it is usable."""
        return None

    def _doc(self, name: str) -> Mapping[str, Any] | None:
        """Return the named document as kept, to read, never to change; None when there is none."""
        doc_id = self._ids.get(name)
        return None if doc_id is None else self._docs().get(str(doc_id))

    def _put(self, name: str, fields: dict[str, Any], new: Callable[[], dict[str, Any]]) -> None:
        """Update the named document's ``fields``, or insert ``new()`` with them."""
        doc_id = self._ids.get(name)
        if doc_id is None:
            self._ids[name] = self._table.insert({**new(), **fields})
        else:
            self._table.update(fields, doc_ids=[doc_id])
