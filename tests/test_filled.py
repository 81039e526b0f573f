"""Test that records filled at once are the records their ``__init__`` makes."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from poster.filled import changer, filler, whole
from poster.ops.commands import OPERATOR_DISABLED, paused_key
from poster.ops.status import FeedStatus, _feed_status
from poster.store import FeedState, Store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Pair:
    name: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Checked:
    name: str
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seen.append(self.name)


def test_a_record_filled_at_once_equals_the_one_init_makes() -> None:
    made = filler(Pair)({"name": "news", "tags": ("a",)})
    assert made == Pair("news", ("a",))
    assert type(made) is Pair
    assert hash(made) == hash(Pair("news", ("a",)))
    with pytest.raises(FrozenInstanceError):
        made.name = "other"  # type: ignore[misc]


def test_values_missing_a_field_go_through_init_for_its_default() -> None:
    assert filler(Pair)({"name": "news"}) == Pair("news")


def test_a_class_with_post_init_is_always_made_by_init() -> None:
    made = filler(Checked)({"name": "news", "seen": []})
    assert made.seen == ["news"]


def test_an_unknown_field_is_refused_as_init_refuses_it() -> None:
    with pytest.raises(TypeError):
        filler(Pair)({"name": "news", "tags": (), "other": 1})


def test_a_record_changed_at_once_equals_the_one_replace_makes() -> None:
    before = Pair("news", ("a",))
    made = changer(Pair)(before, {"name": "blog"})
    assert made == replace(before, name="blog") and type(made) is Pair
    assert before == Pair("news", ("a",))
    with pytest.raises(FrozenInstanceError):
        made.name = "other"  # type: ignore[misc]


def test_a_change_naming_no_field_or_a_post_init_class_goes_through_replace() -> None:
    with pytest.raises(TypeError):
        changer(Pair)(Pair("news"), {"other": 1})
    made = changer(Checked)(Checked("news"), {"name": "blog", "seen": []})
    assert made.seen == ["blog"]


def test_a_record_made_whole_equals_the_one_init_makes_and_keeps_the_dict() -> None:
    values = {"name": "news", "tags": ("a",)}
    made = whole(Pair)(values)
    assert made == Pair("news", ("a",)) and type(made) is Pair
    assert hash(made) == hash(Pair("news", ("a",)))
    assert vars(made) is values
    with pytest.raises(FrozenInstanceError):
        made.name = "other"  # type: ignore[misc]


def test_a_class_with_post_init_is_made_whole_by_init() -> None:
    assert whole(Checked)({"name": "news", "seen": []}).seen == ["news"]


def test_the_records_status_makes_whole_name_every_field(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.record_fetch_failed("news", T0, "HTTP 500", T0)
        store.set_disabled("news", OPERATOR_DISABLED)
        store.set_meta(paused_key("news"), T0.isoformat())
        state = store.feed_state("news")
        status = _feed_status(store, state, True, True, None, False)
    assert vars(state).keys() == {f.name for f in fields(FeedState)}
    assert state == FeedState(**vars(state))
    assert vars(status).keys() == {f.name for f in fields(FeedStatus)}
    assert status == FeedStatus(**vars(status)) and status.paused_at == T0
