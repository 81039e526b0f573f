"""Let a module name what other modules define, importing each on first use (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def names_from(module: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """Return ``module``'s ``__getattr__``: each name of ``homes`` is read from its home module."""

    def __getattr__(name: str) -> object:
        if name not in homes:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return getattr(importlib.import_module(homes[name]), name)

    return __getattr__
