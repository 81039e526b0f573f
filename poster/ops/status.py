"""Show an operator what poster is doing: the feeds, the destinations and the deliveries.

``status_view`` gathers their state into a ``StatusView`` and ``format_status`` presents it as
text; ``statusjson`` presents it as JSON.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from poster import push
from poster.config import Config
from poster.filled import whole
from poster.frozen import frozen
from poster.ops.commands import OPERATOR_DISABLED, RETRYABLE, paused_key
from poster.ops.destination_status import (
    DestinationStatus,
    destination_rows,
    destination_statuses,
)
from poster.store import DeliveryRecord, FeedState, Store
from poster.store.files import RECIPIENTS_FOLDER
from poster.store.ledger import (
    FAILED,
    PENDING,
    RELOAD_REJECTED,
    SENT,
    SKIPPED,
    UNCERTAIN,
)
from poster.terminal import terminal_safe

if TYPE_CHECKING:
    from poster.destinations.gateway.subscribers import GatewaySubscribers
    from poster.pipeline.holds import Waiting
    from poster.push.lease import Subscription

RECENT = 10
STATE_ROOM = 1024 * 1024
"""The least free space that lets poster record its posts: a journal append, a compaction."""
_DELIVERED = (PENDING, SENT, FAILED, UNCERTAIN)
STOPPED_PENDING = "poster stopped before the answer came; the next start makes it uncertain."

STATE_MEANINGS = {
    SENT: "the destination accepted the post.",
    PENDING: "being posted right now.",
    FAILED: (
        "the API refused it, or its template failed (the reason says which); fix the cause, "
        "then `poster retry` (FEED KEY, or --failed for all)."
    ),
    UNCERTAIN: (
        "poster stopped, or the connection dropped, before the destination answered; check it, "
        "then `poster retry` to send again or leave it (FEED KEY, or --uncertain for all); for a "
        "gateway, `poster recipients uncertain NAME` lists the batches to release or settle."
    ),
    SKIPPED: "held longer than max_wait, so not posted stale; `poster retry` sends it "
    "(FEED KEY, or --skipped for all).",
}


@frozen
class FeedStatus:
    """One feed as configured and as the store remembers it."""

    name: str
    configured: bool
    enabled: bool
    state: FeedState
    paused_at: datetime | None = None
    """When an operator paused the feed, if it is paused and that is known."""
    push: Subscription | None = None
    """The feed's WebSub subscription, if it has one."""
    push_shown: bool = False
    """Whether to show the subscription, even when there is none (push is set up)."""

    @property
    def paused(self) -> bool:
        """Tell whether an operator paused the feed (``poster feed disable``)."""
        return self.state.disabled == OPERATOR_DISABLED

    @property
    def condition(self) -> str:
        """Name the feed's condition in a word or three."""
        if not self.configured:
            return "not in feeds.toml"
        if not self.enabled:
            return "off in feeds.toml"
        if self.paused:
            return "paused"
        if self.state.disabled is not None:
            return "disabled"
        if self.state.consecutive_failures:
            return f"failing ({self.state.consecutive_failures} in a row)"
        return "ok" if self.state.last_success is not None else "not read yet"

    @property
    def needs_attention(self) -> bool:
        """Tell whether a running feed is disabled or failing; a pause is an operator's intent."""
        running = self.configured and self.enabled and not self.paused
        return running and (self.state.disabled is not None or self.state.consecutive_failures > 0)


