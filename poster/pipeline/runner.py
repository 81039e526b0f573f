"""Run one pass over the configured feeds and destinations, and summarize it."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from poster.app import App
from poster.config import FeedConfig
from poster.destinations import Destination, KeepsRecipients, carry_sends
from poster.errors import ReadStopped
from poster.frozen import frozen
from poster.models import State
from poster.ops.commands import retry_states
from poster.pipeline import Batch, Deps, FeedReport, run_pass
from poster.pipeline.gatekeeper import Gatekeeper
from poster.pipeline.outbox import Lane
from poster.pipeline.pacing import Pacer
from poster.pipeline.stages import Media
from poster.pipeline.timings import Timings
from poster.store import Store
from poster.store.ledger import UNCERTAIN, clear_refusal, fatal_key
from poster.store.store import CRASHED

if TYPE_CHECKING:
    from poster.select import Decision

Clock = Callable[[], float]
Sleep = Callable[[float], None]
Now = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


log = logging.getLogger(__name__)


@frozen
class PassSummary:
    """Counts over one pass, for a person to read."""

    feeds: int
    failed_feeds: int
    sent: int
    failed: int
    deferred: int
    uncertain: int
    unread: int = 0
    """Feeds a stop left unread, or broke off."""

    def __str__(self) -> str:
        unread = f", {self.unread} not read as the pass was stopped" if self.unread else ""
        return (
            f"{self.feeds} feeds read ({self.failed_feeds} failed){unread}; posts: {self.sent} "
            f"sent, {self.failed} failed, {self.deferred} waiting, {self.uncertain} uncertain"
        )


def summarize(reports: Sequence[FeedReport]) -> PassSummary:
    """Count what a pass did."""
    deliveries = [o.delivery for r in reports for o in r.outcomes]
    unread = sum(isinstance(r.error, ReadStopped) for r in reports)
    return PassSummary(
        feeds=len(reports) - unread,
        failed_feeds=sum(r.error is not None for r in reports) - unread,
        sent=deliveries.count(State.SENT),
        failed=deliveries.count(State.FAILED),
        deferred=deliveries.count(State.DEFERRED),
        uncertain=deliveries.count(State.UNCERTAIN),
        unread=unread,
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


def resume_interrupted(store: Store, destinations: Mapping[str, Destination]) -> int:
    """Release items a crash interrupted at destinations that record each recipient themselves."""
    names = {
        name
        for name, destination in destinations.items()
        if isinstance(destination, KeepsRecipients) and destination.resumes_interrupted()
    }
    released = 0
    for record in store.deliveries(states=(UNCERTAIN,)) if names else ():
        if record.destination in names and record.last_error == CRASHED:
            released += store.retry(
                record.feed, record.key, states=(UNCERTAIN,), destination=record.destination
            )
    if released:
        log.warning("event=resume-interrupted items=%d", released)
    return released


def lanes(
    app: App, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep, now: Now = _utcnow
) -> dict[str, Lane]:
    """Return a lane per opened destination, paced and gated as its section says.

    The gap holds from each destination's last post, made before this process started too.
    """
    last = app.store.last_posts()
    found = {}
    for spec in app.specs:
        pacer = Pacer(spec.min_gap.total_seconds(), spec.max_per_pass, clock=clock, sleep=sleep)
        if spec.name in last:
            pacer.posted_ago((now() - last[spec.name]).total_seconds())
        gate = (
            Gatekeeper(spec.name, spec.gate, app.store, now=now, sent_since=app.store.sent_since)
            if spec.gate.active
            else None
        )
        found[spec.name] = Lane(app.destinations[spec.name], pacer, clock=clock, gate=gate)
    return found


class MediaOnDemand:
    """Build ``app``'s media stage when the first item needs it; until then load none of it.

    A pass where no feed changed posts nothing, so it reads no probe cache and imports none of
    the media code.
    """

    def __init__(self, app: App) -> None:
        self._app = app
        self._stage: Media | None = None
        self._lock = threading.Lock()

    def prepare(
        self, feed: FeedConfig, decisions: Sequence[Decision], kinds: Sequence[object]
    ) -> list[Decision]:
        """Return the decisions with the wanted items' media probed, as the stage does."""
        return self._built().prepare(feed, decisions, kinds)

    def flush(self) -> None:
        """Write what was probed, if the stage was ever built."""
        if self._stage is not None:
            self._stage.flush()

    def _built(self) -> Media:
        """Return the stage, building it on first use; the reading threads share it."""
        with self._lock:
            if self._stage is None:
                from poster.media.setup import media_stage

                app = self._app
                self._stage = media_stage(app.config, app.state_dir, app.feeds_http)
            return self._stage


