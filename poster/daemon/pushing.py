"""Wire WebSub push into the daemon: the service, its listener callbacks and the safety poll."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from poster.config import Config, FeedConfig
from poster.daemon.listener import WebhookReceiver
from poster.fetch.client import env_client
from poster.push.handoff import Deliver
from poster.push.service import PREFIX, PushService
from poster.store import Store

log = logging.getLogger(__name__)


def start_push(
    config: Config,
    store: Store,
    listener: WebhookReceiver | None,
    *,
    wanted: Callable[[str], bool],
    deliver: Deliver,
    clock: Callable[[], datetime],
) -> PushService | None:
    """Start subscribing feeds to their hubs when ``[webhook] public_url`` is set."""
    public_url = config.webhook.public_url
    if public_url is None or listener is None:
        return None
    service = PushService(
        store, env_client(), public_url, wanted=wanted, deliver=deliver, clock=clock
    )
    # Bodies are capped again per feed; over the largest cap the service acknowledges and
    # ignores them (WebSub §7 wants a 2xx), and the feed's poll reads what they held.
    largest = max((feed.max_bytes for feed in config.feeds), default=FeedConfig.max_bytes)
    listener.add_callbacks(PREFIX, service.handle, largest, oversized=True, knows=service.knows)
    service.start()
    log.info("event=websub-ready callbacks=%s", public_url.rstrip("/") + PREFIX)
    return service


def poll_due(
    push: PushService | None, config: Config, feed: FeedConfig, last_read: datetime | None
) -> bool:
    """Tell whether a feed is polled now: always, or every ``safety_poll`` while pushed."""
    if push is None:
        return True
    return push.poll_due(feed.name, last_read, safety_poll(config, feed))


def safety_poll(config: Config, feed: FeedConfig) -> timedelta:
    """Return how often a feed whose hub pushes it is still polled: its interval or push_poll."""
    interval = feed.schedule.interval or timedelta(0)
    return max(interval, config.daemon.push_poll)
