"""Record how each feed's read went, and decide whether a feed may be read now.

A good read resets the failure count and enables a re-probed feed again; a failed one backs
off (honouring ``Retry-After`` up to ``[daemon] backoff_max``) and, after ``[daemon]
disable_after`` failures in a row, or at once when the server says the feed is gone (410),
disables the feed until a re-probe succeeds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from poster.backoff import backoff
from poster.config import Config, FeedConfig
from poster.daemon.metrics import Metrics
from poster.daemon.nextread import may_read
from poster.daemon.pushing import poll_due
from poster.errors import GONE_REASON, FeedError, HTTPStatusError, StateError
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
        # A re-probe waits for a Retry-After that asked for longer (see read_failed).
        asked = state.next_attempt is None or now >= state.next_attempt
        return now - last >= config.daemon.reprobe and asked
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
    """Record a failed read, back off, and disable a feed that keeps failing or is gone."""
    daemon = config.daemon
    state = store.feed_state(name)
    asked = _asked(error, daemon.backoff_max)
    failures = state.consecutive_failures + 1
    reason = _disable_reason(error, failures, daemon.disable_after, state.disabled)
    if reason is None and state.disabled is None:
        wait = backoff(failures, cap=daemon.backoff_max, retry_after=asked)
    else:
        wait = max(daemon.reprobe, timedelta(seconds=asked or 0))  # when the re-probe is due
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
    if reason is not None:
        store.set_disabled(name, reason)
        log.error(
            "event=feed-disabled feed=%s reason=%r reprobe_every=%s",
            name,
            reason,
            daemon.reprobe,
        )


def _asked(error: FeedError, longest: timedelta) -> float | None:
    """Return the seconds the server's Retry-After asked for, at most ``longest``."""
    if not isinstance(error, HTTPStatusError) or error.retry_after is None:
        return None
    return min(error.retry_after, longest.total_seconds())


def _disable_reason(
    error: FeedError, failures: int, disable_after: int, disabled: str | None
) -> str | None:
    """Return why the feed is to be disabled now, or None to leave it as it is.

    A 410 Gone is likely permanent (RFC 9110 §15.5.11): the feed is disabled at the first, and
    one disabled for failures is then told as gone.
    """
    if disabled == OPERATOR_DISABLED:
        return None  # a read under way when an operator paused the feed
    if isinstance(error, HTTPStatusError) and error.gone:
        return GONE_REASON if disabled != GONE_REASON else None
    if disabled is None and failures >= disable_after:
        return f"disabled after {failures} failures in a row; last: {error}"
    return None


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
