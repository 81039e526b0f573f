from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta

import pytest
import regex as regex_module

from poster.config import FeedConfig, Rule
from poster.config.itemrules import compile_rule
from poster.errors import RuleTimeout
from poster.models import Item
from poster.select import FILTERED, HELD, POST, SEEN, oldest_first, select

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def keyword(word: str) -> Rule:
    return compile_rule(word)


def regex(source: str, pattern: str, flags: int = 0) -> Rule:
    return Rule(source, regex_module.compile(pattern, flags))


def feed(**changes: object) -> FeedConfig:
    return FeedConfig(name="news", url="https://example.org/feed", **changes)  # type: ignore[arg-type]


ROADS = Item(key="a", title="Road works on Bridge Street", tags=("traffic",))
COUNCIL = Item(key="b", title="Budget", summary="The City Council approved it")
AD = Item(key="c", title="Winter tyres", content_text="A sponsored post", tags=("partner",))
CYRILLIC = Item(key="d", title="Отключение воды на улице Ленина")
COUNCILLOR = Item(key="e", title="A councillor resigns")


@pytest.mark.parametrize(
    ("item", "rules", "action", "reason"),
    [
        pytest.param(ROADS, {}, POST, "", id="no-rules-posts"),
        pytest.param(
            AD,
            {"exclude": (keyword("sponsored"),)},
            FILTERED,
            "excluded by 'sponsored' (exclude[0])",
            id="exclude-in-content",
        ),
        pytest.param(
            ROADS,
            {"exclude": (keyword("traffic"),)},
            FILTERED,
            "excluded by 'traffic' (exclude[0])",
            id="exclude-in-tags",
        ),
        pytest.param(
            COUNCIL, {"include": (keyword("council"),)}, POST, "", id="include-in-summary-any-case"
        ),
        pytest.param(
            COUNCILLOR,
            {"include": (keyword("council"),)},
            FILTERED,
            "matches no include rule",
            id="keyword-is-whole-word",
        ),
        pytest.param(
            ROADS,
            {"include": (regex("/road ?works/i", "road ?works", re.I),)},
            POST,
            "",
            id="include-regex",
        ),
        pytest.param(CYRILLIC, {"include": (keyword("воды"),)}, POST, "", id="cyrillic-keyword"),
        pytest.param(
            AD,
            {"include": (keyword("tyres"),), "exclude": (keyword("sponsored"),)},
            FILTERED,
            "excluded by 'sponsored' (exclude[0])",
            id="exclude-beats-include",
        ),
    ],
)
def test_rules(item: Item, rules: dict[str, tuple[Rule, ...]], action: str, reason: str) -> None:
    [decision] = select([item], feed(**rules), seen=set())
    assert (decision.action, decision.reason) == (action, reason)


def test_seen_items_are_not_posted_again() -> None:
    decisions = select([ROADS, COUNCIL], feed(), seen={"a"})
    assert {d.item.key: d.action for d in decisions} == {"a": SEEN, "b": POST}


def test_items_held_back_before_are_never_called_posted() -> None:
    decisions = select([ROADS, COUNCIL, AD], feed(), seen={"a", "b"}, held={"a"})
    assert [(d.item.key, d.action) for d in decisions] == [("c", POST), ("b", SEEN), ("a", HELD)]
    assert "first read" in decisions[2].reason


DATED = [Item(key=f"i{n}", title=f"Item {n}", published=T0 + timedelta(hours=n)) for n in range(5)]
SPONSORED = Item(key="ad", title="Sponsored tyres", published=T0 + timedelta(hours=3, minutes=30))
ONLY_ODD = (regex("/Item [13]/", "Item [13]"),)


