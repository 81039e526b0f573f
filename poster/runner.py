"""Wire the configured channel, state and pipeline together for real runs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from poster.config import Config, FeedConfig
from poster.destinations.viber.client import ViberChannel
from poster.feedclient import FeedClient
from poster.ledger import UNCERTAIN, remembered_sender, sender_key
from poster.media.setup import media_stage
from poster.models import State
from poster.operate import retry_states
from poster.pacing import Pacer
from poster.pipeline import Deps, FeedReport, run_pass
from poster.render import Renderer
from poster.store import Store
from poster.timings import Timings

log = logging.getLogger(__name__)


def open_channel(
    config: Config, token: str, client: httpx.Client, store: Store, *, name: str = "viber"
) -> ViberChannel:
    """Return the channel client, its sender configured, remembered, or looked up once.

    ``name`` is what the ledger records deliveries under, so posts to a sandbox never count as
    posts to the real channel.
    """
    api_url = config.viber.api_url
    sender = config.viber.sender or remembered_sender(store, name, api_url)
    channel = ViberChannel(client, token, api_url=api_url, sender=sender, name=name)
    if sender is None:
        sender = channel.resolve_sender()
        store.set_meta(sender_key(name), sender)
        log.info("event=sender-resolved sender=%s", sender)
    return channel


@dataclass(frozen=True)
class PassSummary:
    """Counts over one pass, for a person to read."""

    feeds: int
    failed_feeds: int
    sent: int
    failed: int
    deferred: int
    uncertain: int

    def __str__(self) -> str:
        return (
            f"{self.feeds} feeds read ({self.failed_feeds} failed); posts: {self.sent} sent, "
            f"{self.failed} failed, {self.deferred} waiting, {self.uncertain} uncertain"
        )


def summarize(reports: Sequence[FeedReport]) -> PassSummary:
    """Count what a pass did."""
    deliveries = [o.delivery for r in reports for o in r.outcomes]
    return PassSummary(
        feeds=len(reports),
        failed_feeds=sum(r.error is not None for r in reports),
        sent=deliveries.count(State.SENT),
        failed=deliveries.count(State.FAILED),
        deferred=deliveries.count(State.DEFERRED),
        uncertain=deliveries.count(State.UNCERTAIN),
    )


def resend_uncertain(store: Store, feeds: Sequence[FeedConfig]) -> int:
    """Release the uncertain posts of feeds whose operators chose at-least-once delivery."""
    released = 0
    for feed in feeds:
        if feed.uncertain == "resend":
            count = retry_states(store, {UNCERTAIN}, feed=feed.name)
            if count:
                log.warning("event=resend-uncertain feed=%s items=%d", feed.name, count)
            released += count
    return released


def run_once(
    config: Config,
    feeds: Sequence[FeedConfig],
    channel: ViberChannel,
    store: Store,
    client: FeedClient,
    timings: Timings | None = None,
) -> list[FeedReport]:
    """Run one paced pass over ``feeds``, posting new items to ``channel``."""
    resend_uncertain(store, feeds)
    viber = config.viber
    deps = Deps(
        client=client,
        renderer=Renderer(config.templates_dir),
        destination=channel,
        ledger=store,
        pacer=Pacer(viber.min_gap.total_seconds(), viber.max_per_pass),
        timings=timings,
        workers=config.daemon.max_fetches,
        itemize=False,
        media=media_stage(config, store.path.parent, client),
    )
    reports = run_pass(feeds, deps)
    record_reads(store, reports)
    return reports


def record_reads(store: Store, reports: Sequence[FeedReport]) -> None:
    """Keep each feed's read result, so `poster status` shows the last success or failure."""
    now = datetime.now(UTC)
    store.record_fetches_ok((report.feed for report in reports if report.error is None), now)
    for report in reports:
        if report.error is not None:
            store.record_fetch_failed(report.feed, now, str(report.error), now)
        elif report.parsed is not None:
            store.set_warning(report.feed, "; ".join(report.parsed.warnings) or None)
