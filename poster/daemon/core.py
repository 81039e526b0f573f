"""Run poster as a service: one scheduled job per feed, one paced lane per destination.

Fetch jobs run on APScheduler 3.x threads (at most ``[daemon] max_fetches`` at once) and hand
new items to the outbox; a worker per destination posts them oldest first, spaced by its
``min_gap``, so a destination that refuses posts stops only its own lane.
Signals: SIGHUP reloads feeds.toml, SIGTERM and SIGINT stop after the post in flight.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from poster.app import App, build
from poster.cachefiles import cache_dir
from poster.config import Config, FeedConfig, load_config
from poster.daemon.callbacks import POLL_EVERY, start_gateways
from poster.daemon.feedmemory import FeedMemory
from poster.daemon.feedreads import Reads, due, read_failed, read_ok
from poster.daemon.health import callback_tokens, health_page, metrics_page, start_listener
from poster.daemon.listener import WebhookReceiver
from poster.daemon.malloc import release_free_memory, return_large_buffers
from poster.daemon.metrics import Metrics
from poster.daemon.pushing import start_push
from poster.daemon.schedule import (
    ConfigDiff,
    after_read,
    diff,
    new_scheduler,
    schedule_feed,
)
from poster.daemon.systemd import Notifier, install_signals
from poster.daemon.worker import LaneWorker, relane
from poster.destinations import WaitsForWebhook
from poster.errors import ConfigError, StateError
from poster.media.setup import media_stage
from poster.models import Freshness, Item, NextPoll
from poster.ops import inbox
from poster.pipeline import Batch, Deps, FeedReport, collect, collect_pushed, finish
from poster.pipeline.outbox import Entry, Lane, Outbox, Outcomes
from poster.pipeline.runner import deps, lanes, resend_uncertain, resume_interrupted
from poster.push.discover import discover
from poster.push.service import PushService
from poster.store.ledger import RELOAD_REJECTED
from poster.store.place import DAEMON
from poster.store.store import Store

log = logging.getLogger(__name__)

TICK = 2.0
"""Seconds between the main loop's chores: signals, inbox, watchdog."""
PRUNE_EVERY = timedelta(days=1)
TRIM_EVERY = 60.0
"""Seconds between handing the fetch threads' free memory back to the system."""
MAX_KEPT_PROBLEMS = 3
"""The problems of a refused reload kept for ``status``; the log has them all."""
WEBHOOK_SETTLE = 5.0
"""Seconds from Viber's check call to the first post at a channel that had no webhook: Viber
records the webhook only after the check is answered."""
READ_GRACE = 3.0
"""Seconds a stop waits for feed reads under way; the unit's TimeoutStopSec is 15."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Daemon:
    """Poll feeds on their schedules and post new items until told to stop."""

    def __init__(
        self,
        config_path: Path,
        state_dir: Path,
        *,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = _utcnow,
        tick: float = TICK,
        gateway_poll: float = POLL_EVERY,
    ) -> None:
        self.config_path = config_path
        self.gateway_poll = gateway_poll
        self.tick = tick
        self.state_dir = state_dir
        self.notifier = notifier or Notifier()
        self.metrics = Metrics()
        self._clock = clock
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._memory = FeedMemory()
        self._last_prune = 0.0
        self._last_trim = time.monotonic()
        self._write_failure = ""
        self._reads = Reads(self._stop)
        # Held while a feed's waiting items are written: a batch queued and another finished.
        self._waiting_locks: dict[str, threading.RLock] = {}
        self._waiting_locks_guard = threading.Lock()
        self.push: PushService | None = None
        self._listener: WebhookReceiver | None = None
        self._webhook_set_at: float | None = None
        self._served = False
        """Whether feeds were read: a stop then ends the reads left (``_end_reads_left``)."""

    def request_stop(self) -> None:
        """Ask the daemon to stop after the post in flight."""
        self._stop.set()

    def request_reload(self) -> None:
        """Ask the daemon to reload feeds.toml."""
        self._reload.set()

    def run(self) -> int:
        """Start everything, serve until a stop is requested, and shut down cleanly."""
        return_large_buffers()
        self.config = self._load()
        try:
            with build(self.config, self.state_dir, role=DAEMON) as app:
                self.app, self.store = app, app.store
                self._note_rejected([])  # this start read feeds.toml whole
                resend_uncertain(self.store, self.config.feeds)
                resume_interrupted(self.store, app.destinations)
                return self._serve(app)
        finally:
            if self._served:
                self._end_reads_left()

    def _serve(self, app: App) -> int:
        """Run the scheduler, a worker per destination and the listener until stopped."""
        self.media = media_stage(self.config, self.state_dir, app.feeds_http)
        self.outbox = Outbox(lanes(app, now=self._clock), self._deps, self._finished)
        self.workers = self._workers()
        self.scheduler = self._scheduler(self.config)
        tokens = callback_tokens(app.destinations)
        listener = start_listener(
            self.config, tokens, self._health, self._metrics_page, self.state_dir
        )
        self.push = start_push(
            self.config, self.store, listener,
            wanted=self._push_wanted, deliver=self._pushed, clock=self._clock,
        )  # fmt: skip
        self.gateways = start_gateways(
            self.store, self.config.webhook.public_url, app.destinations, listener,
            self.gateway_poll,
        )  # fmt: skip
        self._listener = listener
        if listener is not None:
            listener.on_check = self._webhook_checked
        install_signals(self.request_stop, self.request_reload)
        self._served = True
        self.scheduler.start()
        for worker in self.workers.values():
            worker.start()
        self.notifier.ready(f"polling {len(self.scheduler.get_jobs())} feeds")
        log.info("event=started feeds=%d state=%s", len(self.config.feeds), self.state_dir)
        try:
            self._loop()
        finally:
            self._shutdown(listener)
        return 0

    def _workers(self) -> dict[str, LaneWorker]:
        """Return a worker for each lane of the outbox."""
        return {name: self._worker(lane) for name, lane in self.outbox.lanes.items()}

    def _worker(self, lane: Lane) -> LaneWorker:
        """Return a worker for a lane, not started."""
        return LaneWorker(self.outbox, lane, self.store, self.metrics, tick=self.tick)

    @property
    def posting(self) -> bool:
        """Tell whether every destination's posting thread runs."""
        return all(worker.alive for worker in self.workers.values())

    # Scheduling

    def _scheduler(self, config: Config) -> BackgroundScheduler:
        """Return a scheduler with one job per enabled feed."""
        scheduler = new_scheduler(config.daemon.max_fetches)
        states = (self.store.feed_state(feed.name) for feed in config.feeds)
        unread = {state.feed for state in states if state.last_success is None}
        for feed in config.feeds:
            self._add_job(scheduler, feed, new=len(unread) if feed.name in unread else 0)
        return scheduler

    def _add_job(self, scheduler: BackgroundScheduler, feed: FeedConfig, *, new: int) -> None:
        """Schedule a feed, and have its first read be a full one.

        A feed never read, or that a reload adds or changes, is one of ``new`` feeds read at
        once (see ``first_poll``) and then polled at its slots; others wait for their slot.
        """
        if schedule_feed(scheduler, feed, self._poll, self._clock, new=new):
            self._memory.read_in_full([feed.name])
            if new and feed.schedule.cron is None:
                self._memory.unslotted(feed.name)

    def _poll(self, name: str) -> None:
        """Read one feed if it is due, and queue its new items; a stop waits for it."""
        started = _utcnow()
        with self._reads.feed(name), self.store.deferred():
            self._read(name)
        self._reschedule(name, started)

    def _reschedule(self, name: str, started: datetime) -> None:
        """Move a feed's next poll after a read begun at ``started``, if it must move."""
        feed = self.config.feed(name)
        job = self.scheduler.get_job(name)
        at_once = self._memory.take_unslotted(name)
        if feed is None or job is None or self._stop.is_set():
            return
        moment = after_read(feed, job.next_run_time, started, _utcnow(), at_once=at_once)
        if moment is None:
            return
        try:
            job.modify(next_run_time=moment)
        except JobLookupError:
            return  # a reload removed the feed meanwhile

    def _pushed(self, name: str, body: bytes, headers: tuple[tuple[str, str], ...]) -> None:
        """Read content a hub pushed through the poll's own path, and queue its new items.

        A feed paused, or disabled after failures, posts nothing a hub pushes before the push
        service has unsubscribed it.
        """
        feed = self.config.feed(name)
        if feed is None or self._stop.is_set():
            return
        if not self._push_wanted(name):
            log.info("event=websub-content-ignored feed=%s reason='the feed is disabled'", name)
            return
        with self._reads.feed(name), self.store.deferred():
            result = collect_pushed(feed, self._deps(), body, headers, self.outbox.busy(name))
            if self._reloaded_meanwhile(feed):
                return
            if isinstance(result, Batch):
                self.metrics.inc("poster_fetches_total", result="pushed", feed=name)
                self._queued(result)
            elif result.error is not None:
                log.warning("event=push-unreadable feed=%s error=%s", name, result.error)

    def _reloaded_meanwhile(self, feed: FeedConfig) -> bool:
        """Tell, and log, that a reload removed or changed ``feed`` while it was read: what the
        old settings chose goes nowhere (a changed feed is read again in full under the new)."""
        if self.config.feed(feed.name) == feed:
            return False
        log.info("event=read-dropped feed=%s reason=reloaded-meanwhile", feed.name)
        return True

    def _push_wanted(self, name: str) -> bool:
        """Tell whether a feed may be subscribed: configured, enabled and not disabled."""
        feed = self.config.feed(name)
        return feed is not None and feed.enabled and self.store.disabled(name) is None

    def _read(self, name: str) -> None:
        """Read one feed if it is due, and queue its new items."""
        feed = self.config.feed(name)
        if feed is None or self._stop.is_set() or not self._due(feed):
            return
        asked = self._memory.asked()
        deps = self._deps(conditional=not self._memory.wants_full(name))
        started = self._clock()
        result = collect(feed, deps, busy=self.outbox.busy(name))
        if self._stop.is_set():
            return  # cut short by the stop, or too late to post: not the feed's failure
        if self._reloaded_meanwhile(feed):
            return
        if isinstance(result, Batch):
            keys = (d.item.key for d in result.decisions)
            self._memory.read_listed(name, asked, keys, result.parsed.hints)
            poll = self._next_poll(feed, started, self._memory.freshness(name, result.result))
            read_ok(self.store, self.metrics, name, self._clock(), poll)
            self.store.set_warning(name, "; ".join(result.parsed.warnings) or None)
            if self.push is not None:
                self.push.advertised(name, discover(result.result, result.parsed))
            self.metrics.inc("poster_fetches_total", result="ok", feed=name)
            self._queued(result)
        elif result.error is not None:
            now = self._clock()
            read_failed(self.store, self.metrics, self.config, name, result.error, now)
        else:
            fetched = result.fetch
            freshness = self._memory.freshness(name, fetched) if fetched is not None else None
            poll = self._next_poll(feed, started, freshness)
            read_ok(self.store, self.metrics, name, self._clock(), poll)
            self.metrics.inc("poster_fetches_total", result="not_modified", feed=name)

    def _due(self, feed: FeedConfig) -> bool:
        """Tell whether a feed may be read now; a read wanted in full skips the hints."""
        return due(
            feed, self.config, self.store, self.metrics,
            now=self._clock(), push=self.push, fresh=self._memory.wants_full(feed.name),
        )  # fmt: skip

    def _next_poll(
        self, feed: FeedConfig, started: datetime, freshness: Freshness | None
    ) -> NextPoll:
        """Decide when to read the feed next, from its schedule and, unless off, its hints."""
        job = self.scheduler.get_job(feed.name)
        scheduled = job.next_run_time if job is not None and job.next_run_time else started
        cap = self.config.daemon.hints_max
        return self._memory.next_poll(feed, scheduled, started, freshness, cap)

    def _deps(self, *, conditional: bool = True) -> Deps:
        """Return the pipeline's dependencies as they are now."""
        return deps(self.app, conditional=conditional, media=self.media)

    def _finished(self, batch: Batch, outcomes: Outcomes) -> FeedReport:
        """Close a feed's batch: its validators are saved only now that nothing of it waits.

        The feed's waiting items lose what the batch resolved and gain what it left waiting;
        its other batches' items, and those a reload took from the lanes, stay.
        """
        with self._waiting_lock(batch.feed.name):
            return finish(batch, outcomes, self.store, shared=True)

    def _queued(self, batch: Batch) -> None:
        """Queue a batch's items, keeping them in the state as waiting until they are done.

        A daemon killed (a power cut, the kernel out of memory) leaves no time to keep what its
        lanes hold: the next read offers those items from the state if the feed rolled them off.
        """
        from poster.pipeline.waitlist import add_waiting

        feed = batch.feed.name
        with self._waiting_lock(feed):
            report = self.outbox.put(batch)
            if report is None:
                # Added to what is kept: what a finished batch leaves stays until the feed's
                # lanes are empty.
                add_waiting(self.store, feed, self.outbox.in_flight(feed), in_lanes=True)
        if report is not None:
            log.debug("event=batch-done feed=%s", report.feed)

    def _waiting_lock(self, feed: str) -> threading.RLock:
        """Return the lock held while ``feed``'s waiting items are read and written."""
        with self._waiting_locks_guard:
            return self._waiting_locks.setdefault(feed, threading.RLock())

    # Health and metrics, served by the webhook listener

    def _health(self) -> tuple[int, str, bytes]:
        """Answer 200 while feeds are polled and every destination takes posts."""
        lanes = self.outbox.lanes.items()
        fatal = {name: lane.fatal for name, lane in lanes}
        unwritten = next((lane.unwritten for _, lane in lanes if lane.unwritten), None)
        return health_page(self.scheduler.running and self.posting, fatal, unwritten)

    def _metrics_page(self) -> tuple[int, str, bytes]:
        """Answer with the metrics."""
        disabled = sum(self.store.disabled(f.name) is not None for f in self.config.feeds)
        queued = {name: len(lane) for name, lane in self.outbox.lanes.items()}
        return metrics_page(self.metrics, disabled, queued, self.gateways.subscribers())

    # Signals, chores, reload, shutdown

    def _loop(self) -> None:
        """Do the main thread's chores until stopped."""
        interval = self.notifier.watchdog_interval
        while not self._stop.is_set():
            self._stop.wait(min(self.tick, interval) if interval else self.tick)
            if self._reload.is_set():
                self._reload.clear()
                self._do_reload()
            self._chores()
            if self.scheduler.running and self.posting:
                self.notifier.watchdog()

    def _webhook_checked(self) -> None:
        """Post again, a little later, at the channels that had no webhook: one is being set.

        Viber checks the webhook before it records it, so the posts wait for that first.
        """
        self._webhook_set_at = time.monotonic() + WEBHOOK_SETTLE

    def _resume_after_webhook(self) -> None:
        """Post again at each destination stopped for want of a webhook, once one was set."""
        if self._webhook_set_at is None or time.monotonic() < self._webhook_set_at:
            return
        self._webhook_set_at = None
        for name, worker in self.workers.items():
            own, refusal = worker.lane.destination.kind, worker.lane.fatal
            if refusal is None or not isinstance(own, WaitsForWebhook):
                continue
            if own.refused_for_webhook(refusal):
                log.info("event=destination-resumed destination=%s reason=webhook-set", name)
                worker.resume()

    def _chores(self) -> None:
        """Write the reads' records, apply operator requests, prune old records now and then."""
        self._write_reads()
        self._resume_after_webhook()
        taken = inbox.drain_requests(self.state_dir, self.store)
        for line, _ in taken:
            log.info("event=operator-request %s", line)
        if taken:
            # A released item is offered only by a full read, and a read or batch under way
            # may save validators after the request did, turning the next read into a 304:
            # the feeds the requests name are read in full, the others as ever.
            chosen = inbox.to_read_again(request for _, request in taken)
            every = (feed.name for feed in self.config.feeds)
            self._memory.read_in_full(every if chosen is None else chosen)
            if self.push is not None:
                self.push.wake()  # a feed paused or resumed is unsubscribed or subscribed now
        self.gateways.tick()
        now = time.monotonic()
        if self._memory.present and now - self._last_prune >= PRUNE_EVERY.total_seconds():
            self._last_prune = now
            self._prune()
        if now - self._last_trim >= TRIM_EVERY:
            self._last_trim = now
            release_free_memory()

    def _write_reads(self) -> None:
        """Write what the reads since the last write recorded, with one fsync (Store.deferred)."""
        try:
            self.store.flush()
        except StateError as exc:
            # The records stay in memory and are written with the next change or tick.
            if str(exc) != self._write_failure:
                log.error("event=state-write-failed error=%r", str(exc))
            self._write_failure = str(exc)
        else:
            self._write_failure = ""

    def _prune(self) -> None:
        """Drop old records of items gone from their feeds, and of feeds gone from the config."""
        configured = {feed.name for feed in self.config.feeds}
        gone = dict.fromkeys(gone_to_prune(self.config, self.store), ())
        present = {name: keys for name, keys in self._memory.present.items() if name in configured}
        self.store.prune(self._clock(), {**gone, **present})

    def _do_reload(self) -> None:
        """Read feeds.toml again; keep the old config on error, else apply the difference."""
        self.notifier.reloading()
        try:
            new = self._load()
            self.app.reopen(new)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("event=reload-rejected problem=%r", str(problem))
            self._note_rejected([str(problem) for problem in exc.problems])
            self.notifier.ready("reload rejected; running the previous configuration")
            return
        except Exception as exc:
            # Nothing is applied yet: whatever reading the file raised, a reload never stops
            # the daemon, which goes on with the configuration it has.
            log.error("event=reload-rejected error=%r", f"{type(exc).__name__}: {exc}")
            self._note_rejected([f"{type(exc).__name__}: {exc}"])
            self.notifier.ready("reload rejected; running the previous configuration")
            return
        self._note_rejected([])
        change = diff(self.config, new)
        self._apply(new, change)
        for line in change.lines():
            log.info(line)
        for line in change.warnings():
            log.warning(line)
        self._check_templates(new)
        self.notifier.ready(f"reloaded; polling {len(self.scheduler.get_jobs())} feeds")

    def _note_rejected(self, problems: list[str]) -> None:
        """Keep why the last reload was refused, for ``status``; forget it once one is taken."""
        import json

        text = json.dumps(
            {"at": self._clock().isoformat(), "problems": problems[:MAX_KEPT_PROBLEMS],
             "count": len(problems)}
        ) if problems else ""  # fmt: skip
        try:
            if text or self.store.get_meta(RELOAD_REJECTED):
                self.store.set_meta(RELOAD_REJECTED, text)
        except StateError as exc:
            log.error("event=state-unwritten what=reload-rejected error=%r", str(exc))

    def _check_templates(self, config: Config) -> None:
        """Log each template that fails on the sample item, as ``poster check`` would say it.

        Templates are read as they are saved, without a reload: one broken since is told here,
        not only at the next post of a feed that uses it (whose items then wait for it).
        """
        from poster.ops.templatecheck import template_errors  # here: only a reload needs it

        try:
            problems = template_errors(config)
        except Exception as exc:  # a check never stops the daemon
            log.error("event=reload-template-check-failed error=%r", f"{type(exc).__name__}: {exc}")
            return
        for problem in problems:
            log.warning("event=reload-template-problem problem=%r", problem)

    def _load(self) -> Config:
        """Read feeds.toml, keeping what it parsed to in the cache directory as commands do."""
        return load_config(self.config_path, cache=cache_dir(os.environ))

    def _apply(self, new: Config, change: ConfigDiff) -> None:
        """Switch to the new configuration: jobs, destinations and their lanes."""
        for name in change.removed:
            if self.scheduler.get_job(name) is not None:
                self.scheduler.remove_job(name)
            self._memory.take_unslotted(name)
            dropped = self.outbox.drop(name)
            if dropped:
                # Kept under the feed's name: a feed put back (a rename undone) posts them.
                self._keep_waiting(dropped)
                log.warning(
                    "event=reload feed=%s change=removed waiting=%d hint=its items waiting to "
                    "be posted are kept: a new feed that renames it posts them on its first "
                    "read, and so does a feed of that name put back; else none is posted",
                    name, len({entry.key for entry in dropped}),
                )  # fmt: skip
        self.config = new
        for name in change.changed:
            # What waits was chosen, routed and rendered by the old settings; the next read,
            # in full under the new ones, offers again what was not posted, kept or listed.
            self._keep_waiting(self.outbox.drop(name))
        touched = (*change.added, *change.changed)
        for name in touched:
            feed = new.feed(name)
            job = self.scheduler.get_job(name)
            if job is not None:
                job.remove()
            if feed is not None:
                self._add_job(self.scheduler, feed, new=len(touched))
        self._relane()
        added = set(change.added)
        resend_uncertain(self.store, [feed for feed in new.feeds if feed.name in added])
        for worker in self.workers.values():
            worker.resume()
        if self.push is not None:
            # An operator's reload is the one way to ask a hub that denied a feed again; a read
            # in full finds the hub even in a feed that has not changed since.
            self._memory.read_in_full(self.push.forget_denials())
            self.push.wake()  # feeds removed or disabled are unsubscribed

    def _relane(self) -> None:
        """Give each lane its reopened destination and pacing; start lanes for new ones."""
        fresh = lanes(self.app, now=self._clock)
        self.gateways.update(self.app.destinations, self._listener is not None)
        if self._listener is not None:
            self._listener.use_tokens(callback_tokens(self.app.destinations))
        relane(self.outbox, self.workers, fresh, self._start_worker)

    def _start_worker(self, lane: Lane) -> LaneWorker:
        """Start and return a worker for a new lane."""
        worker = self._worker(lane)
        worker.start()
        return worker

    def _shutdown(self, listener: WebhookReceiver | None) -> None:
        """Stop polling, let the post in flight finish, and close everything."""
        self.notifier.stopping()
        log.info("event=stopping")
        self._stop.set()
        self.scheduler.shutdown(wait=False)
        if self.push is not None:
            self.push.stop()
        for worker in self.workers.values():
            worker.stop()
        self.gateways.stop()
        if listener is not None:
            listener.stop()
        # A read still under way would write to the state after it is closed.
        self._reads.wait_idle(READ_GRACE)
        self.media.flush()
        self._keep_waiting(e for lane in self.outbox.lanes.values() for e in lane.entries())
        log.info("event=stopped")

    def _end_reads_left(self) -> None:
        """End the reads and probes that outlived the stop's grace, the state closed: their
        threads would hold the process until their deadlines (a feed that drips its bytes),
        past systemd's stop timeout. What they read is read again at the next start.

        Sockets are cut off until those reads end (``Watchdog.end_all``), so that a probe of
        an item's next image fails at once too; then they are watched as before.
        """
        from poster.fetch.watchdog import WATCHDOG

        cut = WATCHDOG.end_all()
        try:
            if cut:
                log.info("event=reads-ended count=%d reason=stopping", cut)
            self._reads.wait_idle(READ_GRACE)
        finally:
            WATCHDOG.resume()

    def _keep_waiting(self, entries: Iterable[Entry]) -> None:
        """Keep the items of ``entries`` with the waiting ones, for a later read to post.

        Those are what the lanes hold at a stop, and what a reload takes from them: the feed
        may have rolled them off by the time it is read again.
        """
        from poster.pipeline.waitlist import add_waiting

        by_feed: dict[str, list[Item]] = {}
        for entry in entries:
            by_feed.setdefault(entry.feed, []).append(entry.decision.item)
        for feed, items in by_feed.items():
            with self._waiting_lock(feed):
                add_waiting(self.store, feed, items)


def gone_to_prune(config: Config, store: Store) -> list[str]:
    """Return the feeds the state keeps that feeds.toml no longer names, whose old records may
    go: none while a configured feed has yet to read for the first time, as that read goes on
    where a feed renamed into it stopped, and an old item it no longer knew would look new."""
    if any(not store.has_history(feed.name) for feed in config.feeds):
        return []
    return config.unnamed(store.feed_names())
