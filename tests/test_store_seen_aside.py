"""Test that a read-only open leaves the held-back items undecoded until something asks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from poster.destinations import Receipt
from poster.errors import StateError
from poster.store import Store
from poster.store.files import StateFiles, encode_snapshot, write_atomic
from poster.store.ledger import SEEN, SENT

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _state(folder: Path) -> Path:
    """Write a compacted state: items held back from two feeds, one post of a third."""
    with Store(folder, clock=lambda: T0) as store:
        store.mark_seen("news", ["a", "b"])
        store.mark_seen("gone", ["c"])
        store.record_pending("blog", "d", "viber")
        store.record_sent("blog", "d", Receipt("viber", "1", T0))
        store.compact()
    return folder / "poster.json"


def _answers(store: Store) -> tuple[object, ...]:
    """Return what the store answers about its held-back items and deliveries."""
    return (
        store.feed_names(),
        store.deliveries(states=[SENT]),
        store.recent(5, states=[SENT]),
        store.deliveries(),
        store.recent(5),
        store.is_known("news", "a"),
        store.is_held_back("gone", "c"),
        store.has_history("news"),
    )


def test_a_read_only_open_decodes_the_held_back_items_once_asked(tmp_path: Path) -> None:
    _state(tmp_path)
    with Store(tmp_path, read_only=True) as reader:
        journal = reader._journal
        assert journal.undecoded_feeds() == {"news", "gone"}
        assert reader.feed_names() == ["blog", "gone", "news"]
        assert [r.key for r in reader.deliveries(states=[SENT])] == ["d"]
        assert journal.undecoded_feeds() is not None
        assert reader.is_known("news", "a") and not reader.is_known("news", "x")
        assert journal.undecoded_feeds() is None
    with Store(tmp_path, read_only=True) as reader, Store(tmp_path) as writer:
        assert _answers(reader) == _answers(writer)
    with Store(tmp_path, read_only=True) as reader:
        assert {r.key for r in reader.deliveries(states=[SEEN])} == {"a", "b", "c"}


def test_held_back_items_left_aside_are_read_from_the_snapshot_the_store_opened(
    tmp_path: Path,
) -> None:
    _state(tmp_path)
    with Store(tmp_path, read_only=True) as reader:
        with Store(tmp_path, clock=lambda: T0) as writer:
            writer.mark_seen("news", ["e"])
            writer.compact()
        assert reader.is_held_back("news", "a") and not reader.is_held_back("news", "e")
    with Store(tmp_path, read_only=True) as reader:
        assert reader.is_held_back("news", "e")


def test_journal_lines_adding_held_back_items_wait_aside_until_asked(tmp_path: Path) -> None:
    _state(tmp_path)
    with Store(tmp_path, clock=lambda: T0) as writer:
        writer.mark_seen("new", ["e"])
        writer.mark_seen("news", ["f"])
    with Store(tmp_path, read_only=True) as reader:
        journal = reader._journal
        assert journal.undecoded_feeds() == {"gone", "new", "news"}
        assert reader.feed_names() == ["blog", "gone", "new", "news"]
        assert reader.is_held_back("news", "f") and reader.is_held_back("news", "a")
        assert reader.is_held_back("new", "e") and journal.undecoded_feeds() is None
    with Store(tmp_path, read_only=True) as reader, Store(tmp_path) as writer:
        assert _answers(reader) == _answers(writer)
    with Store(tmp_path, read_only=True) as reader:
        keys = {r.key for r in reader.deliveries(states=[SEEN])}
        assert keys == {"a", "b", "c", "e", "f"}


@pytest.mark.parametrize(
    ("listed", "left"), [(["a"], {"a", "c"}), ([], {"c"})], ids=["some", "all"]
)
def test_a_journal_line_dropping_held_back_items_decodes_them_before_it_applies(
    tmp_path: Path, listed: list[str], left: set[str]
) -> None:
    _state(tmp_path)
    with Store(tmp_path, clock=lambda: T0) as writer:
        writer.mark_seen("new", ["e"])
        assert writer.prune(datetime(2030, 1, 1, tzinfo=UTC), {"news": listed, "new": []}) > 0
    with Store(tmp_path, read_only=True) as reader:
        assert reader._journal.undecoded_feeds() is None
        assert reader.feed_names() == sorted(["blog", "gone", *(["news"] if listed else [])])
        assert {r.key for r in reader.deliveries(states=[SEEN])} == left
    with Store(tmp_path, read_only=True) as reader, Store(tmp_path) as writer:
        assert _answers(reader) == _answers(writer)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ((b'"keys":', b'"kexs":'), "seen record 1 has no list of text 'keys'"),
        ((b'"feed":"news","at"', b'"feed":"news"]"at"'), "is not valid JSON"),
    ],
    ids=["bad-document", "bad-json"],
)
def test_a_changed_byte_among_the_held_back_items_is_found_at_once(
    tmp_path: Path, change: tuple[bytes, bytes], problem: str
) -> None:
    snapshot = _state(tmp_path)
    data = snapshot.read_bytes()
    at = json.loads(data)["seen_at"]
    old, new = change
    snapshot.write_bytes(data[:at] + data[at:].replace(old, new, 1))
    with pytest.raises(StateError, match=problem):
        Store(tmp_path, read_only=True)


@pytest.mark.parametrize(
    "end",
    [
        b',"seen_at":1,"seen_end":2,"seen_crc":0}',
        b',"seen_at":"x","seen_end":2,"seen_crc":0}',
        b',"seen_at":12,"seen_end":2,"seen_crc":0}',
        b',"seen_at":1,"seen_crc":0}',
    ],
)
def test_an_end_that_does_not_fit_has_the_whole_snapshot_decoded(
    tmp_path: Path, end: bytes
) -> None:
    tables = {"seen": {"1": {"feed": "news", "at": T0.isoformat(), "keys": ["a"]}}}
    data = encode_snapshot("g", None, tables)
    write_atomic(StateFiles(tmp_path / "poster.json").snapshot, data[:-1] + end)
    with Store(tmp_path, read_only=True) as reader:
        assert reader._journal.undecoded_feeds() is None
        assert reader.is_held_back("news", "a")


def test_a_snapshot_written_before_the_table_went_last_opens_read_only(tmp_path: Path) -> None:
    tables = {"seen": {"1": {"feed": "news", "at": T0.isoformat(), "keys": ["a"]}}, "meta": {}}
    write_atomic(tmp_path / "poster.json", encode_snapshot("g", None, tables))
    with Store(tmp_path, read_only=True) as reader:
        assert reader.feed_names() == ["news"] and reader.is_held_back("news", "a")
