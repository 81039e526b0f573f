"""Decide when things happen: feed triggers, the next poll after a read, what a reload changes."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from poster.config import Config, FeedConfig
from poster.frozen import frozen

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.base import BaseTrigger

DEFAULT_INTERVAL = timedelta(minutes=15)
FIRST_READS_PER_SECOND = 10
"""How fast the feeds to read at once are read: a first read costs tens of ms of CPU."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def new_scheduler(max_fetches: int) -> BackgroundScheduler:
    """Return a scheduler that reads at most ``max_fetches`` feeds at once, a job at a time each."""
    # APScheduler loads asyncio: only the daemon loads it; a one-shot pass needs none of it.
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
    *,
    new: int = 0,
) -> bool:
    """Schedule an enabled feed at its cron times, else at ``first_poll``; say if it was."""
    if not feed.enabled:
        return False
    options = {}
    if feed.schedule.cron is None:
        options["next_run_time"] = first_poll(feed, clock(), new=new)
    scheduler.add_job(
        poll, trigger_for(feed), args=[feed.name], id=feed.name, name=feed.name,
        replace_existing=True, **options,
    )  # fmt: skip
    return True


def trigger_for(feed: FeedConfig) -> BaseTrigger:
    """Return the APScheduler trigger of a feed: its cron, else its interval with jitter.

    Feeds with the same interval and jitter share one trigger: APScheduler 3.x triggers keep
    nothing between fire times, and 10,000 feeds would otherwise hold 10,000 alike.
    """
    from apscheduler.triggers.cron import CronTrigger

    schedule = feed.schedule
    jitter = int(schedule.jitter.total_seconds()) or None
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone=zone(feed))
    return _interval(schedule.interval or DEFAULT_INTERVAL, jitter)


@functools.lru_cache(maxsize=64)
def _interval(interval: timedelta, jitter: int | None) -> BaseTrigger:
    """Return the trigger every feed with this interval and jitter shares."""
    from apscheduler.triggers.interval import IntervalTrigger

    return IntervalTrigger(seconds=interval.total_seconds(), jitter=jitter, timezone=UTC)


def slot(feed: FeedConfig, after: datetime) -> datetime:
    """Return the first of an interval feed's slots after ``after``.

    A feed's slots are its interval apart, shifted from the epoch by a share of the interval
    that its name fixes: feeds polled first at their slots are spread evenly over the interval,
    and stay so, since each later poll follows the one before by the interval and the jitter.
    """
    interval = (feed.schedule.interval or DEFAULT_INTERVAL) // _MICROSECOND
    share = int.from_bytes(hashlib.blake2b(feed.name.encode(), digest_size=8).digest())
    offset = share * interval >> 64
    number = ((after - _EPOCH) // _MICROSECOND - offset) // interval + 1
    return _EPOCH + (offset + number * interval) * _MICROSECOND


def first_poll(feed: FeedConfig, now: datetime, *, new: int = 0) -> datetime:
    """Return when to poll an interval feed first: at its slot, or soon if it is one of ``new``.

    A feed read before waits for its slot, within one interval. The ``new`` feeds to read at
    once (never read, or added or changed by a reload) are read at ``FIRST_READS_PER_SECOND``,
    each at the same share of that shorter span as its slot's of the interval: a few at once,
    10,000 over the whole interval, since the fetch threads could only read them one after
    another and polls started together would stay together.
    """
    at = slot(feed, now)
    if not new:
        return at
    interval = feed.schedule.interval or DEFAULT_INTERVAL
    span = min(interval, timedelta(seconds=new / FIRST_READS_PER_SECOND))
    return now + (at - now) * (span / interval)


def after_read(
    feed: FeedConfig, scheduled: datetime | None, started: datetime, now: datetime, *, at_once: bool
) -> datetime | None:
    """Return where to move an interval feed's next poll after a read, or None to leave it.

    After a read at once it goes to the feed's next slot (the same slot when the read was at
    it). The scheduler counts the next poll from when a read was due, so after a read that
    waited behind others the next would come too soon: when that is less than half an interval
    after the read began, it goes to the feed's first slot after that. Not one interval after
    the read: reads that waited together end together, and would stay together.
    """
    if feed.schedule.cron is not None or scheduled is None:
        return None
    if at_once:
        return slot(feed, now)
    earliest = started + (feed.schedule.interval or DEFAULT_INTERVAL) / 2
    return slot(feed, earliest) if scheduled < earliest else None


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


@frozen
class ConfigDiff:
    """What a reload changes, feed by feed."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    channel_changed: bool = False
    at_start: tuple[str, ...] = ()
    """The changed settings that take effect only at the next start."""
    destinations: tuple[tuple[str, str], ...] = ()
    """Each destination added, removed or changed, with which of the three."""

    def lines(self) -> list[str]:
        """Return one log line per change."""
        lines = [f"event=reload feed={name} change=added" for name in self.added]
        lines += [f"event=reload feed={name} change=removed" for name in self.removed]
        lines += [f"event=reload feed={name} change=changed" for name in self.changed]
        lines += [f"event=reload destination={n} change={what}" for n, what in self.destinations]
        if self.channel_changed:
            lines.append("event=reload change=channel-settings")
        return lines or ["event=reload change=none"]

    def warnings(self) -> list[str]:
        """Return a line for each changed setting a reload cannot apply."""
        return [
            f"event=reload-needs-restart changed={what} "
            "fix='it applies from the next start: systemctl restart poster'"
            for what in self.at_start
        ]


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
        at_start=_at_start(old, new),
        destinations=_destination_changes(old, new),
    )


def _destination_changes(old: Config, new: Config) -> tuple[tuple[str, str], ...]:
    """Return each destination added, removed or whose settings changed."""
    before = {spec.name: spec for spec in old.destinations}
    after = {spec.name: spec for spec in new.destinations}
    return (
        *((name, "added") for name in after if name not in before),
        *((name, "removed") for name in before if name not in after),
        *((name, "changed") for name in after if name in before and after[name] != before[name]),
    )


def _at_start(old: Config, new: Config) -> tuple[str, ...]:
    """Return the changed settings the daemon set up at its start: its listener, its media
    stage and its fetching threads."""
    fixed = (
        ("[webhook]", old.webhook, new.webhook),
        ("[media]", old.media, new.media),
        ("[daemon].max_fetches", old.daemon.max_fetches, new.daemon.max_fetches),
    )
    return tuple(name for name, before, after in fixed if before != after)