@pytest.mark.parametrize(
    ("backlog", "rules", "posted", "filtered"),
    [
        pytest.param(0, {}, [], [], id="zero"),
        pytest.param(2, {}, ["ad", "i4"], [], id="newest-two"),
        pytest.param(None, {}, ["i0", "i1", "i2", "i3", "ad", "i4"], [], id="all"),
        pytest.param(3, {"exclude": (keyword("sponsored"),)}, ["i2", "i3", "i4"], ["ad"], id="ex"),
        pytest.param(1, {"include": ONLY_ODD}, ["i3"], ["i0", "i2", "ad", "i4"], id="in"),
        pytest.param(
            None, {"include": ONLY_ODD}, ["i1", "i3"], ["i0", "i2", "ad", "i4"], id="in-all"
        ),
    ],
)
def test_a_first_read_posts_the_newest_items_the_rules_let_through(
    backlog: int | None, rules: dict[str, tuple[Rule, ...]], posted: list[str], filtered: list[str]
) -> None:
    decisions = select([*DATED, SPONSORED], feed(backlog=backlog, **rules), set(), first_read=True)
    by_action = {
        a: [d.item.key for d in decisions if d.action == a] for a in (POST, FILTERED, HELD)
    }
    held = [d.item.key for d in decisions if d.item.key not in posted + filtered]
    assert by_action == {POST: posted, FILTERED: filtered, HELD: held}
    reasons = {d.reason for d in decisions if d.action == HELD}
    assert reasons <= {f"first read of the feed: backlog = {backlog}"}


@pytest.mark.parametrize(
    ("backlog", "carried", "posted", "rules"),
    [
        pytest.param(0, {"i0", "i1", "i2"}, ["i3", "ad", "i4"], {}, id="newer-than-all-carried"),
        pytest.param(0, {"i0", "i1", "i2", "i3", "ad", "i4"}, [], {}, id="none-newer"),
        pytest.param(0, {"i2"}, [], {}, id="one-shared-item-not-a-rename"),
        pytest.param(1, {"i2"}, ["i4"], {}, id="the-backlog-decides-then"),
        pytest.param(0, {"i0", "i1", "i4"}, [], {}, id="an-unknown-item-between"),
        pytest.param(0, set(), [], {}, id="nothing-carried"),
        # The rules filtered i0 and i2 out before as now: no read recorded them.
        pytest.param(0, {"i1"}, ["i3"], {"include": ONLY_ODD}, id="filtered-items-between"),
    ],
)
def test_a_first_read_after_a_rename_posts_what_is_newer_than_the_oldest_it_carried(
    backlog: int, carried: set[str], posted: list[str], rules: dict[str, tuple[Rule, ...]]
) -> None:
    items = [*DATED, SPONSORED]
    chosen = feed(backlog=backlog, **rules)
    decisions = select(items, chosen, carried, first_read=True, carried=carried)
    assert [d.item.key for d in decisions if d.action == POST] == posted
    assert {d.item.key for d in decisions if d.action == SEEN} == carried


def test_a_later_read_ignores_the_backlog() -> None:
    decisions = select(DATED, feed(backlog=0), seen=set())
    assert all(d.action == POST for d in decisions)


def test_order_by_date_oldest_first() -> None:
    items = [
        Item(key="new", published=T0 + timedelta(hours=2)),
        Item(key="old", updated=T0),
        Item(key="mid", published=T0 + timedelta(hours=1)),
    ]
    assert [i.key for i in oldest_first(items)] == ["old", "mid", "new"]


def test_order_without_dates_reverses_document_order() -> None:
    items = [Item(key="newest", published=T0), Item(key="middle"), Item(key="oldest")]
    assert [i.key for i in oldest_first(items)] == ["oldest", "middle", "newest"]


def test_equal_dates_keep_feed_convention() -> None:
    items = [Item(key="second", published=T0), Item(key="first", published=T0)]
    assert [i.key for i in oldest_first(items)] == ["first", "second"]


def test_a_rule_that_takes_too_long_on_an_item_stops_the_feed_naming_both() -> None:
    slow = compile_rule("/(a|aa)+$/")
    items = [Item(key="k1", title="a" * 60 + "!")]
    with pytest.raises(RuleTimeout) as caught:
        select(items, feed(include=(keyword("news"), slow)), seen=set())
    assert str(caught.value) == (
        "feed 'news': rule '/(a|aa)+$/' (include[1]) took over 0.25 s on item 'k1'; its items "
        "wait until it is rewritten without repeats inside repeats, such as (a|aa)+ or (a+)+"
    )
    with pytest.raises(RuleTimeout, match=r"\(exclude\[0\]\)"):
        select(items, feed(exclude=(slow,)), seen=set())


@pytest.mark.parametrize("source", ["/[[:alpha:]]/", "/[a&&b]/", "/[a||b]/"])
def test_a_rule_the_parser_warns_about_compiles_without_printing_the_warning(
    source: str,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rule = compile_rule(source)
    assert caught == [] and rule.source == source
