"""Keep what poster knows between runs, feed state and deliveries, in TinyDB tables.

``Store`` satisfies ``ledger.Ledger`` with ``MemoryLedger``'s semantics and adds what the
daemon and the operator commands need. Its tables live in memory and every write is made
durable by ``JournalStorage`` before the call returns, except a first read's marks, which go
with the next write (a crash before it loses the read's validators too, so the next read holds
the same items back), and inside ``batched()``, where only an intent to post is; lookups go
through indexes kept beside the tables, so no ledger call scans the history. Reads take the
documents as the journal keeps them; TinyDB loads with the first write, so a read-only open,
such as status's, never loads it.
"""

from __future__ import annotations

import _thread
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poster.errors import StateError
from poster.eventlog import logger
from poster.models import State
from poster.store import documents, records, seen
from poster.store.documents import RELEASED, DeliveryRecord, FeedState, from_iso, to_iso
from poster.store.feedtable import TABLE as FEEDS
from poster.store.feedtable import FeedTable
from poster.store.files import Document, StateFiles, way_out
from poster.store.index import DeliveryIndex
from poster.store.journal import JournalStorage
from poster.store.ledger import FAILED, PENDING, SEEN, SENT, SKIPPED, TROUBLED, UNCERTAIN
from poster.store.metatable import TABLE as META
from poster.store.metatable import MetaTable
from poster.store.place import ONE_SHOT, make_state_dir
from poster.store.seen import SeenIndex

if TYPE_CHECKING:
    from poster.destinations import Receipt
    from poster.models import NextPoll, Validators
    from poster.store.journaldb import JournalDB, JournalTable
    from poster.store.ledger import KeyedBy, Troubles
    from poster.store.memoryledger import Recall

log = logger(__name__)

