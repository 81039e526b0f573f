"""Drop settled records older than the retention, except the items their feed still lists.

Pending and uncertain records are never dropped, and only the feeds named in ``keep`` are
pruned: a feed whose current items are unknown keeps its records, or its old items would look
new when it answers again.
"""

from __future__ import annotations

from collections.abc import Container, Mapping

from tinydb import Query
from tinydb.table import Table

from poster.store.documents import RELEASED
from poster.store.index import DeliveryIndex
from poster.store.ledger import FAILED, SEEN, SENT, SKIPPED
from poster.store.seen import SeenIndex

PRUNABLE = (SENT, FAILED, SEEN, RELEASED, SKIPPED)


def prune_deliveries(
    table: Table, index: DeliveryIndex, cutoff: str, keep: Mapping[str, Container[str]]
) -> int:
    """Drop settled deliveries changed before ``cutoff`` that their feed no longer lists."""
    q = Query()
    old = table.search(q.state.one_of(list(PRUNABLE)) & (q.updated < cutoff))
    doomed = [doc for doc in old if doc["feed"] in keep and doc["key"] not in keep[doc["feed"]]]
    table.remove(doc_ids=[doc.doc_id for doc in doomed])
    for doc in doomed:
        index.remove(doc["feed"], doc["key"], doc["destination"], doc["state"])
    return len(doomed)


def prune_seen(
    table: Table, index: SeenIndex, cutoff: str, keep: Mapping[str, Container[str]]
) -> int:
    """Drop held-back keys seen before ``cutoff`` that their feed no longer lists."""
    removed = 0
    q = Query()
    for doc in table.search(q.at < cutoff):
        listed = keep.get(doc["feed"])
        if listed is None:
            continue
        kept = [key for key in doc["keys"] if key in listed]
        if len(kept) == len(doc["keys"]):
            continue
        if kept:
            table.update({"keys": kept}, doc_ids=[doc.doc_id])
        else:
            table.remove(doc_ids=[doc.doc_id])
        index.remove(doc["feed"], set(doc["keys"]) - set(kept))
        removed += len(doc["keys"]) - len(kept)
    return removed
