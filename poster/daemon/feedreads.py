"""Record how each feed's read went, and decide whether a feed may be read now.

A good read resets the failure count and enables a re-probed feed again; a failed one backs
off (honouring ``Retry-After``) and, after ``[daemon] disable_after`` failures in a row,
disables the feed until a re-probe succeeds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from poster.backoff import backoff
from poster.config import Config, FeedConfig
from poster.daemon.metrics import Metrics
from poster.daemon.nextread import may_read
from poster.daemon.pushing import poll_due
from poster.errors import FeedError, HTTPStatusError, StateError
from poster.models import NextPoll
from poster.ops.commands import OPERATOR_DISABLED

if TYPE_CHECKING:
    from poster.push.service import PushService
    from poster.store.store import Store

log = logging.getLogger(__name__)


def due(
    feed: FeedConfig,
    config: Config,
    store: Store,
    metrics: Metrics,
    *,
    now: datetime,
    push: PushService | None,
    fresh: bool,
) -> bool:
    """Tell whether a feed may be read now: not backing off, not disabled, or re-probing.

    A read wanted in full (``fresh``: start, reload, an operator's request) does not wait for
    the publisher's hints.
    """
    state = store.feed_state(feed.name)
    if state.disabled is not None:
        if state.disabled == OPERATOR_DISABLED:
            return False
        last = state.last_failure or now
        return now - last >= config.daemon.reprobe
    if not poll_due(push, config, feed, state.last_success):
        return False  # the hub pushes the feed: polls only make up for a lost push
    if state.next_attempt is not None:
        return now >= state.next_attempt
    if feed.hints and not fresh and not may_read(state.next_poll, now):
        metrics.inc("poster_reads_put_off_total", feed=feed.name)
        return False
    return True


def read_ok(
    store: Store, metrics: Metrics, name: str, now: datetime, poll: NextPoll | None = None
) -> None:
    """Record a good read and when to read next; a re-probed feed is enabled again."""
    disabled = store.disabled(name)
    store.record_fetch_ok(name, now, poll)
    metrics.set("poster_feed_failures", 0, feed=name)
    if disabled is not None:
        store.set_disabled(name, None)
        log.warning("event=feed-enabled feed=%s after=re-probe", name)


def read_failed(
    store: Store, metrics: Metrics, config: Config, name: str, error: FeedError, now: datetime
) -> None:
    """Record a failed read, back off, and disable a feed that keeps failing."""
    daemon = config.daemon
    state = store.feed_state(name)
    retry_after = error.retry_after if isinstance(error, HTTPStatusError) else None
    wait = backoff(state.consecutive_failures + 1, cap=daemon.backoff_max, retry_after=retry_after)
    failures = store.record_fetch_failed(name, now, str(error), now + wait)
    metrics.inc("poster_fetches_total", result="error", feed=name)
    metrics.set("poster_feed_failures", failures, feed=name)
    log.warning(
        "event=fetch-failed feed=%s failures=%d retry_in=%ds error=%s",
        name,
        failures,
        wait.total_seconds(),
        error,
    )
    if failures >= daemon.disable_after and state.disabled is None:
        reason = f"disabled after {failures} failures in a row; last: {error}"
        store.set_disabled(name, reason)
        log.error(
            "event=feed-disabled feed=%s reason=%r reprobe_every=%s",
            name,
            reason,
            daemon.reprobe,
        )


class Reads:
    """Let one read of a feed run at a time, polled or pushed, and a stop wait for reads."""

    def __init__(self, stopping: threading.Event) -> None:
        self._stopping = stopping
        self._changed = threading.Condition()
        self._reading = 0
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def feed(self, name: str) -> Iterator[None]:
        """Read one feed at a time, so no item is queued twice; a stop waits for the read."""
        with self._changed:
            self._reading += 1
            lock = self._locks.setdefault(name, threading.Lock())
        try:
            with lock:
                yield
        except StateError:
            # Only a read that outlived the stop's grace finds the state closed; the next start
            # redoes it.
            if not self._stopping.is_set():
                raise
            log.info("event=read-abandoned feed=%s reason=stopping", name)
        finally:
            with self._changed:
                self._reading -= 1
                self._changed.notify_all()

    def wait_idle(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the reads under way to end."""
        with self._changed:
            self._changed.wait_for(lambda: self._reading == 0, timeout)
