"""Test that records filled at once are the records their ``__init__`` makes."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field, replace

import pytest

from poster.filled import changer, filler


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
