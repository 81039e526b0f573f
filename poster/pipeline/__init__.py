"""Run feeds through every stage in order: fetch, parse, select, render, send, record.

``stages`` holds each stage and the records between them, ``outbox`` the posts waiting for
each destination, ``pacing`` and ``gatekeeper`` when each may post (``gate``: quiet hours and
a daily cap), and ``passes`` a one-shot pass over feeds.
"""

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
