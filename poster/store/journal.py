"""Keep TinyDB's tables in memory and make each write durable as one appended journal line.

TinyDB's ``JSONStorage`` rewrites the whole file on every write, so each post would cost more
than the one before. Here a write appends only the documents it touched, as one fsync'd line,
and the snapshot is rewritten only once the journal has grown to a quarter of its size: a write
costs the same however long the history, each rewrite is paid for by journal bytes in
proportion to what it writes, and start-up never replays more than a quarter of the state.

Between ``hold()`` and ``release()`` the lines wait in memory and reach the disk together,
with one fsync, with the next change written ``at_once``, at ``flush()`` or at the release:
the bytes written are the same, only the waits for the disk are shared. Inside ``deferred()``
a thread's changes wait the same way, for whatever is written next, by any thread, or the next
``flush()``. TinyDB stays the table and query layer over it (``poster.store.journaldb``); the
storage is TinyDB's by its methods (``read``, ``write``, ``close``), not by its base class, so a
command that only reads the tables, such as status, does not load TinyDB.
"""

from __future__ import annotations

import _thread
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poster.errors import StateError
from poster.eventlog import logger
from poster.store.files import (
    Snapshot,
    StateFiles,
    Tables,
    Undecoded,
    append_at,
    encode_change,
    encode_snapshot,
    keep_backup,
    new_generation,
    open_journal,
    read_snapshot,
    snapshot_chunks,
    way_out,
    write_atomic,
)
from poster.store.journalread import JournalScan, check_sequence, journal_way_out, scan_journal
from poster.store.place import (
    ONE_SHOT,
    file_id,
    hold_lock,
    note_holder,
    os_problem,
    same_file,
)

if TYPE_CHECKING:
    from poster.store.change import Change
    from poster.store.lock import Lock

log = logger(__name__)


class _Deferring(_thread._local):
    """Whether the current thread is inside ``JournalStorage.deferred``.

    ``threading.local`` is this class; ``threading`` itself, which a command that starts no
    thread never needs, is not loaded for it.
    """

    on = False


_UTC_NOW = partial(datetime.now, UTC)


