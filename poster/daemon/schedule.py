"""Decide when things happen: feed triggers, backoff after failures, and what a reload changes."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from poster.config import Config, FeedConfig

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.base import BaseTrigger

BACKOFF_BASE = timedelta(minutes=1)
CHANNEL_BACKOFF_BASE = timedelta(seconds=5)
CHANNEL_BACKOFF_MAX = timedelta(minutes=15)


def new_scheduler(max_fetches: int) -> BackgroundScheduler:
    """Return a scheduler that reads at most ``max_fetches`` feeds at once, a job at a time each."""
    # APScheduler loads asyncio: only the daemon loads it; a one-shot pass needs ``backoff``.
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    return BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_fetches)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone=UTC,
    )


def schedule_feed(
    scheduler: BackgroundScheduler,
    feed: FeedConfig,
    poll: Callable[[str], None],
    clock: Callable[[], datetime],
) -> bool:
    """Schedule an enabled feed, read at once on an interval or at its cron times; say if it was."""
    if not feed.enabled:
        return False
    first = clock() if feed.schedule.cron is None else None
    options = {"next_run_time": first} if first is not None else {}
    scheduler.add_job(
        poll, trigger_for(feed), args=[feed.name], id=feed.name, name=feed.name,
        replace_existing=True, **options,
    )  # fmt: skip
    return True


def trigger_for(feed: FeedConfig) -> BaseTrigger:
    """Return the APScheduler trigger of a feed: its cron, else its interval with jitter."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    schedule = feed.schedule
    jitter = int(schedule.jitter.total_seconds()) or None
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone=zone(feed))
    interval = schedule.interval or timedelta(minutes=15)
    return IntervalTrigger(seconds=interval.total_seconds(), jitter=jitter, timezone=UTC)


def zone(feed: FeedConfig) -> tzinfo:
    """Return the time zone a feed's cron is read in: its own, else the machine's, as cron does."""
    name = feed.schedule.timezone
    return ZoneInfo(name) if name else get_localzone()


def get_localzone() -> tzinfo:
    """Return the machine's time zone, loading tzlocal on first need."""
    from tzlocal import get_localzone as machine_zone

    return machine_zone()


def next_runs(feed: FeedConfig, now: datetime, count: int = 3) -> list[datetime]:
    """Return the next ``count`` times a cron feed runs after ``now``, in its time zone."""
    trigger = trigger_for(feed)
    runs: list[datetime] = []
    previous, current = None, now
    while len(runs) < count:
        moment = trigger.get_next_fire_time(previous, current)
        if moment is None:
            break
        runs.append(moment)
        previous = current = moment
    return runs


def backoff(
    failures: int,
    *,
    base: timedelta = BACKOFF_BASE,
    cap: timedelta,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> timedelta:
    """Return how long to wait after ``failures`` failures in a row: doubling, capped, jittered.

    The wait is at least what the server asked for with Retry-After (RFC 9110 §10.2.3).
    """
    doubled: timedelta = base * (2 ** min(max(failures - 1, 0), 30))
    wait: timedelta = min(doubled, cap) * (0.8 + 0.4 * rand())
    asked = timedelta(seconds=retry_after or 0)
    return max(wait, asked)


@dataclass(frozen=True)
class ConfigDiff:
    """What a reload changes, feed by feed."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    channel_changed: bool = False

    def lines(self) -> list[str]:
        """Return one log line per change."""
        lines = [f"event=reload feed={name} change=added" for name in self.added]
        lines += [f"event=reload feed={name} change=removed" for name in self.removed]
        lines += [f"event=reload feed={name} change=changed" for name in self.changed]
        if self.channel_changed:
            lines.append("event=reload change=channel-settings")
        return lines or ["event=reload change=none"]


def diff(old: Config, new: Config) -> ConfigDiff:
    """Compare two configurations feed by feed."""
    before = {feed.name: feed for feed in old.feeds}
    after = {feed.name: feed for feed in new.feeds}
    return ConfigDiff(
        added=tuple(name for name in after if name not in before),
        removed=tuple(name for name in before if name not in after),
        changed=tuple(n for n in after if n in before and after[n] != before[n]),
        channel_changed=(old.viber, old.webhook, old.templates_dir, old.daemon)
        != (new.viber, new.webhook, new.templates_dir, new.daemon),
    )
