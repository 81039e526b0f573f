"""Check the compact record of the keys a feed lists now, which pruning keeps records by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from poster.daemon.listed import Listed
from poster.store import Store

KEYS = ["https://example.org/a", "urn:uuid:1f0c", "", "tag:example.org,2026:ü"]


@pytest.mark.parametrize("key", KEYS)
def test_every_listed_key_is_found(key: str) -> None:
    assert key in Listed(KEYS)


@pytest.mark.parametrize("key", ["https://example.org/b", "urn:uuid:1f0", "tag", 7])
def test_a_key_not_listed_is_not_found(key: object) -> None:
    assert key not in Listed(KEYS)


def test_nothing_is_found_in_an_empty_list_and_repeats_count_once() -> None:
    assert "a" not in Listed([])
    assert len(Listed(["a", "a", "b"])) == 2


def test_pruning_keeps_the_records_of_listed_keys_only(tmp_path: Path) -> None:
    then = datetime(2026, 1, 1, tzinfo=UTC)
    with Store(tmp_path, clock=lambda: then) as store:
        store.mark_seen("news", ["old", "listed"])
        removed = store.prune(then + timedelta(days=100), {"news": Listed(["listed", "new"])})
        assert removed == 1
        assert not store.is_held_back("news", "old")
        assert store.is_held_back("news", "listed")