class JournalStorage:
    """Hold TinyDB's data in memory, journal every change, and compact into a snapshot."""

    compact_ratio = 0.25
    """Compact once the journal is this large a part of the snapshot."""
    min_compact_bytes = 1 << 20
    """Leave journals smaller than this alone: a small state would otherwise compact often."""
    max_held_bytes = 1 << 20
    """Write held lines once they reach this size, so a long block holds a bounded amount."""
    leave_compacted_bytes = 1 << 18
    """Compact on closing once this process wrote this much to the journal since the last
    compaction: it paid for the writes, and every later open would replay them."""

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        role: str = ONE_SHOT,
        clock: Callable[[], datetime] = _UTC_NOW,
        last: str | None = None,
    ) -> None:
        """Open the state at ``path``; ``last`` names the table each snapshot writes last.

        A read-only open leaves that table undecoded while the snapshot allows it, until
        ``decode_all``; ``undecoded_feeds`` tells the feeds its documents name meanwhile.
        """
        self.files = StateFiles(path)
        self.read_only = read_only
        self._clock = clock
        self._last = last
        self._undecoded: Undecoded | None = None
        self._aside: list[Change] = []
        self._lock: Lock | None = None
        self._journal: int | None = None
        self._journal_bytes = 0
        self._mark_at: int | None = None
        self._postponed_until = 0
        self._unfinished = False
        self._holds = 0
        self._at_once = False
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._written = 0
        self._deferring = _Deferring()
        try:
            self._lock = None if read_only else hold_lock(self.files, role)
            snapshot = self._load_snapshot()
            self._undecoded = snapshot.undecoded
            self.load_tables(snapshot.tables)
            self._generation, self._seq = snapshot.generation, snapshot.seq
            self._snapshot_bytes = snapshot.size
            self._snapshot_id = file_id(self.files.snapshot)
            self.restored = snapshot.restored
            self._load_journal(snapshot)
        except BaseException as exc:
            self.close()
            if isinstance(exc, OSError):
                raise os_problem(self.files, exc) from exc
            raise

    def read(self) -> Tables:
        """Return the live tables; TinyDB reads and changes them in place.

        A table the open left undecoded is not among them until ``decode_all``.
        """
        return self._tables

    def undecoded_feeds(self) -> frozenset[str] | None:
        """Return the feeds the documents of the table left undecoded name; None when none is.

        The documents journal lines add to it, kept aside until it is decoded, count too.
        """
        if self._undecoded is None:
            return None
        added = {doc["feed"] for change in self._aside for doc in change.put.values()}
        return self._undecoded.feeds | added if added else self._undecoded.feeds

    def decode_all(self) -> None:
        """Decode the table the open left undecoded, if any, into the live tables."""
        undecoded = self._undecoded
        if undecoded is None:
            return
        try:
            docs = undecoded.decode()
        except ValueError as exc:
            raise StateError(self.files.snapshot, f"{exc}; {way_out(self.files)}") from exc
        self._tables[undecoded.name] = docs
        self._undecoded = None
        for change in self._aside:
            change.apply(self._tables)
        self._aside = []

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace every table at once (TinyDB's ``drop_tables``): write a new snapshot."""
        self._tables = data
        self.compact()

    def commit(self, change: Change) -> None:
        """Append ``change`` to the journal (or hold it); compact when the journal is large."""
        if self._at_once or not (self._holds or self._deferring.on):
            self.append_change(change)
            self.compact_if_due()
            return
        self._writable()
        if self._held_bytes >= self.max_held_bytes:
            self.flush()  # before holding this change, so a failure leaves it to be undone
        line = encode_change(change, self._seq + len(self._held) + 1)
        self._held.append(line)
        self._held_bytes += len(line)

    def hold(self) -> None:
        """Hold the changes committed from now on in memory, until ``flush`` or ``release``.

        A held change is lost if the process dies before it is written: callers hold only
        changes a crash may lose, and make one that must be on disk at once ``at_once``.
        """
        self._holds += 1

    def release(self, *, write: bool = True) -> None:
        """End a ``hold``; write what is held once the last one ends, or with the next change."""
        self._holds -= 1
        if not self._holds and write:
            self.flush()

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold what this thread commits in the block until the next write, by any thread, or flush.

        Unlike ``hold``, nothing is written when the block ends, and other threads' changes are
        written as usual (taking the held lines with them). The same rule applies: only changes a
        crash may lose.
        """
        local = self._deferring
        before, local.on = local.on, True
        try:
            yield
        finally:
            local.on = before

    @contextmanager
    def at_once(self) -> Iterator[None]:
        """Write the changes of the block before it returns, even while others are held."""
        before, self._at_once = self._at_once, True
        try:
            yield
        finally:
            self._at_once = before

    def flush(self) -> None:
        """Write the held changes as consecutive lines that reach the disk with one fsync."""
        if not self._held:
            return
        fd = self._in_place()  # writing the state back from memory saves the held changes too
        if self._held:
            self._append(fd, b"".join(self._held), len(self._held))
            self._forget_held()
        self.compact_if_due()

    def load_tables(self, tables: Tables) -> None:
        """Take the tables a snapshot holds as the state in memory."""
        self._tables = tables

    def snapshot_tables(self) -> Tables:
        """Return the tables the next snapshot holds."""
        self.decode_all()
        return self._tables

    def apply_change(self, change: Change) -> None:
        """Apply one replayed journal change to the state in memory.

        A change that only adds documents, each naming its feed, to the table the open left
        undecoded waits aside until the table is decoded: the lines a pass's first reads
        journal do not make a read-only open decode what it may never ask about. Any other
        change to that table decodes it first.
        """
        if self._undecoded is not None and change.table == self._undecoded.name:
            if _only_adds(change):
                self._aside.append(change)
                return
            self.decode_all()
        change.apply(self._tables)

    def append_change(self, change: Change) -> None:
        """Append ``change`` after the held lines, all durable at once, without compacting.

        When the append fails, the held lines stay held and the error goes to the caller.
        """
        fd = self._in_place()  # writing the state back from memory saves the held changes too
        line = encode_change(change, self._seq + len(self._held) + 1)
        self._append(fd, b"".join([*self._held, line]), len(self._held) + 1)
        self._forget_held()

    def _append(self, fd: int, lines: bytes, count: int) -> None:
        """Append ``count`` encoded changes and wait until they are on disk."""
        try:
            append_at(fd, self._journal_bytes, lines, self._mark_at)
        except OSError as exc:
            self._undo_append()
            raise os_problem(self.files, exc) from exc
        self._journal_bytes += len(lines)
        self._written += len(lines)
        self._seq += count

    def _forget_held(self) -> None:
        """Drop the held lines: they are on disk, in the journal or in a new snapshot."""
        self._held, self._held_bytes = [], 0

    def compact_if_due(self) -> None:
        """Compact when the journal has grown past its share of the snapshot."""
        threshold = self.compact_threshold(self._snapshot_bytes)
        if self._journal_bytes > max(threshold, self._postponed_until):
            self._compact_or_postpone()

    def compact_if_written(self) -> None:
        """Compact when this process wrote ``leave_compacted_bytes`` since the last compaction.

        Called as the state closes: a pass that wrote much (a first read of many feeds) leaves
        a state whose next open, by ``status`` or the next pass, has little to replay. A
        failure is logged and leaves the state as it is.
        """
        if self._journal is not None and self._written >= self.leave_compacted_bytes:
            self._compact_or_postpone()

    @classmethod
    def compact_threshold(cls, snapshot_bytes: int) -> int:
        """Return the journal size past which a snapshot of ``snapshot_bytes`` is rewritten."""
        return max(int(snapshot_bytes * cls.compact_ratio), cls.min_compact_bytes)

    def compact(self) -> None:
        """Write the tables as a new snapshot, keep the old one as backup, start a new journal."""
        self._writable()
        try:
            self._compact()
        except OSError as exc:
            raise os_problem(self.files, exc) from exc

    def _compact(self, bridged: str | None = None) -> None:
        """Write the snapshot and start its journal, letting OS errors through.

        ``bridged`` names the journal a snapshot put back from its backup was brought up to
        date with: the new snapshot follows it, so a crash before its own journal starts finds
        that journal already in it, and the backup is kept without a journal (the one on disk
        does not continue it).
        """
        generation = new_generation()
        data = snapshot_chunks(
            generation, bridged or self._generation, self.snapshot_tables(), self._seq,
            self.restored, self._last,
        )  # fmt: skip
        keep_backup(self.files, with_journal=bridged is None)
        size = write_atomic(self.files.snapshot, data)
        self._forget_held()
        self._snapshot_id = file_id(self.files.snapshot)
        # The journal now repeats what the snapshot holds; it must be replaced before the next
        # append, or later changes would go to a journal the snapshot disowns.
        self._unfinished = True
        self._start_journal(generation)
        self._unfinished = False
        self._generation, self._snapshot_bytes = generation, size
        log.info("state=compacted path=%s bytes=%d", self.files.snapshot, size)

    def close(self) -> None:
        """Close the journal and the snapshot a table left undecoded lies in; release the lock."""
        if self._undecoded is not None:
            self._undecoded.close()
        if self._journal is not None:
            os.close(self._journal)
        if self._lock is not None:
            self._lock.release(self.files)
        self._journal = self._lock = None

    @property
    def writes(self) -> int:
        """Return how many changes the state has recorded since it was created."""
        return self._seq

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

    def _in_place(self) -> int:
        """Return the journal descriptor once the files on disk are still the ones written."""
        self._writable()
        lost = self._lost()
        try:
            if lost is not None:
                self._write_back(lost)
            elif self._unfinished:
                self._compact()
        except OSError as exc:
            raise os_problem(self.files, exc) from exc
        return self._writable()

    def _lost(self) -> str | None:
        """Say which of the state's files were deleted or replaced, or ``None`` if none was."""
        assert self._lock is not None and self._journal is not None
        if not self._lock.still_at(self.files.folder):
            return "the state folder was deleted or replaced"
        if file_id(self.files.snapshot) != self._snapshot_id:
            return "the snapshot was deleted or replaced"
        if not same_file(self.files.journal, self._journal):
            return "the journal was deleted or replaced"
        return None

    def _write_back(self, lost: str) -> None:
        """Write the whole state from memory again, under a lock on the folder now there."""
        assert self._lock is not None
        if not self._lock.still_at(self.files.folder):
            self.files.folder.mkdir(parents=True, exist_ok=True)
            lock = hold_lock(self.files, self._lock.role)
            self._lock.release(self.files)
            self._lock = lock
        else:
            note_holder(self.files, self._lock.role)
        when = self._clock().isoformat(timespec="seconds")
        self.restored = f"{when}: {lost} while poster ran; it wrote the state back from memory"
        self._compact()
        log.warning(
            "state=written-back path=%s reason=%s while poster ran; the state in memory was "
            "written again, nothing was lost",
            self.files.snapshot,
            lost,
        )

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
        except StateError as exc:
            log.warning("state=compact-failed path=%s error=%s", self.files.snapshot, exc)
            self._postponed_until = 2 * self._journal_bytes

    def _start_journal(self, generation: str) -> None:
        """Replace the journal by an empty one for ``generation``."""
        journal, mark_at = open_journal(self.files, generation)
        if self._journal is not None:
            os.close(self._journal)
        self._journal, self._mark_at = journal, mark_at
        self._journal_bytes = os.fstat(journal).st_size
        self._written = 0

    def _load_snapshot(self) -> Snapshot:
        """Read the snapshot, writing an empty one first when the state is new."""
        snapshot = read_snapshot(self.files, self._last if self.read_only else None)
        self._created = snapshot is None
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
        ours = scan is not None and scan.generation == snapshot.generation
        bridged = False
        if scan is not None and not ours and scan.generation != snapshot.previous:
            bridged = ours = self._bridge(scan, snapshot)
        if scan is not None and ours:
            check_sequence(self.files.journal, scan, self._seq)
            self._replay(scan)
        elif scan is not None:
            self._set_aside(scan, snapshot)
        elif self.files.snapshot.exists() and not self._created:
            log.warning(
                "state=journal-missing path=%s reason=changes recorded since the snapshot, if "
                "any, are lost (was it moved aside?)",
                self.files.journal,
            )
        if self.read_only:
            return
        if bridged and scan is not None:
            # The snapshot and both journals now make one: write it, as a compaction does.
            self._compact(bridged=scan.generation)
        elif scan is not None and ours and scan.mark_at is not None:
            self._journal = os.open(self.files.journal, os.O_WRONLY)
            # Cut a torn tail off, so that new lines follow the last good one.
            os.ftruncate(self._journal, scan.good_bytes)
            os.fsync(self._journal)
            self._journal_bytes, self._mark_at = scan.good_bytes, scan.mark_at
        elif ours:
            # A journal of an earlier release has no numbered lines: fold it into a snapshot.
            self._compact()
        else:
            self._start_journal(snapshot.generation)

    def _replay(self, scan: JournalScan, path: Path | None = None) -> None:
        """Apply the journal's changes; warn about a torn last line, which is dropped.

        ``path`` names the journal when it is not the state's (its backup).
        """
        for change in scan.changes:
            self.apply_change(change)
        self._seq += len(scan.changes)
        if scan.torn:
            log.warning(
                "state=torn-journal path=%s kept_bytes=%d dropped_bytes=%d "
                "reason=the last change was cut short by a crash and is ignored",
                path or self.files.journal,
                scan.good_bytes,
                scan.size - scan.good_bytes,
            )

    def _bridge(self, scan: JournalScan, snapshot: Snapshot) -> bool:
        """Replay the backup journal onto a snapshot put back from its backup, or refuse.

        The journal continues a later snapshot than this one. When this one is the backup
        and the journal kept beside it continues it, the two journals hold every change
        since: they are replayed in turn (``check_sequence`` proves they join). A journal only
        older than the snapshot, all of whose changes it holds, is left out; anything else
        would forget what was recorded, and post it again.
        """
        if scan.changes and scan.changes[-1].seq <= snapshot.seq:
            return False
        backup = scan_journal(self.files, self.files.journal_backup)
        if backup is None or backup.generation != snapshot.generation:
            raise StateError(self.files.journal, self._later_than(snapshot))
        check_sequence(self.files.journal_backup, backup, self._seq)
        self._replay(backup, self.files.journal_backup)
        # A reader that met a compaction between reading the snapshot and the journal bridges
        # too, with nothing to say: only a writer finds a snapshot put back from its backup.
        say = log.debug if self.read_only else log.warning
        say(
            "state=restored-from-backup path=%s replayed=%d reason=the snapshot is its backup; "
            "the journal kept with it brought it up to date",
            self.files.snapshot,
            len(backup.changes),
        )
        return True

    def _later_than(self, snapshot: Snapshot) -> str:
        """Say that the journal continues a later snapshot than the one in place, and what to do."""
        name = self.files.snapshot.name
        return (
            f"continues a later state than {name} (was {name} put back from an older copy?): "
            f"starting from {name} would forget what was recorded since, and post it again. "
            f"Put back the {name} this journal continues; or, to start from {name} as it is, "
            f"{journal_way_out()}"
        )

    def _set_aside(self, scan: JournalScan, snapshot: Snapshot) -> None:
        """Leave out a journal that does not continue ``snapshot``, which holds all it records."""
        if scan.generation == snapshot.previous:
            # A crash between writing a snapshot and starting its journal: the snapshot
            # already holds every change of the old journal.
            log.info("state=journal-in-snapshot path=%s", self.files.journal)
            return
        stale = self.files.journal.with_name(self.files.journal.name + ".stale")
        log.warning(
            "state=journal-ignored path=%s kept_as=%s reason=it continues an older snapshot, "
            "whose changes this one holds (was the journal put back by hand?)",
            self.files.journal,
            stale if not self.read_only else "-",
        )
        if not self.read_only:
            os.replace(self.files.journal, stale)


def _only_adds(change: Change) -> bool:
    """Tell whether ``change`` only puts documents that each name their feed."""
    if change.delete or change.each:
        return False
    return all(type(doc.get("feed")) is str for doc in change.put.values())
