"""List delivery records for the operator (those in some states, the newest) and release them.

The caller holds the store's lock around every call; nothing here locks.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable
from datetime import datetime

from tinydb import Query
from tinydb.table import Document, Table

from poster.store import documents, seen
from poster.store.documents import RELEASED, DeliveryRecord
from poster.store.index import DeliveryIndex
from poster.store.ledger import FAILED, PENDING


def deliveries(
    table: Table, seen_docs: Table, states: Collection[str] | None, feed: str | None
) -> list[DeliveryRecord]:
    """Return the delivery records in the given states and feed, oldest change first."""
    q = Query()
    cond = q.noop()
    if states is not None:
        cond &= q.state.one_of(list(states))
    if feed is not None:
        cond &= q.feed == feed
    docs = table.search(cond)
    held = seen.held_records(seen_docs, states, feed)
    docs.sort(key=_age)
    found = [documents.delivery_record(doc) for doc in docs]
    return list(heapq.merge(found, sorted(held, key=_changed), key=_changed))


def recent(
    table: Table, seen_docs: Table, limit: int, states: Collection[str] | None
) -> list[DeliveryRecord]:
    """Return the ``limit`` most recently changed delivery records, newest first."""
    docs: Iterable[Document] = table
    if states is not None:
        docs = (doc for doc in docs if doc["state"] in states)
    newest = [documents.delivery_record(doc) for doc in heapq.nlargest(limit, docs, key=_age)]
    held = seen.held_records(seen_docs, states, None)
    return heapq.nlargest(limit, [*newest, *held], key=_changed)


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
    pending = table.search(Query().state == PENDING)
    fields = {"state": state, "last_error": error, "updated": now}
    table.update(fields, doc_ids=[doc.doc_id for doc in pending])
    return len(pending)


def _doc(table: Table, doc_id: int) -> Document:
    doc = table.get(doc_id=doc_id)
    assert doc is not None, "the index names only stored documents"
    return doc


def _age(doc: Document) -> tuple[str, int]:
    return (doc["updated"], doc.doc_id)


def _changed(record: DeliveryRecord) -> datetime:
    return record.updated
