"""Test when things happen: feed triggers, backoff after failures, and what a reload changes."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from poster.backoff import BACKOFF_BASE, backoff
from poster.config import Config, FeedConfig, Schedule
from poster.config.settings import DaemonConfig, DestinationConfig, ViberConfig, WebhookConfig
from poster.daemon import schedule as schedule_module
from poster.daemon.schedule import (
    ConfigDiff,
    after_read,
    diff,
    first_poll,
    next_runs,
    slot,
    trigger_for,
)

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
NOW = datetime(2026, 3, 2, 8, 10, 0, tzinfo=UTC)


def middle() -> float:
    """Return the random draw that leaves a wait unjittered (0.8 + 0.4 * 0.5 = 1)."""
    return 0.5


# Backoff


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, MINUTE), (1, MINUTE), (2, 2 * MINUTE), (3, 4 * MINUTE), (5, 16 * MINUTE)],
    ids=["none-yet", "first", "second", "third", "fifth"],
)
def test_backoff_doubles_with_each_failure_in_a_row(failures: int, expected: timedelta) -> None:
    assert backoff(failures, cap=24 * HOUR, rand=middle) == expected


@pytest.mark.parametrize(
    ("failures", "cap", "expected"),
    [(7, HOUR, HOUR), (8, 6 * HOUR, 2 * HOUR + 8 * MINUTE), (10_000, 6 * HOUR, 6 * HOUR)],
    ids=["capped", "under-the-cap", "huge-count-no-overflow"],
)
def test_backoff_never_exceeds_the_cap_before_jitter(
    failures: int, cap: timedelta, expected: timedelta
) -> None:
    assert backoff(failures, cap=cap, rand=middle) == expected


@pytest.mark.parametrize(
    ("draw", "factor"),
    [(0.0, 0.8), (0.25, 0.9), (0.999999, 1.2)],
    ids=["lowest", "quarter", "highest"],
)
def test_backoff_jitter_spreads_the_wait_by_twenty_percent(draw: float, factor: float) -> None:
    wait = backoff(3, cap=HOUR, rand=lambda: draw)
    assert wait.total_seconds() == pytest.approx(4 * 60 * factor, abs=0.001)


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999999])
def test_backoff_with_its_jitter_never_exceeds_the_cap(draw: float) -> None:
    assert backoff(20, cap=20 * SECOND, rand=lambda: draw) <= 20 * SECOND
    assert backoff(20, cap=20 * SECOND, rand=lambda: draw) >= 16 * SECOND


def test_backoff_jitter_stays_within_bounds_for_real_random_draws() -> None:
    draws = random.Random(7)
    waits = [backoff(2, cap=HOUR, rand=draws.random) for _ in range(500)]
    assert all(1.6 * MINUTE <= wait <= 2.4 * MINUTE for wait in waits)
    # The draws really spread: not one wait repeated 500 times.
    assert len(set(waits)) > 400


@pytest.mark.parametrize(
    ("retry_after", "cap", "expected"),
    [
        (300.0, HOUR, 5 * MINUTE),
        (30.0, HOUR, 2 * MINUTE),
        (7200.0, HOUR, 2 * HOUR),
        (0.0, HOUR, 2 * MINUTE),
        (None, HOUR, 2 * MINUTE),
    ],
    ids=["longer-than-backoff", "shorter-than-backoff", "beyond-the-cap", "zero", "absent"],
)
def test_retry_after_is_a_floor_under_the_backoff(
    retry_after: float | None, cap: timedelta, expected: timedelta
) -> None:
    wait = backoff(2, cap=cap, retry_after=retry_after, rand=middle)
    assert wait == expected


@pytest.mark.parametrize("retry_after", [1e14, 1e300, float(2**40)])
def test_a_huge_retry_after_is_read_as_two_to_the_31_seconds(retry_after: float) -> None:
    # RFC 9111 §1.2.2; a server's number must never overflow the sum of times.
    assert backoff(2, cap=HOUR, retry_after=retry_after, rand=middle) == timedelta(seconds=2**31)


def test_backoff_base_can_be_set_for_the_channel() -> None:
    wait = backoff(3, base=timedelta(seconds=5), cap=MINUTE * 15, rand=middle)
    assert wait == timedelta(seconds=20)
    assert BACKOFF_BASE == MINUTE


# Triggers


def feed(name: str = "news", schedule: Schedule | None = None) -> FeedConfig:
    return FeedConfig(name, f"https://{name}.example.org/feed.xml", schedule=schedule or Schedule())


@pytest.mark.parametrize(
    ("schedule", "seconds", "jitter"),
    [
        (Schedule(interval=timedelta(seconds=1)), 1, None),
        (Schedule(interval=timedelta(minutes=30), jitter=timedelta(seconds=45)), 1800, 45),
        (Schedule(interval=None), 900, None),
    ],
    ids=["one-second", "with-jitter", "no-interval-means-15-minutes"],
)
def test_an_interval_feed_gets_an_interval_trigger(
    schedule: Schedule, seconds: int, jitter: int | None
) -> None:
    trigger = trigger_for(feed(schedule=schedule))
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval == timedelta(seconds=seconds)
    assert trigger.jitter == jitter
    first = trigger.get_next_fire_time(None, NOW)
    after = trigger.get_next_fire_time(first, first)
    if jitter is None:
        assert after - first == timedelta(seconds=seconds)
    else:
        assert timedelta(seconds=seconds) <= after - first <= timedelta(seconds=seconds + jitter)


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("30 6 * * *", datetime(2026, 3, 3, 6, 30, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2026, 3, 2, 8, 15, tzinfo=UTC)),
        ("0 9 * * mon-fri", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ("0 12 * * sat", datetime(2026, 3, 7, 12, 0, tzinfo=UTC)),
    ],
    ids=["daily-already-past", "quarter-hours", "weekdays", "saturdays"],
)
def test_a_cron_feed_fires_at_its_times_in_utc(cron: str, expected: datetime) -> None:
    # The interval would say otherwise; a cron expression wins.
    schedule = Schedule(interval=timedelta(seconds=1), cron=cron, timezone="UTC")
    trigger = trigger_for(feed(schedule=schedule))
    assert isinstance(trigger, CronTrigger)
    assert trigger.get_next_fire_time(None, NOW) == expected


@pytest.mark.parametrize(
    ("timezone", "local", "expected"),
    [
        ("Asia/Tokyo", "UTC", datetime(2026, 3, 3, 0, 0, tzinfo=UTC)),
        (None, "America/New_York", datetime(2026, 3, 2, 14, 0, tzinfo=UTC)),
        ("UTC", "America/New_York", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
    ],
    ids=["own-zone", "machine-zone-by-default", "own-zone-over-machine"],
)
def test_a_cron_feed_reads_its_times_in_its_zone(
    monkeypatch: pytest.MonkeyPatch, timezone: str | None, local: str, expected: datetime
) -> None:
    monkeypatch.setattr(schedule_module, "get_localzone", lambda: ZoneInfo(local))
    news = feed(schedule=Schedule(interval=None, cron="0 9 * * *", timezone=timezone))
    assert trigger_for(news).get_next_fire_time(None, NOW) == expected


def test_next_runs_lists_the_coming_times_in_the_feed_zone() -> None:
    news = feed(schedule=Schedule(interval=None, cron="0 7-22/2 * * *", timezone="Europe/Minsk"))
    runs = next_runs(news, NOW, 4)
    assert [run.strftime("%d %H:%M %z") for run in runs] == [
        "02 13:00 +0300",
        "02 15:00 +0300",
        "02 17:00 +0300",
        "02 19:00 +0300",
    ]


# Reload differences


def config(
    *feeds: FeedConfig,
    viber: ViberConfig | None = None,
    webhook: WebhookConfig | None = None,
    daemon: DaemonConfig | None = None,
) -> Config:
    return Config(
        Path("/etc/poster/feeds.toml"),
        Path("/etc/poster/templates"),
        viber=viber or ViberConfig(),
        feeds=feeds,
        webhook=webhook or WebhookConfig(),
        daemon=daemon or DaemonConfig(),
    )


NEWS, BLOG, SPORT = feed("news"), feed("blog"), feed("sport")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (config(NEWS, BLOG), config(NEWS, BLOG), ConfigDiff()),
        (config(NEWS), config(NEWS, BLOG), ConfigDiff(added=("blog",))),
        (config(NEWS, BLOG), config(BLOG), ConfigDiff(removed=("news",))),
        (
            config(NEWS, BLOG),
            config(replace(NEWS, template="now.j2"), BLOG),
            ConfigDiff(changed=("news",)),
        ),
        (
            config(NEWS, BLOG),
            config(BLOG, replace(NEWS, schedule=Schedule(interval=HOUR))),
            ConfigDiff(changed=("news",)),
        ),
        (config(NEWS, BLOG), config(BLOG, NEWS), ConfigDiff()),
        (
            config(NEWS, BLOG),
            config(replace(BLOG, enabled=False), SPORT),
            ConfigDiff(added=("sport",), removed=("news",), changed=("blog",)),
        ),
        (
            config(NEWS),
            config(NEWS, viber=ViberConfig(min_gap=timedelta(0))),
            ConfigDiff(channel_changed=True, destinations=(("viber", "changed"),)),
        ),
        (
            config(NEWS),
            config(NEWS, webhook=WebhookConfig(listen=("127.0.0.1", 8080))),
            ConfigDiff(channel_changed=True, at_start=("[webhook]",)),
        ),
        (
            config(NEWS),
            config(NEWS, daemon=DaemonConfig(disable_after=3)),
            ConfigDiff(channel_changed=True),
        ),
        (
            config(NEWS),
            config(NEWS, daemon=DaemonConfig(max_fetches=2)),
            ConfigDiff(channel_changed=True, at_start=("[daemon].max_fetches",)),
        ),
    ],
    ids=[
        "same",
        "added",
        "removed",
        "template-changed",
        "schedule-changed-and-moved",
        "only-reordered",
        "all-three",
        "viber",
        "webhook",
        "daemon",
        "max-fetches",
    ],
)
def test_diff_names_the_feeds_added_removed_and_changed(
    old: Config, new: Config, expected: ConfigDiff
) -> None:
    assert diff(old, new) == expected


def test_diff_names_the_destinations_added_removed_and_changed() -> None:
    news, sports, archive = (DestinationConfig(n, "viber") for n in ("news", "sports", "archive"))
    old = replace(config(NEWS), destinations=(news, sports))
    new = replace(config(NEWS), destinations=(replace(news, min_gap=timedelta(0)), archive))
    change = diff(old, new)
    assert change.destinations == (("archive", "added"), ("sports", "removed"), ("news", "changed"))
    assert change.lines() == [
        "event=reload destination=archive change=added",
        "event=reload destination=sports change=removed",
        "event=reload destination=news change=changed",
    ]


def test_a_setting_a_reload_cannot_apply_is_a_warning_naming_the_restart() -> None:
    change = ConfigDiff(channel_changed=True, at_start=("[webhook]", "[media]"))
    assert change.warnings() == [
        "event=reload-needs-restart changed=[webhook] "
        "fix='it applies from the next start: systemctl restart poster'",
        "event=reload-needs-restart changed=[media] "
        "fix='it applies from the next start: systemctl restart poster'",
    ]
    assert ConfigDiff(channel_changed=True).warnings() == []


@pytest.mark.parametrize(
    ("change", "lines"),
    [
        (ConfigDiff(), ["event=reload change=none"]),
        (
            ConfigDiff(added=("a",), removed=("b", "c"), changed=("d",), channel_changed=True),
            [
                "event=reload feed=a change=added",
                "event=reload feed=b change=removed",
                "event=reload feed=c change=removed",
                "event=reload feed=d change=changed",
                "event=reload change=channel-settings",
            ],
        ),
    ],
    ids=["nothing", "everything"],
)
def test_a_diff_is_logged_one_line_per_change(change: ConfigDiff, lines: list[str]) -> None:
    assert change.lines() == lines


# Slots: where each interval feed's polls fall within its interval


def named(name: str, interval: timedelta = HOUR) -> FeedConfig:
    return FeedConfig(name=name, url=f"https://example.org/{name}.xml", schedule=Schedule(interval))


@pytest.mark.parametrize("after", [NOW, NOW + timedelta(seconds=1), NOW + timedelta(minutes=359)])
@pytest.mark.parametrize("name", ["news", "feed-0001", "блог"])
def test_a_slot_comes_within_one_interval_and_then_every_interval(
    name: str, after: datetime
) -> None:
    first = slot(named(name), after)
    assert after < first <= after + HOUR
    assert slot(named(name), first) == first + HOUR
    assert slot(named(name), first - timedelta(microseconds=1)) == first


def test_slots_of_many_feeds_spread_evenly_over_the_interval() -> None:
    offsets = sorted((slot(named(f"feed-{n:04d}"), NOW) - NOW) / HOUR for n in range(1000))
    gaps = [b - a for a, b in zip([0.0, *offsets], [*offsets, 1.0], strict=True)]
    assert max(gaps) < 0.02
    tenths = [sum(int(offset * 10) == tenth for offset in offsets) for tenth in range(10)]
    assert min(tenths) > 70 and max(tenths) < 130, tenths
    assert statistics.median(offsets) == pytest.approx(0.5, abs=0.05)


def test_a_feed_keeps_its_slots_across_restarts_and_feeds_differ() -> None:
    assert slot(named("news"), NOW) == slot(named("news"), NOW - 5 * HOUR) + 5 * HOUR
    assert slot(named("news"), NOW) != slot(named("sport"), NOW)
    two_hours = slot(named("news", 2 * HOUR), NOW)
    assert NOW < two_hours <= NOW + 2 * HOUR


# After a read: a read at once goes to its slot, a late one keeps half an interval before the next

DUE = NOW - 10 * MINUTE


@pytest.mark.parametrize(
    ("started", "scheduled", "late"),
    [
        (DUE + timedelta(seconds=1), DUE + HOUR + 2 * MINUTE, False),
        (DUE, DUE + HOUR, False),
        (DUE + 20 * MINUTE, DUE + HOUR, False),
        (DUE + 31 * MINUTE, DUE + HOUR, True),
        (DUE + 50 * MINUTE, DUE + HOUR + 6 * MINUTE, True),
        (DUE, None, False),
    ],
    ids=["on-time-with-jitter", "on-time", "late", "later-than-half", "very-late", "unscheduled"],
)
def test_a_late_read_keeps_half_an_interval_before_the_next_at_its_slot(
    started: datetime, scheduled: datetime | None, late: bool
) -> None:
    moved = after_read(named("news"), scheduled, started, NOW, at_once=False)
    if not late:
        assert moved is None
        return
    assert moved is not None
    assert started + HOUR / 2 < moved <= started + HOUR * 3 / 2
    assert moved == slot(named("news"), moved - HOUR)


def test_late_reads_that_end_together_go_back_to_their_own_slots() -> None:
    names = [f"feed-{n:03d}" for n in range(100)]
    moved = [after_read(named(name), NOW, NOW, NOW, at_once=False) for name in names]
    assert moved == [slot(named(name), NOW + HOUR / 2) for name in names]
    assert len(set(moved)) == 100


def test_a_read_at_once_moves_the_next_poll_to_the_feeds_slot() -> None:
    moved = after_read(named("news"), NOW + HOUR, NOW - MINUTE, NOW, at_once=True)
    assert moved == slot(named("news"), NOW)


def test_a_cron_feed_keeps_its_times_after_any_read() -> None:
    cron = replace(named("news"), schedule=Schedule(interval=None, cron="0 * * * *"))
    assert after_read(cron, NOW + MINUTE, NOW - HOUR, NOW, at_once=False) is None
    assert after_read(cron, NOW + MINUTE, NOW - HOUR, NOW, at_once=True) is None


def test_feeds_with_the_same_interval_share_one_trigger() -> None:
    assert trigger_for(named("news")) is trigger_for(named("sport"))
    assert trigger_for(named("news")) is not trigger_for(named("news", 2 * HOUR))
    jittered = replace(named("news"), schedule=Schedule(HOUR, jitter=timedelta(seconds=30)))
    assert trigger_for(jittered) is not trigger_for(named("news"))


# The first poll: a feed read before at its slot, new ones at a steady pace


def test_a_feed_read_before_is_first_polled_at_its_slot() -> None:
    assert first_poll(named("news"), NOW) == slot(named("news"), NOW)


@pytest.mark.parametrize(
    ("new", "span"),
    [(1, 0.1), (8, 0.8), (600, 60.0), (36_000, 3600.0), (100_000, 3600.0)],
    ids=["one", "a few", "hundreds", "an-hour's-worth", "more-than-an-interval"],
)
def test_new_feeds_are_read_at_a_steady_pace_within_one_interval(new: int, span: float) -> None:
    names = [f"feed-{n:04d}" for n in range(200)]
    firsts = [first_poll(named(name), NOW, new=new) for name in names]
    assert all(NOW < first <= NOW + timedelta(seconds=span) for first in firsts)
    assert max(firsts) - min(firsts) > timedelta(seconds=span * 0.9)
    shares = [(slot(named(name), NOW) - NOW) / HOUR for name in names]
    assert [(first - NOW).total_seconds() / span for first in firsts] == pytest.approx(
        shares, abs=1e-4
    )
