"""Keep TinyDB's tables in memory and make each write durable as one appended journal line.

TinyDB's ``JSONStorage`` rewrites the whole file on every write, so each post would cost more
than the one before. Here a write appends only the documents it touched, as one fsync'd line,
and the snapshot is rewritten only once the journal has grown to a quarter of its size: a write
costs the same however long the history, each rewrite is paid for by journal bytes in
proportion to what it writes, and start-up never replays more than a quarter of the state.

TinyDB stays the table and query layer: ``JournalTable`` is its ``Table`` with the one write
path, ``_update_table``, taught to report which documents changed instead of handing the whole
database to the storage.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, cast

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from poster.errors import StateError
from poster.store.files import (
    Change,
    Document,
    JournalScan,
    Snapshot,
    StateFiles,
    Tables,
    append,
    encode_change,
    encode_snapshot,
    hold_lock,
    keep_backup,
    new_generation,
    open_journal,
    read_snapshot,
    scan_journal,
    write_atomic,
)

log = logging.getLogger(__name__)


class JournalStorage(Storage):
    """Hold TinyDB's data in memory, journal every change, and compact into a snapshot."""

    compact_ratio = 0.25
    """Compact once the journal is this large a part of the snapshot."""
    min_compact_bytes = 1 << 20
    """Leave journals smaller than this alone: a small state would otherwise compact often."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.files = StateFiles(path)
        self.read_only = read_only
        self._lock = None if read_only else hold_lock(self.files)
        self._journal: int | None = None
        self._journal_bytes = 0
        self._postponed_until = 0
        try:
            snapshot = self._load_snapshot()
            self._tables = snapshot.tables
            self._generation = snapshot.generation
            self._snapshot_bytes = snapshot.size
            self._load_journal(snapshot)
        except BaseException:
            self.close()
            raise

    def read(self) -> Tables:
        """Return the live tables; TinyDB reads and changes them in place."""
        return self._tables

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace every table at once (TinyDB's ``drop_tables``): write a new snapshot."""
        self._tables = data
        self.compact()

    def commit(self, change: Change) -> None:
        """Append ``change`` to the journal; compact when the journal has grown large enough."""
        fd = self._writable()
        line = encode_change(change)
        try:
            append(fd, line)
        except OSError as exc:
            self._undo_append()
            why = f"cannot be written ({exc.strerror}); the change was not recorded"
            raise StateError(self.files.journal, f"{why}: make room or fix permissions") from exc
        self._journal_bytes += len(line)
        threshold = self.compact_threshold(self._snapshot_bytes)
        if self._journal_bytes > max(threshold, self._postponed_until):
            self._compact_or_postpone()

    @classmethod
    def compact_threshold(cls, snapshot_bytes: int) -> int:
        """Return the journal size past which a snapshot of ``snapshot_bytes`` is rewritten."""
        return max(int(snapshot_bytes * cls.compact_ratio), cls.min_compact_bytes)

    def compact(self) -> None:
        """Write the tables as a new snapshot, keep the old one as backup, start a new journal."""
        self._writable()
        generation = new_generation()
        data = encode_snapshot(generation, self._generation, self._tables)
        keep_backup(self.files)
        write_atomic(self.files.snapshot, data)
        # The journal now repeats what the snapshot holds; it must be replaced before the next
        # append, or later changes would go to a journal the snapshot disowns.
        self._start_journal(generation)
        self._generation, self._snapshot_bytes = generation, len(data)
        log.info("state=compacted path=%s bytes=%d", self.files.snapshot, len(data))

    def close(self) -> None:
        """Close the journal and release the lock."""
        for fd in (self._journal, self._lock):
            if fd is not None:
                os.close(fd)
        self._journal = self._lock = None

    @property
    def journal_bytes(self) -> int:
        """Return how many bytes the journal holds, header included."""
        return self._journal_bytes

    def _writable(self) -> int:
        """Return the journal descriptor, or raise when this storage cannot write."""
        if self._journal is None:
            why = "was opened read-only" if self.read_only else "is closed after an earlier error"
            raise StateError(self.files.journal, f"cannot be written: the state {why}")
        return self._journal

    def _undo_append(self) -> None:
        """Cut a half-written line off the journal, or stop writing if that fails too."""
        assert self._journal is not None
        try:
            os.ftruncate(self._journal, self._journal_bytes)
        except OSError:
            os.close(self._journal)
            self._journal = None

    def _compact_or_postpone(self) -> None:
        """Compact, or log why not and try again once the journal has doubled."""
        try:
            self.compact()
        except (OSError, StateError) as exc:
            log.warning("state=compact-failed path=%s error=%s", self.files.snapshot, exc)
            self._postponed_until = 2 * self._journal_bytes

    def _start_journal(self, generation: str) -> None:
        """Replace the journal by an empty one for ``generation``."""
        old, self._journal = self._journal, None
        if old is not None:
            os.close(old)
        self._journal = open_journal(self.files, generation)
        self._journal_bytes = os.fstat(self._journal).st_size

    def _load_snapshot(self) -> Snapshot:
        """Read the snapshot, writing an empty one first when the state is new."""
        snapshot = read_snapshot(self.files)
        if snapshot is not None:
            return snapshot
        generation = new_generation()
        data = encode_snapshot(generation, None, {})
        if not self.read_only:
            write_atomic(self.files.snapshot, data)
            log.info("state=created path=%s", self.files.snapshot)
        return Snapshot(generation, None, {}, len(data))

    def _load_journal(self, snapshot: Snapshot) -> None:
        """Replay the journal that continues ``snapshot`` and open it for appending."""
        scan = scan_journal(self.files)
        if scan is not None and scan.generation == snapshot.generation:
            self._replay(scan)
        elif scan is not None:
            self._set_aside(scan, snapshot)
        if self.read_only:
            return
        if scan is not None and scan.generation == snapshot.generation:
            self._journal = os.open(self.files.journal, os.O_WRONLY | os.O_APPEND)
            # Cut a torn tail off, so that new lines follow the last good one.
            os.ftruncate(self._journal, scan.good_bytes)
            os.fsync(self._journal)
            self._journal_bytes = scan.good_bytes
        else:
            self._start_journal(snapshot.generation)

    def _replay(self, scan: JournalScan) -> None:
        """Apply the journal's changes; warn about a torn last line, which is dropped."""
        for change in scan.changes:
            change.apply(self._tables)
        if scan.torn:
            log.warning(
                "state=torn-journal path=%s kept_bytes=%d dropped_bytes=%d "
                "reason=the last change was cut short by a crash and is ignored",
                self.files.journal,
                scan.good_bytes,
                scan.size - scan.good_bytes,
            )

    def _set_aside(self, scan: JournalScan, snapshot: Snapshot) -> None:
        """Leave out a journal that does not continue ``snapshot``; keep a copy if it mattered."""
        if scan.generation == snapshot.previous:
            # A crash between writing a snapshot and starting its journal: the snapshot
            # already holds every change of the old journal.
            log.info("state=journal-in-snapshot path=%s", self.files.journal)
            return
        stale = self.files.journal.with_name(self.files.journal.name + ".stale")
        log.warning(
            "state=journal-ignored path=%s kept_as=%s reason=it continues another snapshot "
            "(was the snapshot replaced by hand?)",
            self.files.journal,
            stale if not self.read_only else "-",
        )
        if not self.read_only:
            os.replace(self.files.journal, stale)


