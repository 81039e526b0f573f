"""Run feeds through every stage in order: fetch, parse, select, render, send, record.

``stages`` holds each stage and the records between them.
"""

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
    run_feed,
    run_pass,
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
