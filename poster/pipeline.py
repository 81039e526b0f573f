"""Run one feed through every stage in order: fetch, parse, select, render, send, record.

This is the only module that calls the stages. A real run and a preview differ only in the
destination and ledger they are given, so what the preview shows is what a run would post.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from poster.config import FeedConfig
from poster.destinations import Destination, Receipt
from poster.errors import (
    DeliveryError,
    DeliveryUncertain,
    DestinationFatal,
    FeedError,
    MessageRejected,
    RenderError,
)
from poster.fetch import fetch
from poster.filters import Decision, select
from poster.ledger import Ledger
from poster.messages import Message
from poster.models import FeedMeta, FetchResult, ParsedFeed
from poster.parse import parse
from poster.render import Renderer

log = logging.getLogger(__name__)

SENT = "sent"
FAILED = "failed"
DEFERRED = "deferred"
UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class Deps:
    """Everything a feed pass needs from outside."""

    client: httpx.Client
    renderer: Renderer
    destination: Destination
    ledger: Ledger
    conditional: bool = True
    limit: int | None = None


@dataclass(frozen=True)
class Outcome:
    """One item's decision and, for wanted items, what became of it."""

    decision: Decision
    message: Message | None = None
    receipt: Receipt | None = None
    delivery: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class FeedReport:
    """What one pass over one feed did."""

    feed: str
    fetch: FetchResult | None = None
    parsed: ParsedFeed | None = None
    outcomes: tuple[Outcome, ...] = ()
    error: FeedError | None = None
    fatal: DestinationFatal | None = field(default=None)

    @property
    def ok(self) -> bool:
        """Tell whether the feed was read and every wanted item went where it should."""
        failed = any(o.delivery in (FAILED, DEFERRED, UNCERTAIN) for o in self.outcomes)
        return self.error is None and self.fatal is None and not failed


class _Seen:
    """Adapt the ledger to the ``in`` test the selection stage uses."""

    def __init__(self, ledger: Ledger, feed: str) -> None:
        self._ledger = ledger
        self._feed = feed

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._ledger.is_known(self._feed, key)


def run_feed(feed: FeedConfig, deps: Deps) -> FeedReport:
    """Run one pass over ``feed``; a feed's failure is reported, never raised."""
    previous = deps.ledger.validators(feed.name) if deps.conditional else None
    try:
        result = fetch(feed, deps.client, previous)
        if result.body is None:
            log.info("feed=%s status=not-modified http=%s", feed.name, result.status)
            deps.ledger.save_validators(feed.name, result.validators)
            return FeedReport(feed.name, fetch=result)
        parsed = parse(result, feed)
    except FeedError as exc:
        log.warning("feed=%s status=error error=%s", feed.name, exc)
        return FeedReport(feed.name, error=exc)
    decisions = select(parsed.items, feed, _Seen(deps.ledger, feed.name))
    if deps.limit is not None:
        decisions = decisions[-deps.limit :] if deps.limit > 0 else []
    meta = FeedMeta(feed.name, parsed.title, parsed.link, feed.url)
    outcomes, fatal = _deliver_all(decisions, feed, meta, deps)
    if fatal is None and not any(o.delivery == DEFERRED for o in outcomes):
        deps.ledger.save_validators(feed.name, result.validators)
    return FeedReport(feed.name, result, parsed, tuple(outcomes), fatal=fatal)


def _deliver_all(
    decisions: list[Decision], feed: FeedConfig, meta: FeedMeta, deps: Deps
) -> tuple[list[Outcome], DestinationFatal | None]:
    """Deliver wanted items in order; after a deferral or a fatal answer, defer the rest."""
    outcomes: list[Outcome] = []
    stop: DeliveryError | None = None
    for decision in decisions:
        if not decision.wanted:
            outcomes.append(Outcome(decision))
        elif stop is not None:
            outcomes.append(Outcome(decision, delivery=DEFERRED, error=str(stop)))
        else:
            outcome, stop = _deliver(decision, feed, meta, deps)
            outcomes.append(outcome)
    return outcomes, stop if isinstance(stop, DestinationFatal) else None


def _deliver(
    decision: Decision, feed: FeedConfig, meta: FeedMeta, deps: Deps
) -> tuple[Outcome, DeliveryError | None]:
    """Render one item and hand it to the destination, recording intent and result.

    Returns the outcome, and the error that should stop this pass's later posts, if any.
    """
    item, where = decision.item, deps.destination.name
    try:
        message = deps.renderer.render(item, feed, meta)
    except RenderError as exc:
        deps.ledger.record_failed(feed.name, item.key, where, str(exc))
        log.error("feed=%s item=%s status=failed error=%s", feed.name, item.key, exc)
        return Outcome(decision, delivery=FAILED, error=str(exc)), None
    deps.ledger.record_pending(feed.name, item.key, where)
    try:
        receipt = deps.destination.send(message)
    except MessageRejected as exc:
        deps.ledger.record_failed(feed.name, item.key, where, str(exc))
        log.error("feed=%s item=%s status=rejected error=%s", feed.name, item.key, exc)
        return Outcome(decision, message, delivery=FAILED, error=str(exc)), None
    except DeliveryUncertain as exc:
        deps.ledger.record_uncertain(feed.name, item.key, where, str(exc))
        log.error("feed=%s item=%s status=uncertain error=%s", feed.name, item.key, exc)
        return Outcome(decision, message, delivery=UNCERTAIN, error=str(exc)), exc
    except DeliveryError as exc:
        deps.ledger.release(feed.name, item.key, where)
        log.warning("feed=%s item=%s status=deferred error=%s", feed.name, item.key, exc)
        return Outcome(decision, message, delivery=DEFERRED, error=str(exc)), exc
    deps.ledger.record_sent(feed.name, item.key, receipt)
    log.info("feed=%s item=%s status=sent type=%s", feed.name, item.key, message.type)
    return Outcome(decision, message, receipt, delivery=SENT), None


def wanted(report: FeedReport) -> Iterator[Outcome]:
    """Yield the outcomes of items that were meant to be posted."""
    return (o for o in report.outcomes if o.decision.wanted)
