"""Read and write the state files: the snapshot, its backup, the journal and the lock.

The snapshot is one JSON object, ``{"format": 1, "generation": G, "previous": P, "seq": S,
"tables": T}``, where ``T`` is what TinyDB keeps (table name → document id → document) and ``S``
numbers the last change it holds. The journal's first line is ``{"generation": G, "committed":
N}``, naming the snapshot it continues; each further line is one change, ``{"seq": S + k,
"table": name, "put": {id: document}, "delete": [id]}``, and ends with a newline; a change that
sets the same fields on many documents (a pass's record of its reads) names them instead of
repeating each, with ``"set": {"fields": {name: value}, "ids": [id]}``.

``N`` is rewritten in place (fixed width) with every append: the file is at least ``N`` bytes
long and only the lines starting at ``N`` or later, written together by the last append, were
not yet on disk when a change returned; the first damaged one of them and the rest are dropped.
A journal shorter than ``N``, a gap in the numbers, or damage before the final line means
recorded changes were lost, and is refused rather than forgotten: the items they recorded
would be posted again. State written before ``seq`` and ``committed`` existed still opens.

The store names one table, ``seen``, to be written last, and the snapshot then ends with
``"seen_feeds": [F...], "seen_at": A, "seen_end": E, "seen_crc": C``: the feeds its documents
name, the offsets of its object's first byte and of the byte after it, and the CRC-32 of the
bytes from ``A`` up to ``"seen_at"``. A read-only open that finds those bytes whole reads and
decodes only the rest, and reads that table from the still-open file when something asks for
it: ``status`` shows feeds without the items their first reads held back, most of a state's
bytes. A reader without this ignores the keys; a snapshot without them is decoded whole.

Whole files are replaced atomically (temp file in the same directory, fsync, ``os.replace``,
fsync of the directory), so a crash leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Iterable, Iterator
from io import FileIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poster.errors import StateError
from poster.frozen import field, frozen
from poster.localfiles import open_regular, read_regular

if TYPE_CHECKING:
    from poster.store.change import Change

FORMAT = 1
SNAPSHOT_BATCH = 500
"""Documents serialized at a time when a snapshot is written."""
RECIPIENTS_FOLDER = "recipients"
"""The folder in the state directory that holds each gateway destination's recipient ledger."""
MARK_WIDTH = 20
"""Digits kept for the journal's ``committed`` offset, so it can be rewritten in place."""
Document = dict[str, Any]
Tables = dict[str, dict[str, Document]]


@frozen
class StateFiles:
    """Name the files that hold the state of one state directory."""

    snapshot: Path

    @property
    def folder(self) -> Path:
        """Return the state directory."""
        return self.snapshot.parent

    @property
    def backup(self) -> Path:
        """Return where the snapshot before the last compaction is kept."""
        return self.snapshot.with_name(self.snapshot.name + ".bak")

    @property
    def journal(self) -> Path:
        """Return the journal that continues the snapshot."""
        return self.snapshot.with_suffix(".journal")

    @property
    def journal_backup(self) -> Path:
        """Return where the journal that continued the backup is kept: the backup and it make
        the snapshot that replaced them, so a damaged snapshot loses nothing."""
        journal = self.journal
        return journal.with_name(journal.name + ".bak")

    @property
    def lock(self) -> Path:
        """Return the file a writing process holds locked."""
        return self.snapshot.with_suffix(".lock")

    @property
    def holder(self) -> Path:
        """Return the file naming the process that holds the lock, and its role."""
        return self.snapshot.with_suffix(".holder")


@frozen
class Snapshot:
    """A decoded snapshot: its generation, the one it replaced, and TinyDB's tables."""

    generation: str
    previous: str | None
    tables: Tables = field(default_factory=dict)
    size: int = 0
    seq: int = 0
    """The number of the last change the snapshot holds."""
    restored: str | None = None
    """When and why the state was last written back from memory, if ever."""
    undecoded: Undecoded | None = None
    """The table left aside, not in ``tables``, when the snapshot was read so."""


class Undecoded:
    """A table of a snapshot left undecoded: its name, the feeds it names, and where its text
    lies in the snapshot, still open (a snapshot written since is another file)."""

    __slots__ = ("_file", "_span", "feeds", "name")

    def __init__(self, name: str, feeds: frozenset[str], file: FileIO, span: tuple[int, int]):
        self.name = name
        self.feeds = feeds
        self._file = file
        self._span = span

    def decode(self) -> dict[str, Document]:
        """Read, decode and check the table, raising ``ValueError`` that says what is wrong.

        The file is closed: a table is decoded once.
        """
        start, stop = self._span
        try:
            text = _read_at(self._file, start, stop - start)
        finally:
            self.close()
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"table {self.name!r} is not valid JSON ({exc})") from exc
        return check_table(self.name, value)

    def close(self) -> None:
        """Close the snapshot the table's text is read from."""
        self._file.close()


