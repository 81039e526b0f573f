"""Read and write the state files: the snapshot, its backup, the journal and the lock.

The snapshot is one JSON object, ``{"format": 1, "generation": G, "previous": P, "tables": T}``,
where ``T`` is what TinyDB keeps (table name → document id → document). The journal's first
line is ``{"generation": G}``, naming the snapshot it continues; each further line is one change,
``{"table": name, "put": {id: document}, "delete": [id]}``, and ends with a newline.

Whole files are replaced atomically (temp file in the same directory, fsync, ``os.replace``,
fsync of the directory), so a crash leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poster.errors import StateError

FORMAT = 1
Document = dict[str, Any]
Tables = dict[str, dict[str, Document]]


@dataclass(frozen=True)
class StateFiles:
    """Name the files that hold the state of one state directory."""

    snapshot: Path

    @property
    def backup(self) -> Path:
        """Return where the snapshot before the last compaction is kept."""
        return self.snapshot.with_name(self.snapshot.name + ".bak")

    @property
    def journal(self) -> Path:
        """Return the journal that continues the snapshot."""
        return self.snapshot.with_suffix(".journal")

    @property
    def lock(self) -> Path:
        """Return the file a writing process holds locked."""
        return self.snapshot.with_suffix(".lock")


@dataclass(frozen=True)
class Snapshot:
    """A decoded snapshot: its generation, the one it replaced, and TinyDB's tables."""

    generation: str
    previous: str | None
    tables: Tables = field(default_factory=dict)
    size: int = 0


@dataclass(frozen=True)
class Change:
    """The documents one TinyDB write put into or deleted from one table."""

    table: str
    put: dict[str, Document]
    delete: tuple[str, ...] = ()

    def apply(self, tables: Tables) -> None:
        """Apply the change to ``tables`` in place."""
        table = tables.setdefault(self.table, {})
        table.update(self.put)
        for doc_id in self.delete:
            table.pop(doc_id, None)


@dataclass(frozen=True)
class JournalScan:
    """What a journal file holds: its generation, its complete changes, and where they end."""

    generation: str
    changes: list[Change]
    good_bytes: int
    size: int

    @property
    def torn(self) -> bool:
        """Tell whether the file ends with a line that was not completely written."""
        return self.good_bytes < self.size


def new_generation() -> str:
    """Return a fresh name that ties a journal to the snapshot it continues."""
    return uuid.uuid4().hex


def encode_json(value: object) -> bytes:
    """Serialize ``value`` compactly as UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_snapshot(generation: str, previous: str | None, tables: Tables) -> bytes:
    """Serialize a snapshot of ``tables``."""
    envelope = {"format": FORMAT, "generation": generation, "previous": previous}
    return encode_json({**envelope, "tables": tables})


def encode_change(change: Change) -> bytes:
    """Serialize one change as a journal line, newline included."""
    line = {"table": change.table, "put": change.put, "delete": list(change.delete)}
    return encode_json(line) + b"\n"


def read_snapshot(files: StateFiles) -> Snapshot | None:
    """Load the snapshot, or return ``None`` when there is none yet."""
    path = files.snapshot
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(path, f"cannot be read ({exc.strerror}); {way_out(files)}") from exc
    try:
        return _decode_snapshot(data)
    except ValueError as exc:
        raise StateError(path, f"{exc}; {way_out(files)}") from exc


def way_out(files: StateFiles) -> str:
    """Tell the operator how to get going again after the snapshot could not be used."""
    start_empty = "remove the file to start empty (every current item will then be treated as new)"
    if files.backup.exists():
        return f"the last good copy is at {files.backup}; move it into place or {start_empty}"
    return f"there is no backup copy; {start_empty}"


def _decode_snapshot(data: bytes) -> Snapshot:
    """Decode and check a snapshot, raising ``ValueError`` that says what is wrong."""
    try:
        value = json.loads(data)
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise ValueError(f'is JSON but not a poster state file (no "format": {FORMAT})')
    generation, previous = value.get("generation"), value.get("previous")
    if not isinstance(generation, str) or not (previous is None or isinstance(previous, str)):
        raise ValueError('has no valid "generation"')
    return Snapshot(generation, previous, _check_tables(value.get("tables")), len(data))


def _check_tables(value: object) -> Tables:
    """Check that ``value`` has TinyDB's shape: name → numeric id → object."""
    if not isinstance(value, dict):
        raise ValueError('has no "tables" object')
    for name, table in value.items():
        if not isinstance(table, dict):
            raise ValueError(f"table {name!r} is not an object")
        for doc_id, doc in table.items():
            if not doc_id.isdigit() or not isinstance(doc, dict):
                raise ValueError(f"table {name!r} document {doc_id!r} is not a numbered object")
    return value


