"""Run feeds through every stage in order: fetch, parse, select, render, send, record.

``stages`` holds each stage and the records between them, ``outbox`` the posts waiting for
each destination, ``pacing`` and ``gatekeeper`` when each may post (``gate``: quiet hours and
a daily cap), and ``passes`` a one-shot pass over feeds. The names below load with their
module on first use, so a command that needs only ``gatekeeper`` never loads the fetch, parse
and render stages behind them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poster.pipeline.passes import run_feed, run_pass
    from poster.pipeline.stages import (
        DEFERRED,
        FAILED,
        SENT,
        UNCERTAIN,
        Batch,
        Deps,
        FeedReport,
        Outcome,
        collect,
        collect_pushed,
        deliver,
        finish,
    )

_HOMES = {"run_feed": "passes", "run_pass": "passes"}

__all__ = [
    "DEFERRED",
    "FAILED",
    "SENT",
    "UNCERTAIN",
    "Batch",
    "Deps",
    "FeedReport",
    "Outcome",
    "collect",
    "collect_pushed",
    "deliver",
    "finish",
    "run_feed",
    "run_pass",
]


def __getattr__(name: str) -> Any:
    """Return one of the names above from its module, importing it on first use."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_HOMES.get(name, 'stages')}")
    return getattr(module, name)
