"""Test that every record reads from ``poster.models``, wherever its class is defined."""

from __future__ import annotations

import importlib

import pytest

from poster import models

MOVED = {
    "Body": "poster.items",
    "FeedMeta": "poster.items",
    "Item": "poster.items",
    "Media": "poster.items",
    "Post": "poster.items",
    "FeedHints": "poster.reads",
    "FetchResult": "poster.reads",
    "Freshness": "poster.reads",
    "ParsedFeed": "poster.reads",
}


@pytest.mark.parametrize(("name", "home"), MOVED.items(), ids=list(MOVED))
def test_a_record_defined_elsewhere_reads_from_models_as_its_own(name: str, home: str) -> None:
    own = getattr(importlib.import_module(home), name)
    assert getattr(models, name) is own
    assert own.__module__ == home


def test_the_records_import_by_name_from_models() -> None:
    from poster.models import Contact, FetchResult, Fixed, Item, Post, Validators

    assert (FetchResult.__name__, Item.__name__, Post.__name__) == ("FetchResult", "Item", "Post")
    assert (Validators.__module__, Contact.__module__) == ("poster.reads", "poster.fixed")
    assert Contact in Fixed.__args__


def test_a_name_models_does_not_have_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = models.Nothing  # type: ignore[attr-defined]
    assert not hasattr(models, "Nothing")
