"""Show what a run would post, item by item, without sending anything or writing state."""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import TYPE_CHECKING, Any

import httpx

from poster.app import stand_ins
from poster.config import Config, DestinationConfig, FeedConfig
from poster.destinations import carry_sends
from poster.fetch.client import FeedClient
from poster.models import State
from poster.pipeline import Deps, FeedReport, Outcome, run_pass
from poster.pipeline.gatekeeper import Gatekeeper, Meta
from poster.pipeline.outbox import Lane
from poster.render import Renderer
from poster.select import FILTERED, HELD, HELD_LABEL, POST, REPEATED, SEEN, troubled
from poster.store import Store
from poster.store.ledger import ReadOnlyLedger
from poster.terminal import terminal_safe

if TYPE_CHECKING:
    # Only a preview given media probes them; a run's summary uses this module too.
    from poster.media.stage import MediaStage

LABELS: dict[str, str] = {
    POST: "would post",
    FILTERED: "filtered out",
    SEEN: "already posted",
    REPEATED: "repeated in the feed",
    HELD: HELD_LABEL,
    State.DEFERRED: "waiting",
    State.SKIPPED: "skipped",
    troubled(State.FAILED): "failed earlier",
    troubled(State.UNCERTAIN): "uncertain earlier",
    troubled(State.SKIPPED): "skipped earlier",
}
"""The words for each decision, the same in the preview, a run's summary and JSON."""


def preview(
    config: Config,
    feeds: Iterable[FeedConfig],
    client: FeedClient,
    *,
    ledger: Store | None = None,
    limit: int | None = None,
    media: MediaStage | None = None,
    meta: Meta | None = None,
    now: Callable[[], datetime] | None = None,
    http: httpx.Client | None = None,
) -> list[FeedReport]:
    """Run the real pipeline over ``feeds``, a read-only ledger and a stand-in per destination.

    Each destination's quiet hours and daily cap apply, counted from ``meta`` as of ``now``; a
    gateway's stand-in may ask its prices through ``http``.
    """
    destinations = stand_ins(config, ledger, http)

    def kinds(feed: FeedConfig) -> tuple[object, ...]:
        return tuple(destinations[name].kind for name in config.routes(feed))

    deps = Deps(
        client=client,
        renderer=Renderer(config.templates_dir),
        destination=None,
        ledger=ReadOnlyLedger(ledger),
        conditional=False,
        limit=limit,
        dry_run=True,
        media=media,
        route=config.routes,
        kinds=kinds,
        former=None if ledger is None else _former_feeds(ledger, config),
        carry=functools.partial(carry_sends, destinations),
    )
    clock = now or (lambda: datetime.now(UTC))
    specs = {spec.name: spec for spec in config.destinations}
    lanes = {
        name: Lane(destination, gate=_gate(specs.get(name), meta, clock))
        for name, destination in destinations.items()
    }
    return run_pass(list(feeds), deps, lanes)


def _former_feeds(store: Store, config: Config) -> Callable[[], frozenset[str]]:
    """Return what tells the feeds ``store`` keeps that ``config`` no longer names, found once
    a first read asks, as a run finds them."""

    @functools.cache
    def former() -> frozenset[str]:
        return frozenset(config.unnamed(store.feed_names()))

    return former


def _gate(
    spec: DestinationConfig | None, meta: Meta | None, clock: Callable[[], datetime]
) -> Gatekeeper | None:
    """Return the gate of a destination with quiet hours or a daily cap, read-only."""
    if spec is None or not spec.gate.active:
        return None
    return Gatekeeper(spec.name, spec.gate, _Peek(meta), now=clock)


class _Peek:
    """Read the state's entries and write none, as the whole preview does."""

    def __init__(self, source: Meta | None) -> None:
        self._source = source

    def get_meta(self, name: str) -> str | None:
        """Return the source's entry called ``name``."""
        return self._source.get_meta(name) if self._source is not None else None

    def set_meta(self, name: str, value: str) -> None:
        """Write nothing."""


def decision_label(outcome: Outcome) -> str:
    """Return the words a person reads for an item's fate in a preview."""
    if outcome.delivery in (State.DEFERRED, State.SKIPPED):
        return LABELS[outcome.delivery]
    if outcome.error is not None:
        return "error"
    return LABELS.get(outcome.decision.fate, outcome.decision.action)


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """Return one item's decision and body as plain JSON data."""
    item = outcome.decision.item
    return {
        "key": item.key,
        "title": item.title,
        "link": item.link,
        "date": item.date.isoformat() if item.date else None,
        "decision": decision_label(outcome),
        "action": outcome.decision.action,
        "reason": outcome.error or outcome.decision.reason or None,
        "destination": outcome.destination,
        "type": outcome.message.type if outcome.message else None,
        "body": dict(outcome.receipt.body) if outcome.receipt else None,
    }