def new_generation() -> str:
    """Return a fresh name that ties a journal to the snapshot it continues."""
    import uuid  # here: it loads platform, and a read-only open never names a generation

    return uuid.uuid4().hex


def encode_json(value: object) -> bytes:
    """Serialize ``value`` compactly as UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_snapshot(
    generation: str,
    previous: str | None,
    tables: Tables,
    seq: int = 0,
    restored: str | None = None,
    last: str | None = None,
) -> bytes:
    """Serialize a snapshot of ``tables`` holding the changes up to ``seq``."""
    return b"".join(snapshot_chunks(generation, previous, tables, seq, restored, last))


def snapshot_chunks(
    generation: str,
    previous: str | None,
    tables: Tables,
    seq: int = 0,
    restored: str | None = None,
    last: str | None = None,
) -> Iterator[bytes]:
    """Serialize a snapshot as ``encode_snapshot`` does, ``SNAPSHOT_BATCH`` documents a piece.

    Written whole, a snapshot of 10,000 feeds held its text twice over in memory while it was
    written, tens of MB for a moment, and the moment set the daemon's peak. The table ``last``
    names, when there is one, is written last, followed by what lets a reader leave it aside.
    """
    envelope: dict[str, object] = {"format": FORMAT, "generation": generation}
    envelope |= {"previous": previous, "seq": seq}
    if restored is not None:
        envelope["restored"] = restored
    start = encode_json(envelope)[:-1] + b',"tables":{'
    yield start
    offset = len(start)
    names = [name for name in tables if name != last]
    for number, name in enumerate(names):
        key = (b"," if number else b"") + encode_json(name) + b":"
        yield key
        offset += len(key)
        for piece in _table_chunks(tables[name]):
            yield piece
            offset += len(piece)
    if last is None or last not in tables:
        yield b"}}"
        return
    key = (b"," if names else b"") + encode_json(last) + b":"
    yield key
    yield from _last_table_chunks(last, tables[last], offset + len(key))


def _table_chunks(docs: dict[str, Document]) -> Iterator[bytes]:
    """Serialize one table's object, ``SNAPSHOT_BATCH`` documents a piece."""
    yield b"{"
    items = iter(docs.items())
    comma = b""
    while batch := dict(itertools.islice(items, SNAPSHOT_BATCH)):
        yield comma + encode_json(batch)[1:-1]
        comma = b","
    yield b"}"


def _last_table_chunks(name: str, docs: dict[str, Document], at: int) -> Iterator[bytes]:
    """Serialize the table written last, starting at offset ``at``, and the snapshot's end.

    The end names the feeds the table's documents name, where the table starts and ends, and
    the CRC-32 of the bytes from its start on (see the module's docstring).
    """
    import zlib  # here: only writing the state, or reading a table left aside, needs it

    crc, stop = 0, at
    for piece in _table_chunks(docs):
        crc = zlib.crc32(piece, crc)
        stop += len(piece)
        yield piece
    feeds = sorted({feed for doc in docs.values() if isinstance(feed := doc.get("feed"), str)})
    listed = b"}," + encode_json(f"{name}_feeds") + b":" + encode_json(feeds)
    yield listed
    end = {f"{name}_at": at, f"{name}_end": stop, f"{name}_crc": zlib.crc32(listed, crc)}
    yield b"," + encode_json(end)[1:]


def encode_change(change: Change, seq: int) -> bytes:
    """Serialize one change as journal line number ``seq``, newline included."""
    line = {"seq": seq, "table": change.table, "put": change.put, "delete": list(change.delete)}
    if change.each:
        line["set"] = {"fields": change.fields, "ids": list(change.each)}
    return encode_json(line) + b"\n"


def encode_header(generation: str, committed: int = 0) -> tuple[bytes, int]:
    """Return a journal's first line and where its ``committed`` digits start."""
    head = b'{"generation":' + encode_json(generation) + b',"committed":'
    committed = max(committed, len(head) + MARK_WIDTH + 2)
    return head + encode_mark(committed) + b"}\n", len(head)


def encode_mark(committed: int) -> bytes:
    """Return ``committed`` as the fixed-width digits the journal header holds."""
    # JSON allows whitespace before the closing brace, so padding keeps the width fixed.
    return f"{committed:<{MARK_WIDTH}d}".encode("ascii")