class _TrackedTable(MutableMapping[int, Document]):
    """Show TinyDB one raw table under integer ids and remember which documents it touched."""

    def __init__(self, raw: dict[str, Document]) -> None:
        self._raw = raw
        self._before: dict[str, str | None] = {}

    def _remember(self, doc_id: str) -> None:
        if doc_id not in self._before:
            doc = self._raw.get(doc_id)
            self._before[doc_id] = None if doc is None else json.dumps(doc, sort_keys=True)

    def __getitem__(self, doc_id: int) -> Document:
        key = str(doc_id)
        doc = self._raw[key]
        # TinyDB updates documents in place through the object returned here.
        self._remember(key)
        return doc

    def __setitem__(self, doc_id: int, doc: Document) -> None:
        key = str(doc_id)
        self._remember(key)
        self._raw[key] = doc

    def __delitem__(self, doc_id: int) -> None:
        key = str(doc_id)
        self._remember(key)
        del self._raw[key]

    def __contains__(self, doc_id: object) -> bool:
        return str(doc_id) in self._raw

    def __iter__(self) -> Iterator[int]:
        return (int(key) for key in list(self._raw))

    def __len__(self) -> int:
        return len(self._raw)

    def change(self, table: str) -> Change:
        """Return what differs from the documents as they were when first touched."""
        put: dict[str, Document] = {}
        delete: list[str] = []
        for key, before in self._before.items():
            doc = self._raw.get(key)
            if doc is None:
                if before is not None:
                    delete.append(key)
            elif before is None or json.dumps(doc, sort_keys=True) != before:
                put[key] = doc
        return Change(table, put, tuple(delete))

    def rollback(self) -> None:
        """Put every touched document back as it was."""
        for key, before in self._before.items():
            if before is None:
                self._raw.pop(key, None)
            else:
                self._raw[key] = json.loads(before)


class JournalTable(Table):
    """A TinyDB table whose writes journal only the documents they changed."""

    def continue_ids_after(self, max_id: int) -> None:
        """Number new documents after ``max_id``, found at start-up, sparing the first insert."""
        # TinyDB would otherwise find the highest id by scanning every key on the first insert;
        # it annotates ``_next_id`` as None, though it keeps the next id there.
        self._next_id = max_id + 1  # type: ignore[assignment]

    def _update_table(self, updater: Callable[[dict[int, Mapping[str, Any]]], None]) -> None:
        """Run ``updater`` on the live table and commit its changes, or undo them on failure."""
        storage = cast(JournalStorage, self._storage)
        raw = storage.read().setdefault(self.name, {})
        tracked = _TrackedTable(raw)
        try:
            # TinyDB's updaters use only the mapping protocol, which the tracked view provides.
            updater(cast(dict[int, Mapping[str, Any]], tracked))
            change = tracked.change(self.name)
            if change.put or change.delete:
                storage.commit(change)
        except BaseException:
            tracked.rollback()
            raise
        finally:
            self.clear_cache()


class JournalDB(TinyDB):
    """TinyDB over a ``JournalStorage`` with journaling tables."""

    table_class = JournalTable

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        super().__init__(path, read_only=read_only, storage=JournalStorage)

    def table(self, name: str, **kwargs: Any) -> JournalTable:
        """Return the named table."""
        return cast(JournalTable, super().table(name, **kwargs))

    @property
    def journal(self) -> JournalStorage:
        """Return the storage, for its files and counters."""
        return cast(JournalStorage, self.storage)