def scan_journal(files: StateFiles) -> JournalScan | None:
    """Read the journal's complete changes; return ``None`` when there is no journal.

    A last line that is cut short or unreadable is left out (``torn``): it is the trace of a
    crash in the middle of an append. Damage anywhere before it is an error.
    """
    path = files.journal
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(path, f"cannot be read ({exc.strerror}); {_journal_way_out()}") from exc
    if not data:
        return None
    # Every element but the last was followed by a newline; the last one is b"" or torn.
    lines = data.split(b"\n")[:-1]
    generation = _decode_header(path, lines[0] if lines else b"")
    changes = _decode_all(lines[1:])
    if changes is not None:
        return JournalScan(generation, changes, sum(map(len, lines)) + len(lines), len(data))
    changes, good_bytes = [], len(lines[0]) + 1
    for number, line in enumerate(lines[1:], start=2):
        try:
            changes.append(_decode_change(_parse_line(line)))
        except ValueError as exc:
            if number == len(lines):
                break
            raise StateError(path, f"line {number} {exc}; {_journal_way_out()}") from exc
        good_bytes += len(line) + 1
    return JournalScan(generation, changes, good_bytes, len(data))


def _parse_line(line: bytes) -> object:
    """Parse one journal line, raising ``ValueError`` that says it is not JSON."""
    try:
        return json.loads(line)
    except ValueError as exc:
        raise ValueError("is not valid JSON") from exc


def _decode_all(lines: list[bytes]) -> list[Change] | None:
    """Decode every line in one pass, or return ``None`` if any line is damaged."""
    # One parse of the whole journal is several times faster than one per line; when it
    # fails, the caller parses line by line to find and name the damaged one.
    try:
        values = json.loads(b"[" + b",".join(lines) + b"]")
        if len(values) != len(lines):
            return None
        return [_decode_change(value) for value in values]
    except ValueError:
        return None


def _journal_way_out() -> str:
    """Tell the operator how to get going again after the journal could not be used."""
    return (
        "move the journal aside to start from the snapshot alone "
        "(changes recorded since the snapshot was written are then lost)"
    )


def _decode_header(path: Path, line: bytes) -> str:
    """Return the generation named by the journal's first line."""
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or not isinstance(header.get("generation"), str):
        raise StateError(path, f"line 1 is not a journal header; {_journal_way_out()}")
    generation: str = header["generation"]
    return generation


def _decode_change(value: object) -> Change:
    """Check one parsed journal line, raising ``ValueError`` that says what is wrong."""
    if not isinstance(value, dict):
        raise ValueError("is not a change")
    table, put, delete = value.get("table"), value.get("put"), value.get("delete")
    if not isinstance(table, str) or not isinstance(delete, list):
        raise ValueError("is not a change")
    checked = _check_tables({table: put})[table]
    if not all(isinstance(doc_id, str) for doc_id in delete):
        raise ValueError("deletes something that is not a document id")
    return Change(table, checked, tuple(delete))


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old file or the new one."""
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        append(fd, data)
    finally:
        os.close(fd)
    os.replace(temp, path)
    fsync_dir(path.parent)


def keep_backup(files: StateFiles) -> None:
    """Keep the current snapshot as the backup before it is replaced."""
    if not files.snapshot.exists():
        return
    temp = files.backup.with_name(files.backup.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    try:
        # A hard link costs nothing and the snapshot is never rewritten in place.
        os.link(files.snapshot, temp)
    except OSError:
        shutil.copyfile(files.snapshot, temp)
    os.replace(temp, files.backup)


def append(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` and wait until it is on disk."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def fsync_dir(path: Path) -> None:
    """Make renames in the directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_journal(files: StateFiles, generation: str) -> int:
    """Start an empty journal for ``generation`` and return it open for appending."""
    write_atomic(files.journal, encode_json({"generation": generation}) + b"\n")
    return os.open(files.journal, os.O_WRONLY | os.O_APPEND)


def hold_lock(files: StateFiles) -> int:
    """Lock the state against a second writing process; return the descriptor to keep open."""
    fd = os.open(files.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        message = "is locked: another poster process is using this state directory; stop it first"
        raise StateError(files.lock, message) from exc
    return fd