class RenderAhead:
    """Build the renderer's templates in the background once the first item to post is read.

    Loading Jinja and compiling a template would otherwise delay the pass's first post, which
    waits for every feed to be read; here it overlaps the reads still waiting for their
    servers. A pass where no feed changed starts nothing.
    """

    def __init__(self, app: App) -> None:
        self._app = app
        self._started = threading.Event()

    def __call__(self, batch: Batch) -> None:
        """Start rendering ``batch``'s first item to post, unless a batch already started it."""
        if self._started.is_set():
            return
        self._started.set()
        worker = threading.Thread(
            target=self._build, args=(batch,), name="poster-templates", daemon=True
        )
        worker.start()

    def _build(self, batch: Batch) -> None:
        """Render the first item for each destination of its feed, keeping only the templates."""
        first = batch.wanted()[0].item
        for name in self._app.routes(batch.feed):
            kind = self._app.destinations[name].kind
            try:
                self._app.renderer.render(first, batch.feed, batch.meta, kind)
            except Exception as exc:  # the item's own render reports any fault, in its place
                log.debug("feed=%s status=templates-not-ready error=%s", batch.feed.name, exc)


def deps(app: App, **options: Any) -> Deps:
    """Return the pipeline's dependencies for ``app``'s feeds and destinations."""
    if "media" not in options:
        options["media"] = MediaOnDemand(app)
    return Deps(
        client=app.feeds_http,
        renderer=app.renderer,
        destination=None,
        ledger=app.store,
        workers=app.config.daemon.max_fetches,
        itemize=False,
        route=app.routes,
        kinds=app.kinds,
        own_routes=app.specs is app.config.destinations,
        former=app.former_feeds,
        carry=functools.partial(carry_sends, app.destinations),
        **options,
    )


def run_once(
    app: App,
    feeds: Sequence[FeedConfig],
    timings: Timings | None = None,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    now: Now = _utcnow,
    stopping: Callable[[], bool] = lambda: False,
) -> list[FeedReport]:
    """Run one pass over ``feeds``, draining each destination's lane up to its max_per_pass.

    The pass's state changes reach the disk in batches: each intent to post with the changes
    before it, the rest before a pacing wait and at the end (see ``Store.batched``). Once
    ``stopping`` says so (a SIGTERM), the post in flight finishes and no other starts.
    """
    resend_uncertain(app.store, feeds)
    resume_interrupted(app.store, app.destinations)
    paced = lanes(app, clock=clock, sleep=_flushing(app.store, sleep), now=now)
    needs = deps(app, timings=timings, reread_waiting=True)
    with app.store.batched():
        try:
            reports = run_pass(feeds, needs, paced, RenderAhead(app), stopping)
        finally:
            if needs.media is not None:
                needs.media.flush()
        record_reads(app.store, reports)
        record_refusals(app.store, reports, {spec.name for spec in app.config.destinations})
    return reports


def _flushing(store: Store, sleep: Sleep) -> Sleep:
    """Return ``sleep`` that first writes what the store holds: a wait leaves nothing unwritten."""

    def flush_then_sleep(seconds: float) -> None:
        store.flush()
        sleep(seconds)

    return flush_then_sleep


def record_refusals(store: Store, reports: Sequence[FeedReport], configured: set[str]) -> None:
    """Keep why a destination refused posts for `poster status`; an accepted post clears it.

    As the daemon does, so that status shows a destination a ``run --once`` found refusing.
    A stand-in (a sandbox pass) is not a configured destination and keeps nothing.
    """
    refused: dict[str, str] = {}
    accepted = set()
    for report in reports:
        for outcome in report.outcomes:
            where = outcome.destination
            if where not in configured:
                continue
            if outcome.fatal is not None:
                refused.setdefault(where, str(outcome.fatal))
            elif outcome.delivery == State.SENT:
                accepted.add(where)
    for name, why in refused.items():
        store.set_meta(fatal_key(name), why)
    for name in accepted - refused.keys():
        clear_refusal(store, name)


def record_reads(store: Store, reports: Sequence[FeedReport]) -> None:
    """Keep each feed's read result, so `poster status` shows the last success or failure."""
    now = datetime.now(UTC)
    store.record_fetches_ok((report.feed for report in reports if report.error is None), now)
    for report in reports:
        if isinstance(report.error, ReadStopped):
            continue  # not a failure of the feed: the next pass reads it
        if report.error is not None:
            store.record_fetch_failed(report.feed, now, str(report.error), now)
        elif report.parsed is not None:
            store.set_warning(report.feed, "; ".join(report.parsed.warnings) or None)
