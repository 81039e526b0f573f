"""Decide which parsed items to post: include/exclude rules, items already seen, and order."""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from poster.config import FeedConfig, Rule
from poster.models import Action, Item

POST, FILTERED, SEEN, HELD = Action.POST, Action.FILTERED, Action.SEEN, Action.HELD
HELD_LABEL = "held back on first read"
"""What every command calls such an item: the preview, a run's summary, status and retry."""


@dataclass(frozen=True)
class Decision:
    """What to do with one item, and why."""

    item: Item
    action: Action
    reason: str = ""

    @property
    def wanted(self) -> bool:
        """Tell whether the item should be posted."""
        return self.action == POST


def select(
    items: Iterable[Item],
    feed: FeedConfig,
    seen: Container[str],
    *,
    held: Container[str] = frozenset(),
    first_read: bool = False,
) -> list[Decision]:
    """Return a decision for every item, oldest first: post, filtered, held back or seen.

    ``held`` holds the keys an earlier first read held back. On the feed's ``first_read`` the
    rules decide first, then only the newest ``backlog`` of the items they let through are posted.
    """
    decisions = [_decide(item, feed, seen, held) for item in oldest_first(list(items))]
    return _hold_back(decisions, feed.backlog) if first_read else decisions


def _hold_back(decisions: list[Decision], backlog: int | None) -> list[Decision]:
    """Hold back all but the newest ``backlog`` items to post (all of them when ``None``)."""
    wanted = [index for index, decision in enumerate(decisions) if decision.action == POST]
    keep = len(wanted) if backlog is None else backlog
    reason = f"first read of the feed: backlog = {backlog}"
    for index in wanted[: max(len(wanted) - keep, 0)]:
        decisions[index] = Decision(decisions[index].item, HELD, reason)
    return decisions


def oldest_first(items: Sequence[Item]) -> list[Item]:
    """Order items oldest first: by date when every item has one, else reverse document order.

    Feeds list their newest entries first; when dates are missing that convention is the only
    reliable order left.
    """
    dates = [item.date for item in items]
    if items and all(date is not None for date in dates):
        indexed = sorted(range(len(items)), key=lambda i: (_utc(dates[i]), -i))
        return [items[i] for i in indexed]
    return list(reversed(items))


def _utc(moment: datetime | None) -> float:
    """Return a sortable timestamp for an aware datetime."""
    return moment.timestamp() if moment is not None else 0.0


def _decide(item: Item, feed: FeedConfig, seen: Container[str], held: Container[str]) -> Decision:
    """Decide one item: held back or seen items first, then exclude rules, then include rules."""
    if item.key in held:
        return Decision(
            item, HELD, "the feed's first read kept it back (backlog); it is never posted"
        )
    if item.key in seen:
        return Decision(item, SEEN, "already posted")
    if not feed.exclude and not feed.include:
        return Decision(item, POST)  # no rule reads the text, so it is never derived
    text = searchable_text(item)
    for index, rule in enumerate(feed.exclude):
        if rule.pattern.search(text):
            return Decision(item, FILTERED, f"excluded by {rule.source!r} (exclude[{index}])")
    if feed.include and not _first_match(feed.include, text):
        return Decision(item, FILTERED, "matches no include rule")
    return Decision(item, POST)


def _first_match(rules: Sequence[Rule], text: str) -> Rule | None:
    """Return the first rule whose pattern occurs in ``text``."""
    return next((rule for rule in rules if rule.pattern.search(text)), None)


def searchable_text(item: Item) -> str:
    """Join the fields rules look at: title, summary, plain content and tags, one per line."""
    return "\n".join((item.title, item.summary, item.content_text, *item.tags))
