"""List delivery records for the operator (those in some states, the newest) and release them.

The listings read the documents as the journal keeps them, by id; the changes go through
TinyDB's table. The caller holds the store's lock around every call; nothing here locks.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from poster.store import documents, seen
from poster.store.documents import RELEASED, DeliveryRecord
from poster.store.index import DeliveryIndex
from poster.store.ledger import FAILED, PENDING

if TYPE_CHECKING:
    from tinydb.table import Document, Table

Docs = Mapping[str, Mapping[str, Any]]
"""A table's documents by id, as the journal keeps them."""


def deliveries(
    docs: Docs, seen_docs: Docs, states: Collection[str] | None, feed: str | None
) -> list[DeliveryRecord]:
    """Return the delivery records in the given states and feed, oldest change first."""
    chosen = [
        item
        for item in docs.items()
        if (states is None or item[1]["state"] in states)
        and (feed is None or item[1]["feed"] == feed)
    ]
    held = seen.held_records(seen_docs, states, feed)
    chosen.sort(key=_age)
    found = [documents.delivery_record(doc) for _, doc in chosen]
    return list(heapq.merge(found, sorted(held, key=_changed), key=_changed))


def recent(
    docs: Docs, seen_docs: Docs, limit: int, states: Collection[str] | None
) -> list[DeliveryRecord]:
    """Return the ``limit`` most recently changed delivery records, newest first."""
    items: Iterable[tuple[str, Mapping[str, Any]]] = docs.items()
    if states is not None:
        items = (item for item in items if item[1]["state"] in states)
    newest = heapq.nlargest(limit, items, key=_age)
    held = seen.held_records(seen_docs, states, None)
    found = [documents.delivery_record(doc) for _, doc in newest]
    return heapq.nlargest(limit, [*found, *held], key=_changed)


def release(
    table: Table,
    index: DeliveryIndex,
    item: tuple[str, str],
    states: Collection[str],
    destination: str | None,
    now: str,
) -> bool:
    """Release the item's records in ``states`` (at ``destination`` only, when given)."""
    feed, key = item
    stuck = [
        doc_id
        for name, doc_id in index.destinations(feed, key).items()
        if _doc(table, doc_id)["state"] in states and destination in (None, name)
    ]
    table.update({"state": RELEASED, "updated": now}, doc_ids=stuck)
    for _ in stuck:
        index.change(feed, key, FAILED, RELEASED)  # every state a retry releases is live
    return bool(stuck)


def settle_pending(table: Table, state: str, error: str, now: str) -> int:
    """Move every pending record to ``state`` with ``error``; return how many there were."""
    pending = [doc.doc_id for doc in table if doc["state"] == PENDING]
    fields = {"state": state, "last_error": error, "updated": now}
    table.update(fields, doc_ids=pending)
    return len(pending)


def _doc(table: Table, doc_id: int) -> Document:
    doc = table.get(doc_id=doc_id)
    assert doc is not None, "the index names only stored documents"
    return doc


def _age(item: tuple[str, Mapping[str, Any]]) -> tuple[str, int]:
    """Order a document, given with its id, by when it changed, then by when it was made."""
    doc_id, doc = item
    return (doc["updated"], int(doc_id))


def _changed(record: DeliveryRecord) -> datetime:
    return record.updated
