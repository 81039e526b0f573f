"""Test what a feed's failed read does to its next one: Retry-After, 410 Gone and re-probes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from poster.config import Config, FeedConfig
from poster.config.settings import DaemonConfig
from poster.daemon.feedreads import due, read_failed, read_ok
from poster.daemon.metrics import Metrics
from poster.errors import GONE_REASON, FetchError, HTTPStatusError
from poster.fetch.headers import parse_retry_after
from poster.ops.commands import OPERATOR_DISABLED
from poster.ops.status import format_status, status_view
from poster.store import Store

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
FEED = FeedConfig(name="news", url="https://feeds.example.org/news.xml")


def config(**daemon: object) -> Config:
    """Return a configuration of one feed with the daemon settings ``daemon``."""
    settings = DaemonConfig(**daemon)  # type: ignore[arg-type]
    return Config(
        Path("/etc/poster/feeds.toml"), Path("/etc/poster/t"), feeds=(FEED,), daemon=settings
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state", clock=lambda: NOW) as opened:
        yield opened


def failed(store: Store, settings: Config, error: FetchError, now: datetime = NOW) -> None:
    """Record a failed read of the feed at ``now``."""
    read_failed(store, Metrics(), settings, FEED.name, error, now)


def is_due(store: Store, settings: Config, now: datetime) -> bool:
    """Tell whether the feed may be read at ``now``."""
    return due(FEED, settings, store, Metrics(), now=now, push=None, fresh=False)


def answered(status: int, retry_after: str | None = None) -> HTTPStatusError:
    """Return the error of an answer with ``status`` and ``Retry-After``, as fetch makes it."""
    return HTTPStatusError(FEED.name, status, parse_retry_after(retry_after, NOW))


@pytest.mark.parametrize(
    "retry_after",
    [
        "99999999999999",
        "9" * 5000,
        "Fri, 31 Dec 2099 23:59:59 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ],
    ids=["huge-seconds", "past-int-digits", "date-in-2099", "date-in-9999"],
)
def test_a_retry_after_is_honoured_no_longer_than_backoff_max(
    store: Store, retry_after: str
) -> None:
    settings = config(backoff_max=HOUR)
    failed(store, settings, answered(503, retry_after))
    state = store.feed_state(FEED.name)
    assert state.consecutive_failures == 1
    assert state.next_attempt is not None
    # The backoff's jitter may put the wait a fifth over the cap, never more.
    assert HOUR <= state.next_attempt - NOW <= 1.2 * HOUR
    assert not is_due(store, settings, NOW + 59 * MINUTE)
    assert is_due(store, settings, NOW + 1.2 * HOUR)


def test_a_retry_after_within_backoff_max_is_waited_for_in_full(store: Store) -> None:
    settings = config(backoff_max=HOUR)
    failed(store, settings, answered(429, "1800"))
    state = store.feed_state(FEED.name)
    assert state.next_attempt == NOW + 30 * MINUTE


def test_a_gone_feed_is_disabled_at_once_and_re_probed(store: Store) -> None:
    settings = config(reprobe=6 * HOUR)
    failed(store, settings, answered(410))
    state = store.feed_state(FEED.name)
    assert state.consecutive_failures == 1
    assert state.disabled == GONE_REASON
    assert state.last_error is not None and "the server says the feed is gone" in state.last_error
    assert not is_due(store, settings, NOW + 5 * HOUR)
    assert is_due(store, settings, NOW + 6 * HOUR)
    # The server changed its mind: the re-probe's good read enables the feed again.
    read_ok(store, Metrics(), FEED.name, NOW + 6 * HOUR)
    assert store.feed_state(FEED.name).disabled is None


def test_status_tells_why_a_gone_feed_is_disabled(store: Store) -> None:
    settings = config()
    failed(store, settings, answered(410))
    shown = format_status(status_view(settings, store, NOW + MINUTE))
    assert f"why: {GONE_REASON}" in shown
    assert GONE_REASON == (
        "the server says the feed is gone (HTTP 410); fix or remove its url in feeds.toml"
    )


def test_a_feed_disabled_for_failures_that_answers_gone_is_told_as_gone(store: Store) -> None:
    settings = config(disable_after=2)
    failed(store, settings, answered(500))
    failed(store, settings, answered(500))
    assert (store.feed_state(FEED.name).disabled or "").startswith("disabled after 2 failures")
    failed(store, settings, answered(410), NOW + 6 * HOUR)
    assert store.feed_state(FEED.name).disabled == GONE_REASON


def test_a_gone_answer_leaves_an_operators_pause_alone(store: Store) -> None:
    store.set_disabled(FEED.name, OPERATOR_DISABLED)
    failed(store, config(), answered(410))
    assert store.feed_state(FEED.name).disabled == OPERATOR_DISABLED


def test_other_client_errors_still_back_off_before_disabling(store: Store) -> None:
    settings = config(disable_after=3)
    failed(store, settings, answered(404))
    assert store.feed_state(FEED.name).disabled is None


def test_a_re_probe_waits_for_a_retry_after_longer_than_reprobe(store: Store) -> None:
    settings = config(reprobe=10 * MINUTE, backoff_max=HOUR)
    failed(store, settings, answered(410))
    later = NOW + 10 * MINUTE
    assert is_due(store, settings, later)
    failed(store, settings, answered(503, "1800"), later)
    assert not is_due(store, settings, later + 10 * MINUTE)
    assert not is_due(store, settings, later + 29 * MINUTE)
    assert is_due(store, settings, later + 30 * MINUTE)
    # backoff_max caps it as it caps any Retry-After.
    failed(store, settings, answered(503, "99999999999999"), later + 30 * MINUTE)
    assert is_due(store, settings, later + 90 * MINUTE)
    assert store.feed_state(FEED.name).next_attempt == later + 90 * MINUTE


def test_a_re_probe_without_retry_after_waits_for_reprobe(store: Store) -> None:
    settings = config(reprobe=10 * MINUTE, backoff_max=HOUR, disable_after=1)
    failed(store, settings, answered(503))
    assert store.feed_state(FEED.name).next_attempt == NOW + 10 * MINUTE
    assert not is_due(store, settings, NOW + 9 * MINUTE)
    assert is_due(store, settings, NOW + 10 * MINUTE)