@frozen
class StatusView:
    """Everything ``poster status`` shows, gathered at ``now``."""

    now: datetime
    state_path: Path
    state_exists: bool
    destinations: tuple[DestinationStatus, ...]
    feeds: tuple[FeedStatus, ...]
    problems: tuple[DeliveryRecord, ...]
    """Every failed and uncertain delivery, oldest first."""
    recent: tuple[DeliveryRecord, ...]
    """The newest deliveries, newest first."""
    waiting: tuple[str, ...] = ()
    """Operator requests left in the inbox, oldest first."""
    daemon_running: bool = False
    restored: str | None = None
    """When and why the state was last written back from memory, if ever."""
    held: tuple[tuple[str, Waiting], ...] = ()
    """Posts held by a destination's quiet hours or daily cap, with the destination's name."""
    subscribers: tuple[GatewaySubscribers, ...] = ()
    """Each gateway destination's recent items, counted per recipient state."""
    stopped: bool = False
    """No poster holds the state: what is pending was cut short, not being sent."""
    state_free: int | None = None
    """Bytes free on the disk holding the state, when known."""
    reload_rejected: tuple[datetime, tuple[str, ...], int] | None = None
    """When the running daemon refused its last reload, the first problems, and how many:
    it runs the configuration it had before, not the file's."""

    # Kept once made: the verdict line and the exit code both ask, and it reads every feed.
    @functools.cached_property
    def attention(self) -> tuple[str, ...]:
        """List what needs a person, one phrase each; empty when all is well."""
        found: list[str] = []
        if self.reload_rejected is not None:
            found.append(
                "the daemon refused the last reload of feeds.toml and runs the configuration it "
                "had before; this status shows the file's: fix it, then reload"
            )
        if not self.state_exists:
            found.append("no state yet: poster has not run with this state directory")
        elif self.state_free is not None and self.state_free < STATE_ROOM:
            found.append(
                f"the disk holding the state has {self.state_free // 1024} KiB free: poster "
                "can soon record no post, and sends none it cannot record; free space"
            )
        found += [f"destination {d.name!r} refuses posts" for d in self.destinations if d.fatal]
        for state in (FAILED, UNCERTAIN):  # a skip is the max_wait the operator chose
            count = sum(record.state == state for record in self.problems)
            if count:
                found.append(f"{count} {state} item{'s' if count > 1 else ''}")
        if self.stopped:
            count = sum(record.state == PENDING for record in self.recent)
            if count:
                found.append(
                    f"{count} post{'s' if count > 1 else ''} left pending by a poster that "
                    "stopped before the answer came (the next start makes them uncertain)"
                )
        found += _gateway_attention(self.subscribers, self.stopped)
        found += [f"feed {f.name!r} {f.condition}" for f in self.feeds if f.needs_attention]
        if self.waiting and not self.daemon_running:
            count = len(self.waiting)
            found.append(
                f"{count} request{'s' if count > 1 else ''} waiting in the inbox with no daemon "
                "to apply them (`poster run`, or any retry or feed command, applies them)"
            )
        return tuple(found)


def _gateway_attention(gateways: Sequence[GatewaySubscribers], stopped: bool) -> list[str]:
    """Say which gateways have batches whose answer was lost, or cut short by a stop."""
    found = []
    for gateway in gateways:
        name = gateway.destination
        batches, numbers = gateway.uncertain
        if batches:
            found.append(
                f"{batches} uncertain batch{'es' if batches > 1 else ''} ({numbers} numbers) at "
                f"{name!r}: see `poster recipients uncertain {name}`"
            )
        batches, numbers = gateway.pending
        if batches and stopped:
            found.append(
                f"{batches} batch{'es' if batches > 1 else ''} ({numbers} numbers) at {name!r} "
                "left pending by a stop (the next start makes them uncertain)"
            )
    return found


# Status makes one for every feed, from a dict of every field ``_feed_status`` writes anew
# for each (see ``poster.filled``).
_feed_status_of = whole(FeedStatus)


