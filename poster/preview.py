"""Show what a run would post, item by item, without sending anything or writing state."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from poster.config import Config, FeedConfig
from poster.destinations import kind
from poster.destinations.recording import RecordingDestination
from poster.feedclient import FeedClient
from poster.filters import FILTERED, HELD, HELD_LABEL, POST, SEEN
from poster.ledger import Ledger, ReadOnlyLedger
from poster.media.stage import MediaStage
from poster.pipeline import Deps, FeedReport, Outcome, run_feed
from poster.render import Renderer

LABELS: dict[str, str] = {
    POST: "would post",
    FILTERED: "filtered out",
    SEEN: "already posted",
    HELD: HELD_LABEL,
}
"""The words for each decision, the same in the preview, a run's summary and JSON."""


def preview(
    config: Config,
    feeds: Iterable[FeedConfig],
    client: FeedClient,
    *,
    ledger: Ledger | None = None,
    limit: int | None = None,
    media: MediaStage | None = None,
) -> list[FeedReport]:
    """Run the real pipeline over ``feeds`` with a recording destination and a read-only ledger."""
    deps = Deps(
        client=client,
        renderer=Renderer(config.templates_dir),
        destination=RecordingDestination("viber", kind("viber"), config.viber.sender),
        ledger=ReadOnlyLedger(ledger),
        conditional=False,
        limit=limit,
        dry_run=True,
        media=media,
    )
    return [run_feed(feed, deps) for feed in feeds]


def decision_label(outcome: Outcome) -> str:
    """Return the words a person reads for an item's fate in a preview."""
    if outcome.error is not None:
        return "error"
    return LABELS.get(outcome.decision.action, outcome.decision.action)


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
    return "\n".join(_feed_text(report) for report in reports).rstrip() + "\n"


def _feed_text(report: FeedReport) -> str:
    """Return one feed's section: a heading, then each item oldest first."""
    if report.error is not None:
        return f"== {report.feed}: ERROR {report.error}\n"
    parsed = report.parsed
    title = f" ({parsed.title})" if parsed and parsed.title else ""
    counts = tally(report.outcomes, decision_label)
    lines = [f"== {report.feed}{title}: {counts}", ""]
    for outcome in report.outcomes:
        lines.extend(_outcome_lines(outcome))
    return "\n".join(lines)


def tally(
    outcomes: Iterable[Outcome],
    label: Callable[[Outcome], str],
    counted: Iterable[tuple[str, int]] = (),
) -> str:
    """Count the outcomes by their label, then add ``counted``: "2 sent, 1 failed"."""
    counts = Counter(label(outcome) for outcome in outcomes)
    counts.update(dict(counted))
    return ", ".join(f"{count} {name}" for name, count in counts.items()) or "no items"


def _outcome_lines(outcome: Outcome) -> list[str]:
    """Return the lines for one item: decision, title, reason or text and JSON body."""
    item = outcome.decision.item
    date = item.date.strftime("%Y-%m-%d %H:%M %Z") if item.date else "undated"
    lines = [f"[{decision_label(outcome)}] {item.title or item.key}", f"    key: {item.key}"]
    lines.append(f"    date: {date}")
    reason = outcome.error or outcome.decision.reason
    if reason:
        lines.append(f"    why: {reason}")
    if outcome.receipt is not None and outcome.message is not None:
        text = outcome.receipt.body.get("text")
        lines.append(f"    type: {outcome.message.type}")
        if isinstance(text, str) and text:
            lines.append("    text:")
            lines.extend(f"      | {line}" for line in text.splitlines())
        body = json.dumps(dict(outcome.receipt.body), ensure_ascii=False, indent=2)
        lines.append("    body:")
        lines.extend(f"      {line}" for line in body.splitlines())
    lines.append("")
    return lines