def report_json(report: FeedReport) -> dict[str, Any]:
    """Return one feed's preview as plain JSON data."""
    parsed = report.parsed
    return {
        "feed": report.feed,
        "title": parsed.title if parsed else None,
        "format": parsed.format if parsed else None,
        "error": str(report.error) if report.error else None,
        "items": [outcome_json(o) for o in report.outcomes],
    }


def render_json(reports: Iterable[FeedReport]) -> str:
    """Return the whole preview as one JSON document."""
    document = {"feeds": [report_json(r) for r in reports]}
    return json.dumps(document, ensure_ascii=False, indent=2)


def render_text(reports: Iterable[FeedReport]) -> str:
    """Return the whole preview for a person to read."""
    text = "\n".join(_feed_text(report) for report in reports).rstrip() + "\n"
    return terminal_safe(text)


def _feed_text(report: FeedReport) -> str:
    """Return one feed's section: a heading, then each item oldest first."""
    if report.error is not None:
        return f"== {report.feed}: ERROR {report.error}\n"
    parsed = report.parsed
    title = f" ({parsed.title})" if parsed and parsed.title else ""
    # An item's outcomes, one per destination, share its decision; two items of one key do not.
    items = [list(group) for _, group in groupby(report.outcomes, key=lambda o: id(o.decision))]
    # Items, not posts: an item counts once for each fate it meets at its destinations.
    fates = {id(o): o for outcomes in items for o in _one_per_label(outcomes)}.values()
    counts = tally(fates, decision_label)
    lines = [f"== {report.feed}{title}: {counts}"]
    lines += [f"   note: {warning}" for warning in (parsed.warnings if parsed else ())]
    lines.append("")
    for outcomes in items:
        lines.extend(_item_lines(outcomes))
    return "\n".join(lines)


def _one_per_label(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Return the first of an item's outcomes with each label."""
    return list({decision_label(o): o for o in reversed(outcomes)}.values())


def tally(
    outcomes: Iterable[Outcome],
    label: Callable[[Outcome], str],
    counted: Iterable[tuple[str, int]] = (),
) -> str:
    """Count the outcomes by their label, then add ``counted``: "2 sent, 1 failed"."""
    counts = Counter(label(outcome) for outcome in outcomes)
    counts.update(dict(counted))
    return ", ".join(f"{count} {name}" for name, count in counts.items()) or "no items"


def _item_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """Return the lines for one item: decision, title and date, then each destination's body."""
    first = outcomes[0]
    item = first.decision.item
    date = item.date.strftime("%Y-%m-%d %H:%M %Z") if item.date else "undated"
    lines = [f"[{_label(outcomes)}] {item.title or item.key}", f"    key: {item.key}"]
    lines.append(f"    date: {date}")
    if first.decision.reason and not any(o.error for o in outcomes):
        lines.append(f"    why: {first.decision.reason}")
    for outcome in outcomes:
        lines.extend(_outcome_lines(outcome))
    lines.append("")
    return lines


def _label(outcomes: Sequence[Outcome]) -> str:
    """Name an item's fate, at each destination when they differ ("waiting at news; …")."""
    labels = [decision_label(outcome) for outcome in outcomes]
    if len(set(labels)) == 1:
        return labels[0]
    return "; ".join(
        f"{label} at {outcome.destination}" for label, outcome in zip(labels, outcomes, strict=True)
    )


def _outcome_lines(outcome: Outcome) -> list[str]:
    """Return the lines for one item at one destination: where, why, type, text and JSON body."""
    lines = [] if outcome.destination is None else [f"    to: {outcome.destination}"]
    if outcome.error:
        lines.append(f"    why: {outcome.error}")
    if outcome.receipt is not None and outcome.message is not None:
        text = outcome.receipt.body.get("text")
        lines.append(f"    type: {outcome.message.type}")
        if isinstance(text, str) and text:
            lines.append("    text:")
            lines.extend(f"      | {line}" for line in text.splitlines())
        body = json.dumps(dict(outcome.receipt.body), ensure_ascii=False, indent=2)
        lines.append("    body:")
        lines.extend(f"      {line}" for line in body.splitlines())
    return lines
