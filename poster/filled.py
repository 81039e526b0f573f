"""Make frozen records in bulk: all fields at once instead of a frozen setattr per field.

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__``;
for the records made once per feed (its configuration, its stored state, its status line)
that is most of their cost. Filling the instance's ``__dict__`` in one update gives the same
record, as long as the class has no ``__post_init__`` that filling would skip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from poster.frozen import fields, replace

Record = TypeVar("Record")


def filler(cls: type[Record]) -> Callable[[Mapping[str, Any]], Record]:
    """Return a maker of ``cls(**values)`` filling the fields at once when ``values`` names each."""
    names = frozenset(f.name for f in fields(cls))
    if hasattr(cls, "__post_init__"):
        return lambda values: cls(**values)

    def make(values: Mapping[str, Any]) -> Record:
        if values.keys() != names:
            return cls(**values)
        made = object.__new__(cls)
        made.__dict__.update(values)
        return made

    return make


def whole(cls: type[Record]) -> Callable[[dict[str, Any]], Record]:
    """Return a maker of ``cls(**values)`` for a new dict naming every field, kept as it is.

    The record takes ``values`` as its ``__dict__``, without checking or copying it, so the
    caller writes a dict of every field for each record and keeps no hold on it (a test holds
    the caller's names to the fields): status makes two such records for each of its feeds.
    """
    if hasattr(cls, "__post_init__"):
        return lambda values: cls(**values)
    new, fill = object.__new__, object.__setattr__

    def make(values: dict[str, Any]) -> Record:
        made = new(cls)
        fill(made, "__dict__", values)
        return made

    return make


def changer(cls: type[Record]) -> Callable[[Record, Mapping[str, Any]], Record]:
    """Return a maker of ``replace(record, **changes)`` for records of ``cls``, filled at once.

    The copy takes the record's fields and then ``changes`` in one update each, when
    ``changes`` names only fields ``__init__`` takes; otherwise, or for a class with a
    ``__post_init__``, ``replace`` makes it (and refuses what it refuses).
    """
    names = frozenset(f.name for f in fields(cls) if f.init)
    if hasattr(cls, "__post_init__"):
        return lambda record, changes: replace(record, **changes)  # type: ignore[type-var]

    def change(record: Record, changes: Mapping[str, Any]) -> Record:
        if type(record) is not cls or not changes.keys() <= names:
            return replace(record, **changes)  # type: ignore[type-var]
        made = object.__new__(cls)
        made.__dict__.update(record.__dict__)
        made.__dict__.update(changes)
        return made

    return change