SNAPSHOT_NAME = "poster.json"
DELIVERIES = "deliveries"
CRASHED = "poster stopped before the destination answered; the post may have arrived"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    """Keep feed state and delivery records in TinyDB, durable through a journal."""

    def __init__(
        self,
        state_dir: Path,
        *,
        retention: timedelta = timedelta(days=90),
        read_only: bool = False,
        role: str = ONE_SHOT,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Open the state in ``state_dir``; ``recovered`` counts posts a crash left uncertain.

        ``read_only`` opens without the lock, writes nothing (pending stays pending) and
        refuses every write, so it can run beside the daemon. ``role`` tells commands what
        kind of process holds the lock (``DAEMON`` applies queued requests).
        """
        self.path = Path(state_dir) / SNAPSHOT_NAME
        self._retention = retention
        self._clock = clock
        self._lock = _thread.RLock()  # threading's, without loading threading
        if not read_only:
            make_state_dir(StateFiles(self.path))
        self._journal = JournalStorage(
            self.path, read_only=read_only, role=role, clock=clock, last=seen.TABLE
        )
        self._db: JournalDB | None = None
        self._feeds = FeedTable(lambda: self._docs(FEEDS), lambda: self._table(FEEDS))
        self._meta = MetaTable(lambda: self._docs(META), lambda: self._table(META))
        self._index = DeliveryIndex()
        self._seen_index: SeenIndex | None = None
        try:
            self._build_indexes()
            self.recovered = 0 if read_only else self._recover_pending()
        except BaseException:
            self._journal.close()
            raise

    def close(self) -> None:
        """Write what waits for the next change, close the journal, release the directory.

        A process that wrote much to the journal compacts it first (``compact_if_written``).
        """
        with self._lock:
            try:
                self._journal.flush()
                self._journal.compact_if_written()
            finally:
                self._journal.close()

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Write the block's changes together: with each intent to post, at ``flush``, at its end.

        An intent reaches the disk before its call returns, with every change held before it,
        so the disk keeps the order of the calls. A crash loses only changes made since the
        last intent: results (their intents then read as uncertain, so nothing is posted again
        without an operator, as after a crash during the call), validators (the feed is read
        whole again) and seen marks (the next read makes them again).
        """
        with self._lock:
            self._journal.hold()
        try:
            yield
        finally:
            with self._lock:
                self._journal.release()

    def deferred(self) -> AbstractContextManager[None]:
        """Let this thread's changes in the block wait for the next write, or for ``flush``.

        The daemon reads feeds this way: a read's record (validators, when it was read and is
        next due, first-read marks) goes to the disk with the next "pending", answer or other
        change written at once, or at the next ``flush``, which the daemon calls every tick. A
        crash loses at most those: the feed is read again sooner, in full, and holds the same
        items back again; nothing is posted twice.
        """
        return self._journal.deferred()

    def flush(self) -> None:
        """Write the changes a batch holds now, as before a wait."""
        with self._lock:
            self._journal.flush()

    def compact(self) -> None:
        """Rewrite the snapshot now, keeping the previous one as backup, and empty the journal."""
        with self._lock:
            self._journal.compact()

    @property
    def restored(self) -> str | None:
        """Say when and why the state was last written back from memory, if it ever was."""
        return self._journal.restored

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Ledger protocol

    def validators(self, feed: str) -> Validators | None:
        """Return the validators saved after the feed's last successful pass."""
        with self._lock:
            return self._feeds.validators(feed)

    def save_validators(self, feed: str, validators: Validators) -> None:
        """Keep validators for the next conditional fetch."""
        with self._lock:
            self._feeds.save_validators(feed, validators)

    def is_known(self, feed: str, key: str, destination: str | None = None) -> bool:
        """Tell whether the item has a live record for ``destination`` (or any, when None).

        An item held back from a feed's first read counts for every destination.
        """
        with self._lock:
            if self._seen.has(feed, key):
                return True
            if destination is None:
                return self._index.is_known(feed, key)
            return self._live_at(self._index.records(feed, key), destination)

    def record_pending(self, feed: str, key: str, destination: str) -> None:
        """Record the intent to post and count the attempt."""
        with self._lock:
            doc = self._delivery_doc(feed, key, destination)
            attempts = (doc["attempts"] if doc is not None else 0) + 1
            fields = {"attempts": attempts, "message_token": None, "last_error": None}
            with self._journal.at_once():  # on disk before the destination is called
                self._write_delivery(feed, key, destination, PENDING, fields)

    def record_sent(self, feed: str, key: str, receipt: Receipt) -> None:
        """Record that the destination accepted the item, with its message token."""
        fields = {"message_token": receipt.message_token, "last_error": None}
        with self._lock:
            self._write_delivery(feed, key, receipt.destination, SENT, fields)

    def record_failed(self, feed: str, key: str, destination: str, error: str) -> None:
        """Record that the item will not be posted as is, and why."""
        with self._lock:
            fields = {"message_token": None, "last_error": error}
            self._write_delivery(feed, key, destination, FAILED, fields)

    def record_uncertain(self, feed: str, key: str, destination: str, error: str) -> None:
        """Record that the request may have arrived: never re-sent without an operator."""
        with self._lock:
            fields = {"message_token": None, "last_error": error}
            self._write_delivery(feed, key, destination, UNCERTAIN, fields)

    def record_skipped(self, feed: str, key: str, destination: str, reason: str) -> None:
        """Record that the item waited too long to be posted, and why; a retry sends it."""
        with self._lock:
            fields = {"message_token": None, "last_error": reason}
            self._write_delivery(feed, key, destination, SKIPPED, fields)

    def release(self, feed: str, key: str, destination: str) -> None:
        """Let a deferred item be offered again, keeping its attempt count."""
        with self._lock:
            if self._delivery_doc(feed, key, destination) is not None:
                self._write_delivery(feed, key, destination, RELEASED, {})

    def has_history(self, feed: str) -> bool:
        """Tell whether validators or live delivery records exist for the feed."""
        with self._lock:
            active = self._index.is_active(feed) or self._seen.has_feed(feed)
            return active or self._feeds.has_validators(feed)

    def troubles(self, feed: str, keys: Collection[str], destination: str) -> Troubles:
        """Return those of ``keys`` failed, uncertain or skipped at ``destination``, and why."""
        with self._lock:
            docs = ((key, self._delivery_doc(feed, key, destination)) for key in keys)
            return {
                key: (State(doc["state"]), doc.get("last_error") or "")
                for key, doc in docs
                if doc is not None and doc["state"] in TROUBLED
            }

    def is_held_back(self, feed: str, key: str) -> bool:
        """Tell whether the feed's first read held the item back, so it is never posted."""
        with self._lock:
            return self._seen.has(feed, key) or self._index.find(feed, key, "") is not None

    def mark_seen(self, feed: str, keys: Iterable[str]) -> None:
        """Record the keys not seen before as seen, in one document written with the next change."""
        with self._lock:
            held = self._seen.among(feed, unique := dict.fromkeys(keys))
            fresh = [k for k in unique if k not in held and self._index.find(feed, k, "") is None]
            if not fresh:
                return
            with self._with_next_write():
                self._seen_docs.insert(seen.new_seen_doc(feed, fresh, to_iso(self._clock())))
            self._seen.add(feed, fresh)

    def mark_seen_at(self, feed: str, keys: Iterable[str], destination: str) -> None:
        """Record the keys without a live record at ``destination`` as seen there, not posted."""
        with self._lock:
            fresh = [
                key
                for key in dict.fromkeys(keys)
                if not self._live_at(self._index.records(feed, key), destination)
            ]
            if not fresh:
                return
            with self._with_next_write():
                for key in fresh:
                    self._write_delivery(feed, key, destination, SEEN, {})

    def routes(self, feed: str) -> frozenset[str] | None:
        """Return every destination the feed's items were selected for; None before any was."""
        with self._lock:
            return self._feeds.routes(feed)

    def remember_routes(self, feed: str, routes: Iterable[str]) -> None:
        """Keep ``routes`` as every destination the feed's items were selected for.

        Written with the next change, after the marks of a destination that joined: a crash
        loses both, and the next read marks again.
        """
        kept = frozenset(routes)
        with self._lock:
            if self._feeds.routes(feed) == kept:  # most reads change nothing: no journal write
                return
            with self._with_next_write():
                self._feeds.save_routes(feed, kept)

    def keyed_by(self, feed: str) -> KeyedBy | None:
        """Return the settings the feed's keys were made by; None before any read kept them."""
        with self._lock:
            return self._feeds.keyed_by(feed)

    def remember_keyed_by(self, feed: str, keyed: KeyedBy) -> None:
        """Keep the settings the feed's keys are made by, with the next change written."""
        with self._lock:
            if self._feeds.keyed_by(feed) == keyed:
                return
            with self._with_next_write():
                self._feeds.save_keyed_by(feed, keyed)

    @contextmanager
    def _with_next_write(self) -> Iterator[None]:
        """Hold the block's changes: they reach the disk with the next change written."""
        self._journal.hold()
        try:
            yield
        finally:
            self._journal.release(write=False)

    def recall(self, feed: str, keys: Collection[str], destinations: Collection[str]) -> Recall:
        """Tell whether the feed has history and which keys are known or held back, at once."""
        from poster.store.memoryledger import (
            Recall,  # here: status, which opens a store, never asks
        )

        with self._lock:
            held = self._seen.among(feed, keys)
            known = set(held) if destinations else set(keys)
            for key in keys:
                ids = self._index.records(feed, key)
                if not ids or key in held:
                    continue
                if "" in ids:
                    held.add(key)
                if destinations and all(self._live_at(ids, d) for d in destinations):
                    known.add(key)
            return Recall(self.has_history(feed), frozenset(known), frozenset(held))

    # Feed state

    def feed_state(self, feed: str) -> FeedState:
        """Return what is known about the feed; a feed never seen has an empty state."""
        with self._lock:
            return self._feeds.state(feed)

    def disabled(self, feed: str) -> str | None:
        """Return why the feed is disabled, or ``None``: ``feed_state(feed).disabled``, sooner."""
        with self._lock:
            return self._feeds.disabled(feed)

    def feed_states(self, feeds: Iterable[str]) -> dict[str, FeedState]:
        """Return what is known about each of ``feeds``, as ``feed_state`` would, at once."""
        with self._lock:
            return self._feeds.states(feeds, self._docs(FEEDS))

    def record_fetch_ok(self, feed: str, when: datetime, poll: NextPoll | None = None) -> None:
        """Record a successful read of the feed, and when to read it next; reset its failures."""
        with self._lock:
            self._feeds.fetch_ok(feed, when, poll)

    def record_fetches_ok(self, feeds: Iterable[str], when: datetime) -> None:
        """Record a successful read of each feed at once: one journal write for all of them."""
        with self._lock:
            self._feeds.fetches_ok(feeds, when)

    def record_fetch_failed(
        self, feed: str, when: datetime, error: str, next_attempt: datetime
    ) -> int:
        """Record a failed read of the feed; return how many reads in a row have failed."""
        with self._lock:
            return self._feeds.fetch_failed(feed, when, error, next_attempt)

    def set_warning(self, feed: str, warning: str | None) -> None:
        """Keep what the feed's last parse repaired, or ``None`` when its document was sound."""
        with self._lock:
            self._feeds.set_warning(feed, warning)

    def set_disabled(self, feed: str, reason: str | None) -> None:
        """Disable the feed with a reason, or enable it again with ``None``."""
        with self._lock:
            self._feeds.set_disabled(feed, reason)

    def resume_feed(self, feed: str) -> None:
        """Enable the feed and have it read at once, its failures forgiven (an operator's)."""
        with self._lock:
            self._feeds.resume(feed)

    # Operator queries and commands

    def deliveries(
        self, *, states: Collection[str] | None = None, feed: str | None = None
    ) -> list[DeliveryRecord]:
        """Return the delivery records in the given states and feed, oldest change first."""
        with self._lock:
            held = self._seen_table(states)
            return records.deliveries(self._docs(DELIVERIES), held, states, feed)

    def sent_since(self, destination: str, since: datetime) -> int:
        """Count the posts ``destination`` took, or may have, from ``since`` on."""
        cutoff = since.astimezone(UTC)
        with self._lock:
            return sum(
                1
                for doc in self._docs(DELIVERIES).values()
                if doc.get("destination") == destination
                and doc.get("state") in (SENT, UNCERTAIN)
                and (changed := from_iso(doc.get("updated"))) is not None
                and changed >= cutoff
            )

    def last_posts(self) -> dict[str, datetime]:
        """Return when each destination last accepted a post, as the state remembers."""
        newest: dict[str, str] = {}
        with self._lock:
            for doc in self._docs(DELIVERIES).values():
                # to_iso's times sort as their text does: only the newest is read as a time.
                if doc["state"] == SENT and doc["updated"] > newest.get(doc["destination"], ""):
                    newest[doc["destination"]] = doc["updated"]
        return {name: datetime.fromisoformat(text) for name, text in newest.items()}

    def recent(
        self, limit: int = 20, *, states: Collection[str] | None = None
    ) -> list[DeliveryRecord]:
        """Return the ``limit`` most recently changed delivery records, newest first."""
        with self._lock:
            held = self._seen_table(states)
            return records.recent(self._docs(DELIVERIES), held, limit, states)

    def feed_names(self) -> list[str]:
        """Return every feed the store has a feed or delivery record of, sorted."""
        with self._lock:
            tables = self._journal.read()
            deliveries = tables.get(DELIVERIES, {}).values()
            held = self._journal.undecoded_feeds()
            if held is None:
                held = frozenset(doc["feed"] for doc in tables.get(seen.TABLE, {}).values())
            return sorted(self._feeds.names | {doc["feed"] for doc in deliveries} | held)

    def retry(
        self,
        feed: str,
        key: str,
        *,
        states: Collection[str] = TROUBLED,
        destination: str | None = None,
    ) -> bool:
        """Release the item's failed, uncertain or skipped records in ``states``, to be sent.

        With ``destination``, only the record at that destination is released; a sent or seen
        record is released only when ``states`` names it (a gateway's numbers released by hand,
        which a renamed feed's seen record stands for).
        """
        wanted = set(states) & {SENT, FAILED, UNCERTAIN, SKIPPED, SEEN}
        with self._lock:
            now = to_iso(self._clock())
            item = (feed, key)
            return records.release(self._deliveries, self._index, item, wanted, destination, now)

    def get_meta(self, name: str) -> str | None:
        """Return a named value the daemon keeps, such as the resolved sender."""
        with self._lock:
            return self._meta.get(name)

    def set_meta(self, name: str, value: str) -> None:
        """Keep a named value."""
        with self._lock:
            self._meta.set(name, value)

    def metas(self, prefix: str) -> dict[str, str]:
        """Return every named value whose name starts with ``prefix``, by name."""
        with self._lock:
            return self._meta.named(prefix)

    def delete_meta(self, name: str) -> None:
        """Forget a named value, if one is kept."""
        with self._lock:
            self._meta.delete(name)

    def prune(self, now: datetime, present: Mapping[str, Container[str]]) -> int:
        """Drop settled records older than the retention, except items their feed still lists.

        Pending and uncertain records are never dropped, and only the feeds named in
        ``present`` are pruned: a feed whose current items are unknown (not read yet, failing,
        disabled) keeps its records, or its old items would look new when it answers again.
        Give a feed removed from the configuration an empty collection to drop its records.
        Returns how many records were removed.
        """
        from poster.store.prune import prune_deliveries, prune_seen  # here: only a pass prunes

        cutoff = to_iso(now - self._retention)
        keep = dict(present)
        with self._lock:
            removed = prune_deliveries(self._deliveries, self._index, cutoff, keep)
            held = self._seen
            removed += prune_seen(self._seen_docs, held, cutoff, keep)
        if removed:
            log.info("state=pruned removed=%d cutoff=%s", removed, cutoff)
        return removed

    # Internals

    @property
    def _seen(self) -> SeenIndex:
        """Return the index of held-back items, decoding them first if the open left them aside."""
        if self._seen_index is None:
            self._seen_index = self._index_seen()
        return self._seen_index

    def _seen_table(self, states: Collection[str] | None) -> Mapping[str, Document]:
        """Return the held-back items' documents, decoded first when ``states`` may want them."""
        if (states is None or SEEN in states) and self._seen_index is None:
            self._seen_index = self._index_seen()
        return self._docs(seen.TABLE)

    def _docs(self, name: str) -> Mapping[str, Document]:
        """Return the documents of table ``name`` by id, as kept: to read, never to change."""
        return self._journal.read().get(name, {})

    def _table(self, name: str) -> JournalTable:
        """Return TinyDB's table ``name``, loading TinyDB first: only writes go through it."""
        if self._db is None:
            from poster.store.journaldb import JournalDB  # here: a read-only open writes nothing

            self._db = JournalDB(self._journal)
            self._db.table(DELIVERIES).continue_ids_after(self._index.max_id)
        return self._db.table(name)

    @property
    def _deliveries(self) -> JournalTable:
        """Return TinyDB's table of deliveries, to write through."""
        return self._table(DELIVERIES)

    @property
    def _seen_docs(self) -> JournalTable:
        """Return TinyDB's table of held-back items, to write through."""
        return self._table(seen.TABLE)

    def _get(self, doc_id: int) -> Document:
        doc = self._docs(DELIVERIES).get(str(doc_id))
        assert doc is not None, "the index names only stored documents"
        return doc

    def _live_at(self, records: Mapping[str, int], destination: str) -> bool:
        """Tell whether an item's records make it known at ``destination``: its own, or a hold."""
        ids = (records.get(where) for where in (destination, ""))
        return any(i is not None and self._get(i)["state"] != RELEASED for i in ids)

    def _delivery_doc(self, feed: str, key: str, destination: str) -> Document | None:
        doc_id = self._index.find(feed, key, destination)
        return None if doc_id is None else self._get(doc_id)

    def _write_delivery(
        self, feed: str, key: str, destination: str, state: str, fields: dict[str, Any]
    ) -> None:
        """Write the state and fields of one delivery, creating its record if needed.

        An error text has any secret it quotes masked, as an API may echo a key in its error.
        """
        if fields.get("last_error"):
            from poster.redaction import redact

            fields = {**fields, "last_error": redact(fields["last_error"])}
        now = to_iso(self._clock())
        doc_id = self._index.find(feed, key, destination)
        if doc_id is None:
            doc = documents.new_delivery_doc(feed, key, destination, now)
            new_id = self._deliveries.insert({**doc, **fields, "state": state})
            self._index.add(feed, key, destination, new_id, state)
        else:
            old = self._get(doc_id)["state"]
            self._deliveries.update({**fields, "state": state, "updated": now}, doc_ids=[doc_id])
            self._index.change(feed, key, old, state)

    def _build_indexes(self) -> None:
        """Index every record by what the ledger looks it up by, checking each as it goes.

        Held-back items a read-only open left undecoded are indexed once something asks.
        """
        tables = self._journal.read()
        try:
            self._index = DeliveryIndex.build(tables.get(DELIVERIES, {}))
            if self._journal.undecoded_feeds() is None:
                self._seen_index = SeenIndex.build(tables.get(seen.TABLE, {}))
            self._feeds.build(tables.get(FEEDS, {}))
            self._meta.build(tables.get(META, {}))
        except ValueError as exc:
            raise StateError(self.path, f"{exc}; {way_out(self._journal.files)}") from exc

    def _index_seen(self) -> SeenIndex:
        """Decode the held-back items the open left aside and index them, checking each."""
        self._journal.decode_all()
        try:
            return SeenIndex.build(self._journal.read().get(seen.TABLE, {}))
        except ValueError as exc:
            raise StateError(self.path, f"{exc}; {way_out(self._journal.files)}") from exc

    def _recover_pending(self) -> int:
        """Mark every pending delivery uncertain: the process stopped while it was in flight."""
        count = records.settle_pending(self._deliveries, UNCERTAIN, CRASHED, to_iso(self._clock()))
        if count:
            log.warning(
                "state=recovered pending=%d now=uncertain hint=check the channel, then "
                "'retry' the ones that did not arrive",
                count,
            )
        return count