def read_snapshot(files: StateFiles, leave: str | None = None) -> Snapshot | None:
    """Load the snapshot, or return ``None`` when there is none yet.

    ``leave`` names a table to leave undecoded, and unread, when the snapshot ends with what
    allows it; the snapshot then stays open until the table is decoded or closed.
    """
    path = files.snapshot
    try:
        snapshot = None if leave is None else _read_leaving(path, leave)
        data = read_regular(path) if snapshot is None else b""
    except FileNotFoundError:
        return None
    except OSError as exc:
        from poster.store.place import read_refused  # here: only a failure needs it

        raise read_refused(path, exc, way_out(files)) from exc
    if snapshot is not None:
        return snapshot
    try:
        return _checked(_loads(data), len(data))
    except ValueError as exc:
        raise StateError(path, f"{exc}; {way_out(files)}") from exc


START_EMPTY = "remove the file to start empty (every current item will then be treated as new)"


def way_out(files: StateFiles) -> str:
    """Tell the operator how to get going again after the snapshot could not be used."""
    if files.backup.exists() and files.journal_backup.exists():
        return (
            f"the last good copy is at {files.backup}; move it into place (the journals kept "
            f"beside it bring it up to date) or {START_EMPTY}"
        )
    if files.backup.exists():
        return (
            f"the last good copy is at {files.backup}; move it into place (what was recorded "
            f"after it is lost, and its items may be posted again) or {START_EMPTY}"
        )
    return f"there is no backup copy; {START_EMPTY}"


def _read_leaving(path: Path, name: str) -> Snapshot | None:
    """Read the snapshot without the table ``name``, when its end shows that table's bytes whole.

    ``None`` when it does not end as ``snapshot_chunks`` ends one with that table last, or
    anything else about it is wrong: the whole snapshot is then read, and says what.
    """
    file = open_regular(path)
    try:
        snapshot = _leaving(file, name)
    except BaseException:
        file.close()
        raise
    if snapshot is None:
        file.close()
    return snapshot


def _leaving(file: FileIO, name: str) -> Snapshot | None:
    """Read the snapshot open in ``file`` but for the table ``name`` written last, or None."""
    size = os.fstat(file.fileno()).st_size
    span = _checked_span(file, size, name)
    if span is None:
        return None
    at, stop = span
    head = bytearray(at + 2 + size - stop)
    if not _read_into(file, memoryview(head)[:at], 0):
        return None
    head[at : at + 2] = b"{}"
    if not _read_into(file, memoryview(head)[at + 2 :], stop):
        return None
    try:
        value = _loads(head)
        feeds = value.get(f"{name}_feeds") if isinstance(value, dict) else None
        if type(feeds) is not list or not all(type(feed) is str for feed in feeds):
            return None
        return _checked(value, size, Undecoded(name, frozenset(feeds), file, span))
    except ValueError:
        return None


def _checked_span(file: FileIO, size: int, name: str) -> tuple[int, int] | None:
    """Return where the table ``name`` written last starts and ends, once its CRC-32 checks."""
    tail = _read_at(file, max(0, size - 160), min(size, 160))
    marker = b"," + encode_json(f"{name}_at") + b":"
    found = tail.rfind(marker)
    try:
        end = json.loads(b"{" + tail[found + 1 :]) if found >= 0 else None
    except ValueError:
        return None
    names = (f"{name}_at", f"{name}_end", f"{name}_crc")
    if not isinstance(end, dict) or list(end) != list(names):
        return None
    at, stop, crc = (end[key] for key in names)
    checked = size - len(tail) + found
    key = encode_json(name) + b":{"
    if not all(type(n) is int for n in (at, stop, crc)) or not len(key) <= at < stop < checked:
        return None
    if _read_at(file, at - len(key) + 1, len(key)) != key:
        return None
    return (at, stop) if _crc(file, at, checked) == crc else None


def _crc(file: FileIO, start: int, stop: int) -> int | None:
    """Return the CRC-32 of the bytes from ``start`` to ``stop``, read a piece at a time."""
    import zlib  # here: only a snapshot read with a table left aside needs it

    piece = memoryview(bytearray(1 << 16))
    crc = 0
    file.seek(start)
    while start < stop:
        got = file.readinto(piece[: min(len(piece), stop - start)])
        if not got:
            return None
        crc = zlib.crc32(piece[:got], crc)
        start += got
    return crc


def _read_at(file: FileIO, offset: int, length: int) -> bytes:
    """Return up to ``length`` bytes of ``file`` from ``offset``: fewer only at its end."""
    piece = bytearray(length)
    got = _read_into(file, memoryview(piece), offset)
    return bytes(piece) if got else bytes(piece[: file.tell() - offset])


def _read_into(file: FileIO, view: memoryview, offset: int) -> bool:
    """Fill ``view`` with the bytes of ``file`` from ``offset``; tell whether it held them all."""
    file.seek(offset)
    done = 0
    while done < len(view):
        got = file.readinto(view[done:])
        if not got:
            return False
        done += got
    return True


