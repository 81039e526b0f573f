"""Keep the items a pass leaves waiting, whole, until they are posted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from poster.items import Item, Media
from poster.pipeline.waitlist import (
    WAITING_MAX,
    add_waiting,
    item_doc,
    item_of,
    keep_waiting,
    settle_waiting,
    waiting_items,
)
from poster.store.ledger import MemoryLedger


def full_item(key: str = "k1", hour: int = 7) -> Item:
    return Item(
        key,
        "Bridge reopens",
        "https://news.example.org/bridge",
        content_html="<p>The <b>bridge</b> reopens.</p>",
        content_text="The bridge reopens.",
        summary="The bridge reopens.",
        author="City desk",
        published=datetime(2026, 11, 23, hour, 0, tzinfo=UTC),
        updated=None,
        tags=("city", "roads"),
        image=Media("https://news.example.org/b.jpg", "image/jpeg", 2048, width=800, height=600),
        thumbnail=None,
        enclosures=(Media("https://news.example.org/b.mp4", "video/mp4", 9000, duration=12),),
    )


def test_an_item_is_kept_with_every_field_a_template_reads() -> None:
    item = full_item()
    again = item_of(item_doc(item))
    assert again == item
    assert (again.content_html, again.content_text, again.summary) == (
        item.content_html,
        item.content_text,
        item.summary,
    )


def test_only_the_items_the_feed_no_longer_lists_come_back_and_an_empty_list_is_forgotten() -> None:
    ledger = MemoryLedger()
    keep_waiting(ledger, "news", [full_item("k2", 8), full_item("k1", 7)])
    assert [item.key for item in waiting_items(ledger, "news", ["k2"])] == ["k1"]
    assert [item.key for item in waiting_items(ledger, "other", [])] == []
    keep_waiting(ledger, "news", [])
    assert waiting_items(ledger, "news", []) == [] and ledger.get_meta("waiting in news") == ""


def test_a_feed_left_waiting_long_keeps_its_newest_items(caplog: pytest.LogCaptureFixture) -> None:
    ledger = MemoryLedger()
    items = [full_item(f"k{n}", n % 24) for n in range(WAITING_MAX + 3)]
    keep_waiting(ledger, "news", items)
    assert len(waiting_items(ledger, "news", [])) == WAITING_MAX
    assert "status=waiting-dropped count=3" in caplog.text
    caplog.clear()
    keep_waiting(ledger, "news", items, in_lanes=True)  # the lanes still post them all
    assert len(waiting_items(ledger, "news", [])) == WAITING_MAX and caplog.text == ""


def test_an_item_kept_twice_is_kept_once_as_last_given() -> None:
    ledger = MemoryLedger()
    first, again = full_item("k1"), replace(full_item("k1"), title="Bridge reopens at noon")
    keep_waiting(ledger, "news", [first, full_item("k2", 8), again])
    kept = waiting_items(ledger, "news", [])
    assert [(item.key, item.title) for item in kept] == [
        ("k1", "Bridge reopens at noon"),
        ("k2", "Bridge reopens"),
    ]


def test_an_entry_that_cannot_be_read_gives_nothing_back() -> None:
    ledger = MemoryLedger()
    ledger.set_meta("waiting in news", "[{not json")
    assert waiting_items(ledger, "news", []) == []


def test_items_added_to_those_waiting_are_written_only_when_one_is_new() -> None:
    ledger = MemoryLedger()
    add_waiting(ledger, "news", [full_item("k1", 7)])
    written = ledger.get_meta("waiting in news")
    add_waiting(ledger, "news", [replace(full_item("k1", 7), title="Changed since")])
    assert ledger.get_meta("waiting in news") == written  # nothing new: no write
    add_waiting(ledger, "news", [full_item("k2", 8)])
    assert [item.key for item in waiting_items(ledger, "news", [])] == ["k1", "k2"]


def test_a_batch_settling_the_shared_list_takes_out_only_what_it_resolved() -> None:
    ledger = MemoryLedger()
    keep_waiting(ledger, "news", [full_item("k1", 7), full_item("k2", 8)])  # a reload took them
    settle_waiting(ledger, "news", set(), [])  # a batch that found both busy resolved nothing
    assert [item.key for item in waiting_items(ledger, "news", [])] == ["k1", "k2"]
    settle_waiting(ledger, "news", {"k1"}, [full_item("k3", 9)])  # posted k1, k3 waits
    assert [item.key for item in waiting_items(ledger, "news", [])] == ["k2", "k3"]
