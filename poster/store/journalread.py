"""Read the journal back: its header, its complete changes, and whether its end was torn.

The journal's format is described in ``files``: a header line naming the snapshot it continues
and the length known to be on disk, then one change a line. A journal shorter than that length,
a gap in the numbers, or damage before the final line means recorded changes were lost, and is
refused rather than forgotten.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from poster.errors import StateError
from poster.frozen import frozen
from poster.localfiles import read_regular
from poster.store.files import StateFiles, check_table, encode_mark

TYPE_CHECKING = False  # as typing's, which this module needs nothing else from
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from poster.store.change import Change


@frozen
class JournalScan:
    """What a journal file holds: its generation, its complete changes, and where they end."""

    generation: str
    changes: list[Change]
    good_bytes: int
    size: int
    mark_at: int | None = None
    """Where the ``committed`` digits sit; ``None`` in a journal written before they existed."""

    @property
    def torn(self) -> bool:
        """Tell whether the file ends with a line that was not completely written."""
        return self.good_bytes < self.size


def scan_journal(files: StateFiles, path: Path | None = None) -> JournalScan | None:
    """Read the journal's complete changes; return ``None`` when there is no journal.

    ``path`` names another journal than the state's (its backup). A final line that is cut
    short or unreadable, or a damaged line of the last append and the lines after it, are left
    out (``torn``): the trace of a crash in the middle of an append. Any other loss or damage
    is an error.
    """
    path = files.journal if path is None else path
    try:
        data = read_regular(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        from poster.store.place import read_refused  # here: only a failure needs it

        raise read_refused(path, exc, journal_way_out()) from exc
    if not data:
        # Journals are written whole and renamed into place: an empty one was cut short.
        raise StateError(path, _shortened(0, 1))
    # Every element but the last was followed by a newline; the last one is b"" or torn.
    lines = data.split(b"\n")[:-1]
    generation, committed, mark_at = _decode_header(path, lines[0] if lines else b"")
    if committed is not None and len(data) < committed:
        raise StateError(path, _shortened(len(data), committed))
    complete = sum(map(len, lines)) + len(lines)
    changes = _decode_all(lines[1:])
    if changes is None:
        changes, complete = _decode_each(path, lines, complete == len(data), committed)
    if complete < len(data) and complete < (committed or 0):
        # The unfinished line began before the last confirmed one: that one is gone.
        raise StateError(path, _shortened(complete, committed or 0))
    return JournalScan(generation, changes, complete, len(data), mark_at)


def _decode_each(
    path: Path, lines: list[bytes], whole: bool, committed: int | None
) -> tuple[list[Change], int]:
    """Decode line by line, naming the first damaged one; only an unconfirmed tail is dropped."""
    changes, good_bytes = [], len(lines[0]) + 1
    for number, line in enumerate(lines[1:], start=2):
        try:
            changes.append(_decode_change(_parse_line(line)))
        except ValueError as exc:
            unconfirmed = committed is not None and good_bytes >= committed
            if unconfirmed or (number == len(lines) and whole):
                break
            raise StateError(path, f"line {number} {exc}; {journal_way_out()}") from exc
        good_bytes += len(line) + 1
    return changes, good_bytes


def check_sequence(path: Path, scan: JournalScan, after: int) -> None:
    """Refuse a journal whose changes do not number on from ``after`` without a gap."""
    if scan.mark_at is None:
        return
    for line, change in enumerate(scan.changes, start=2):
        expected = after + line - 1
        if change.seq != expected:
            missing = f"change {expected} is missing (line {line} holds change {change.seq})"
            raise StateError(path, f"{missing}: {LOST}; {journal_way_out()}")


LOST = "recorded changes were lost, and their items would be posted again"


def _shortened(size: int, committed: int) -> str:
    """Say that the journal lost its end, and what to do."""
    return (
        f"ends at byte {size}, but changes up to byte {committed} had been recorded (it was cut "
        f"short or replaced by an older copy): {LOST}; put the complete file back, or "
        f"{journal_way_out()}"
    )


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


def journal_way_out() -> str:
    """Tell the operator how to get going again after the journal could not be used."""
    return (
        "move the journal aside to start from the snapshot alone "
        "(changes recorded since the snapshot was written are then lost)"
    )


def _decode_header(path: Path, line: bytes) -> tuple[str, int | None, int | None]:
    """Return the generation and committed length named by the journal's first line."""
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or not isinstance(header.get("generation"), str):
        raise StateError(path, f"line 1 is not a journal header; {journal_way_out()}")
    committed = header.get("committed")
    if committed is None:
        return header["generation"], None, None
    mark_at = line.find(b'"committed":') + len(b'"committed":')
    if type(committed) is not int or line[mark_at:] != encode_mark(committed) + b"}":
        raise StateError(path, f"line 1 has no valid committed length; {journal_way_out()}")
    return header["generation"], committed, mark_at


def _decode_change(value: object) -> Change:
    """Check one parsed journal line, raising ``ValueError`` that says what is wrong."""
    if type(value) is not dict:
        raise ValueError("is not a change")
    get = value.get
    table, put, delete, seq = get("table"), get("put"), get("delete"), get("seq", 0)
    if type(table) is not str or type(delete) is not list or type(seq) is not int:
        raise ValueError("is not a change")
    if put or type(put) is not dict:  # most lines of fields set put nothing
        check_table(table, put)
    for doc_id in delete:
        if type(doc_id) is not str:
            raise ValueError("deletes something that is not a document id")
    fields, each = _decode_set(value["set"]) if "set" in value else ({}, ())
    return _change()(
        {"table": table, "put": put, "delete": tuple(delete), "seq": seq, "fields": fields,
         "each": each}
    )  # fmt: skip


@functools.cache
def _change() -> Callable[[dict[str, Any]], Change]:
    """Return the maker of a Change from a dict of all its fields, filled at once."""
    from poster.filled import whole  # here: a journal of no change makes no class
    from poster.store.change import Change

    return whole(Change)


def _decode_set(value: object) -> tuple[dict[str, object], tuple[str, ...]]:
    """Check the fields a change sets on many documents, and the ids of those documents."""
    fields = value.get("fields") if type(value) is dict else None
    ids = value.get("ids") if type(value) is dict else None
    if type(fields) is not dict or type(ids) is not list:
        raise ValueError("sets fields in a way that is not a change")
    for doc_id in ids:
        if type(doc_id) is not str:
            raise ValueError("sets fields on something that is not a document id")
    return fields, tuple(ids)
