"""Test that a snapshot written in pieces is byte for byte the one written whole."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from poster.store.files import FORMAT, SNAPSHOT_BATCH, snapshot_chunks, write_atomic


@pytest.mark.parametrize(
    ("tables", "restored"),
    [
        ({}, None),
        ({"feeds": {}}, None),
        ({"feeds": {"1": {"feed": "a"}}, "meta": {}}, "2026-03-02: from memory"),
        (
            {
                "deliveries": {str(n): {"key": f"ключ-{n}", "n": n} for n in range(1, 1203)},
                "seen": {str(n): {"keys": ["x", "y"]} for n in range(1, 501)},
            },
            None,
        ),
    ],
    ids=["no-tables", "empty-table", "small", "several-batches"],
)
def test_a_snapshot_written_in_pieces_is_the_one_written_whole(
    tmp_path: Path, tables: dict[str, dict[str, dict[str, object]]], restored: str | None
) -> None:
    envelope = {"format": FORMAT, "generation": "g2", "previous": "g1", "seq": 7}
    if restored is not None:
        envelope["restored"] = restored
    whole = json.dumps({**envelope, "tables": tables}, ensure_ascii=False, separators=(",", ":"))
    pieces = list(snapshot_chunks("g2", "g1", tables, 7, restored))
    assert b"".join(pieces) == whole.encode("utf-8")
    assert max(map(len, pieces)) < 100 * SNAPSHOT_BATCH
    size = write_atomic(tmp_path / "poster.json", iter(pieces))
    assert (tmp_path / "poster.json").read_bytes() == whole.encode("utf-8")
    assert size == len(whole.encode("utf-8"))


def test_the_table_written_last_is_followed_by_its_feeds_offset_and_checksum() -> None:
    seen = {"1": {"feed": "news", "keys": ["a"]}, "2": {"feed": "blog", "keys": ["ключ"]}}
    tables = {"seen": seen, "deliveries": {"1": {"feed": "news", "key": "b"}}, "meta": {}}
    data = b"".join(snapshot_chunks("g2", "g1", tables, 7, last="seen"))
    value = json.loads(data)
    # A reader that knows nothing of the end reads the same tables, the last one moved.
    assert list(value["tables"]) == ["deliveries", "meta", "seen"]
    assert value["tables"] == tables
    assert value["seen_feeds"] == ["blog", "news"]
    at, stop, end = value["seen_at"], value["seen_end"], data.rindex(b',"seen_at":')
    assert data[:at].endswith(b',"seen":') and json.loads(data[at:stop]) == seen
    assert data[stop:].startswith(b'},"seen_feeds":')
    assert zlib.crc32(data[at:end]) == value["seen_crc"]


def test_without_the_table_written_last_the_snapshot_is_as_before() -> None:
    tables = {"feeds": {"1": {"feed": "a"}}}
    plain = b"".join(snapshot_chunks("g2", "g1", tables, 7))
    assert b"".join(snapshot_chunks("g2", "g1", tables, 7, last="seen")) == plain