def status_view(
    config: Config,
    store: Store,
    now: datetime,
    waiting: Sequence[str] = (),
    daemon_running: bool = False,
    stopped: bool = False,
) -> StatusView:
    """Gather the status of every feed, destination, delivery and waiting request.

    ``stopped`` says no poster holds the state, so nothing is being sent.
    """
    subs = _subscriptions(store)
    shown = config.webhook.public_url is not None or bool(subs)
    gone = config.unnamed(store.feed_names())
    listed = [
        *((f.name, True, f.enabled) for f in config.feeds),
        *((n, False, False) for n in gone),
    ]
    states = store.feed_states(name for name, _, _ in listed)
    feeds = [
        _feed_status(store, states[name], configured, enabled, subs.get(name), shown)
        for name, configured, enabled in listed
    ]
    return StatusView(
        now=now,
        state_path=store.path,
        state_exists=store.path.exists(),
        destinations=destination_statuses(config, store),
        feeds=tuple(feeds),
        problems=tuple(store.deliveries(states=RETRYABLE)),
        recent=tuple(store.recent(RECENT, states=_DELIVERED)),
        waiting=tuple(waiting),
        daemon_running=daemon_running,
        restored=store.restored,
        held=_held(config, store, now),
        subscribers=_subscribers(config, store.path.parent),
        stopped=stopped,
        state_free=_free(store.path.parent),
        reload_rejected=_reload_rejected(store) if daemon_running else None,
    )


def _subscriptions(store: Store) -> dict[str, Subscription]:
    """Return each feed's kept WebSub subscription; their module loads only when there are any."""
    if store.get_meta(push.META) is None and not store.metas(push.ENTRY):
        return {}
    from poster.push import subscriptions

    return subscriptions.load(store)


def _reload_rejected(store: Store) -> tuple[datetime, tuple[str, ...], int] | None:
    """Return when and why the running daemon refused its last reload, if it did."""
    text = store.get_meta(RELOAD_REJECTED)
    if not text:
        return None
    import json  # here: only a refused reload is kept as JSON

    try:
        found = json.loads(text)
        problems = tuple(str(problem) for problem in found["problems"])
        return datetime.fromisoformat(found["at"]), problems, int(found["count"])
    except (ValueError, TypeError, KeyError):
        return None


def _free(folder: Path) -> int | None:
    """Return the bytes free to poster on the disk holding ``folder``, None when unknown."""
    try:
        found = os.statvfs(folder)
    except OSError:
        return None
    return found.f_bavail * found.f_frsize


def _held(config: Config, store: Store, now: datetime) -> tuple[tuple[str, Waiting], ...]:
    """Return the posts a destination's gate holds now: not those it went on to settle.

    A post held before quiet hours or a daily cap were taken off its destination, before the
    post went out, or before the destination was taken off its feed's ``to``, is no longer
    held, whatever the kept list of the gate still says.
    """
    gates = [(d.name, d.gate) for d in config.destinations if d.gate.active]
    if not gates:
        return ()
    from poster.pipeline.gatekeeper import held_posts  # here: only a gate holds posts

    return tuple(
        (name, post)
        for name, post in held_posts(gates, store, now)
        if _routed(config, post.feed, name) and not store.is_known(post.feed, post.key, name)
    )


def _routed(config: Config, feed: str, destination: str) -> bool:
    """Tell whether ``feed`` is configured and posts to ``destination``."""
    found = config.feed(feed)
    return found is not None and destination in config.routes(found)


def _subscribers(config: Config, state_dir: Path) -> tuple[GatewaySubscribers, ...]:
    """Count each gateway's recipients; the ledgers' code loads only when there are ledgers."""
    if not (state_dir / RECIPIENTS_FOLDER).is_dir():
        return ()
    from poster.destinations.gateway.subscribers import read_subscribers

    return read_subscribers(config, state_dir)


def _feed_status(
    store: Store,
    state: FeedState,
    configured: bool,
    enabled: bool,
    push: Subscription | None,
    push_shown: bool,
) -> FeedStatus:
    """Return one feed's status, with when it was paused when an operator paused it."""
    name = state.feed
    paused_at = None
    if state.disabled == OPERATOR_DISABLED:
        with contextlib.suppress(TypeError, ValueError):  # unknown stays unknown, never an error
            paused_at = datetime.fromisoformat(store.get_meta(paused_key(name)) or "")
    return _feed_status_of(
        {
            "name": name,
            "configured": configured,
            "enabled": enabled,
            "state": state,
            "paused_at": paused_at,
            "push": push,
            "push_shown": push_shown,
        }
    )


# Presentation