def _loads(data: bytes | bytearray) -> Any:
    """Decode the JSON of a snapshot, raising ``ValueError`` that says what is wrong."""
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc


def _checked(value: Any, size: int, undecoded: Undecoded | None = None) -> Snapshot:
    """Check a decoded snapshot of ``size`` bytes, raising ``ValueError`` that says what is wrong.

    With ``undecoded``, ``value`` holds its table as an empty object, taken out of the tables.
    """
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise ValueError(f'is JSON but not a poster state file (no "format": {FORMAT})')
    generation, previous = value.get("generation"), value.get("previous")
    if not isinstance(generation, str) or not (previous is None or isinstance(previous, str)):
        raise ValueError('has no valid "generation"')
    seq, restored = value.get("seq", 0), value.get("restored")
    if type(seq) is not int or seq < 0 or not isinstance(restored, str | None):
        raise ValueError('has no valid "seq" or "restored"')
    tables = check_tables(value.get("tables"))
    if undecoded is not None and tables.pop(undecoded.name, None) != {}:
        raise ValueError(f"has no table {undecoded.name!r} where its end says")
    return Snapshot(generation, previous, tables, size, seq, restored, undecoded)


def check_tables(value: object) -> Tables:
    """Check that ``value`` has TinyDB's shape: name → numeric id → object."""
    if not isinstance(value, dict):
        raise ValueError('has no "tables" object')
    for name, table in value.items():
        check_table(name, table)
    return value


def check_table(name: str, table: object) -> dict[str, Document]:
    """Check that the table ``name`` has TinyDB's shape, numeric id → object; return it."""
    if not isinstance(table, dict):
        raise ValueError(f"table {name!r} is not an object")
    for doc_id, doc in table.items():
        if not (doc_id.isascii() and doc_id.isdigit()) or not isinstance(doc, dict):
            raise ValueError(f"table {name!r} document {doc_id!r} is not a numbered object")
    return table


def write_atomic(
    path: Path, data: bytes | Iterable[bytes], *, mode: int = 0o644, durable: bool = True
) -> int:
    """Replace ``path`` with ``data``, whole or in pieces, its mode ``mode``; return its size.

    A crash leaves the old file or the new one; a failure (a full disk) leaves the old one.
    Without ``durable`` nothing waits for the disk: no reader ever sees half a file, but a
    crash may leave the old one or an empty one, as a cache or a passing note may be left.
    """
    temp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()  # one a crash left would keep its own mode, whatever ``mode`` says
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    size = 0
    try:
        try:
            for piece in [data] if isinstance(data, bytes) else data:
                _write_all(fd, piece)
                size += len(piece)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    if durable:
        fsync_dir(path.parent)
    return size


def keep_backup(files: StateFiles, *, with_journal: bool = True) -> None:
    """Keep the current snapshot and its journal as the backups before they are replaced.

    Without ``with_journal`` (the journal on disk does not continue the snapshot), the backup
    is kept alone, and putting it back would forget what was recorded after it.
    """
    if not files.snapshot.exists():
        return
    _keep(files.snapshot, files.backup)
    if with_journal and files.journal.exists():
        _keep(files.journal, files.journal_backup)
    else:  # a journal kept from before would not continue this backup
        with contextlib.suppress(FileNotFoundError):
            files.journal_backup.unlink()


def _keep(path: Path, backup: Path) -> None:
    """Make ``backup`` a copy of ``path``, replacing it at once."""
    temp = backup.with_name(backup.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    try:
        # A hard link costs nothing: neither file is rewritten in place, only replaced.
        os.link(path, temp)
    except OSError:
        import shutil  # here: it loads compression modules that reading the state never needs

        shutil.copyfile(path, temp)
    os.replace(temp, backup)


def append(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` and wait until it is on disk."""
    _write_all(fd, data)
    os.fsync(fd)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, however many calls it takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: Path) -> None:
    """Make renames in the directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_journal(files: StateFiles, generation: str) -> tuple[int, int]:
    """Start an empty journal for ``generation``; return it open and where its mark sits."""
    header, mark_at = encode_header(generation)
    write_atomic(files.journal, header)
    return os.open(files.journal, os.O_WRONLY), mark_at


def append_at(fd: int, offset: int, data: bytes, mark_at: int | None) -> None:
    """Write ``data`` at ``offset``, mark it in the header as begun, and wait until on disk."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
    if mark_at is not None:
        # One fsync covers both writes, in whichever order they reach the disk: a crash
        # leaves a mark at most one line short of the file, or a file at most one line short.
        os.pwrite(fd, encode_mark(offset - len(data)), mark_at)
    os.fsync(fd)