_Row = tuple[tuple[str, ...], tuple[str, ...]]
"""One table row: its cells, and lines shown indented beneath it (a pair, not a record: the
formatter makes one for each feed and reads it once)."""


def format_status(view: StatusView) -> str:
    """Render the status for a person: destinations, feeds, problem items, recent deliveries."""
    lines = [f"poster status at {_clock(view.now)}; state {view.state_path}", ""]
    if view.reload_rejected is not None:
        when, problems, count = view.reload_rejected
        lines += [f"The daemon refused the reload of {_when(when, view.now)}; it runs the "
                  "configuration it had before:"]  # fmt: skip
        lines += [f"  {problem}" for problem in problems]
        if count > len(problems):
            lines.append(f"  and {count - len(problems)} more (see the daemon's log)")
        lines.append("")
    lines += [
        "Destinations",
        *_table(
            ("DESTINATION", "KIND", "POSTING", "LAST POST", "WAITING"), _destination_rows(view)
        ),
        "",
        "Feeds",
        *_table(("FEED", "CONDITION", "LAST SUCCESS", "NEXT READ"), _feed_rows(view)),
    ]
    if view.subscribers:
        from poster.destinations.gateway.subscribers import HEADER, subscriber_rows

        rows = list(subscriber_rows(view.subscribers))
        lines += ["", "Subscribers (newest items first)", *_table(HEADER, rows)]
    if view.problems:
        lines += ["", f"{_problem_title(view)} ({len(view.problems)}, oldest first)"]
        lines += _table(_item_header(view, "SINCE"), _item_rows(view, view.problems, errors=True))
    if view.held:
        lines += ["", f"Posts held by quiet hours or a daily cap ({len(view.held)}, oldest first)"]
        lines += _table(("DESTINATION", "FEED", "KEY", "HELD SINCE"), _held_rows(view))
    if view.waiting:
        who = "the running daemon applies them" if view.daemon_running else "no daemon runs"
        lines += ["", f"Requests waiting in the inbox ({len(view.waiting)}; {who})"]
        lines += [f"  {request}" for request in view.waiting]
    if view.restored:
        lines += ["", "State", f"  written back: {view.restored}"]
    lines += ["", "Recent deliveries (newest first)"]
    if view.recent:
        lines += _table(_item_header(view, "WHEN"), _item_rows(view, view.recent, errors=False))
    else:
        lines.append("  none yet")
    shown = {record.state for record in (*view.problems, *view.recent)}
    if shown:
        lines += ["", "What the states mean"]
        meanings = {**STATE_MEANINGS, PENDING: STOPPED_PENDING} if view.stopped else STATE_MEANINGS
        lines += [f"  {s:<9}  {meanings[s]}" for s in meanings if s in shown]
    verdict = "Needs attention: " + "; ".join(view.attention) if view.attention else "All good."
    return terminal_safe("\n".join([*lines, "", verdict]) + "\n")


def _problem_title(view: StatusView) -> str:
    """Name the kinds of items the problem table lists."""
    if any(record.state == SKIPPED for record in view.problems):
        return "Failed, uncertain and skipped items"
    return "Failed and uncertain items"


def _held_rows(view: StatusView) -> list[_Row]:
    """Describe each held post in a row, with when it is expected to go out beneath."""
    return [
        (
            (name, post.feed, post.key, _when(post.since, view.now)),
            (str(post.hold) if post.hold else "goes out on the next pass",),
        )
        for name, post in view.held
    ]


def _destination_rows(view: StatusView) -> list[_Row]:
    """Describe each destination in a row, its sender and any refusal beneath."""
    rows = destination_rows(view.destinations, lambda when: _when(when, view.now))
    return list(rows)


def _feed_rows(view: StatusView) -> list[_Row]:
    """Describe each feed in a row, with its error or why it is disabled beneath."""
    rows: list[_Row] = []
    now = view.now
    for feed in view.feeds:
        state, paused = feed.state, feed.paused
        notes = []
        if paused and feed.configured:
            since = f" since {_when(feed.paused_at, now)}" if feed.paused_at else ""
            resume = f"`poster feed enable {feed.name}` resumes it"
            notes.append(f"paused by an operator{since}; {resume}")
        elif state.disabled is not None and feed.configured:
            notes.append(f"why: {state.disabled}{_resume_hint(feed)}")
        if state.last_error is not None:
            notes.append(f"last error {_when(state.last_failure, now)}: {state.last_error}")
        if state.last_warning is not None:
            notes.append(f"the last read warned: {state.last_warning}")
        if feed.push_shown:
            from poster.push.describe import describe  # here: only with push set up

            notes.append(describe(feed.push, lambda when: _when(when, now)))
        poll = state.next_poll if state.next_attempt is None else None
        if poll is not None and poll.hinted:
            notes.append(f"next read put off by the publisher: {poll.why}")
        next_read = state.next_attempt or (poll.at if poll is not None else None)
        if not feed.configured or paused:
            next_read = None  # a feed gone from feeds.toml, or paused, is not read
        cells = (feed.name, feed.condition, _when(state.last_success, now), _when(next_read, now))
        rows.append((cells, tuple(notes)))
    return rows


def _resume_hint(feed: FeedStatus) -> str:
    """Tell how a feed disabled after failures comes back."""
    return f"; poster tries it again now and then; `poster feed enable {feed.name}` resumes it now"


def _item_header(view: StatusView, when: str) -> tuple[str, ...]:
    """Head the table of deliveries, naming the destination when there are several."""
    where = ("DESTINATION",) if len(view.destinations) > 1 else ()
    return ("STATE", *where, "FEED", "KEY", "TRIES", when)


def _item_rows(view: StatusView, records: Sequence[DeliveryRecord], *, errors: bool) -> list[_Row]:
    """Describe each delivery in a row, with its last error beneath when ``errors``."""
    several = len(view.destinations) > 1
    rows: list[_Row] = []
    for record in records:
        where = (record.destination,) if several else ()
        cells = (record.state, *where, record.feed, record.key, str(record.attempts))
        notes = (record.last_error,) if errors and record.last_error else ()
        rows.append(((*cells, _when(record.updated, view.now)), notes))
    return rows


def _table(header: tuple[str, ...], rows: Sequence[_Row]) -> list[str]:
    """Align ``rows`` under ``header`` in columns, notes indented beneath their row."""
    everything: list[_Row] = [(header, ()), *rows]
    # strict: a row without a cell under each heading is a mistake, never padded.
    columns = zip(*(cells for cells, _ in everything), strict=True)
    # Each cell left-aligned in its column's width, as str.ljust pads it.
    line = "  " + "  ".join(f"{{:<{max(map(len, column))}}}" for column in columns)
    lines = []
    for cells, notes in everything:
        lines.append(line.format(*cells).rstrip())
        if notes:
            lines += [f"      {note}" for note in notes]
    return lines


def _clock(when: datetime) -> str:
    """Show a time in UTC to the minute, as ``strftime("%Y-%m-%d %H:%M UTC")`` would."""
    utc = when.astimezone(UTC)
    # The fields one by one: strftime takes ten times as long, once for each of 1,000 feeds.
    return f"{utc.year}-{utc.month:02d}-{utc.day:02d} {utc.hour:02d}:{utc.minute:02d} UTC"


# Many feeds share their times (the fetches of one pass are recorded at one time), so each
# distinct time is described once.
@functools.lru_cache(maxsize=4096)
def _when(when: datetime | None, now: datetime) -> str:
    """Show a time with how long ago, or how soon, it is."""
    if when is None:
        return "-"
    delta = when - now
    if abs(delta) < timedelta(minutes=1):
        relative = "now"
    elif delta < timedelta(0):
        relative = f"{_span(-delta)} ago"
    else:
        relative = f"in {_span(delta)}"
    return f"{_clock(when)} ({relative})"


def _span(delta: timedelta) -> str:
    """Show a duration in its largest whole unit."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}min"
