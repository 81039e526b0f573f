"""Decide which parsed items to post: include/exclude rules, items already seen, and order."""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from typing import TYPE_CHECKING

from poster.frozen import frozen
from poster.models import Action

if TYPE_CHECKING:
    # Named for the checker only: the rules' module loads with the first feed that has rules.
    from poster.config import FeedConfig, Rule
    from poster.models import Item

POST, FILTERED, SEEN, HELD = Action.POST, Action.FILTERED, Action.SEEN, Action.HELD
REPEATED = Action.REPEATED
HELD_LABEL = "held back on first read"
"""What every command calls such an item: the preview, a run's summary, status and retry."""


def troubled(state: str) -> str:
    """Return the fate of a known item whose record at a destination is ``state`` (failed,
    uncertain, skipped): not posted, and waiting for an operator."""
    return f"{SEEN}:{state}"


@frozen
class Decision:
    """What to do with one item, and why."""

    item: Item
    action: Action
    reason: str = ""
    trouble: str = ""
    """For a known item, the state its record at a destination waits in for an operator."""

    @property
    def wanted(self) -> bool:
        """Tell whether the item should be posted."""
        return self.action == POST

    @property
    def fate(self) -> str:
        """Return what a preview or a run's summary counts the item as: its action, or for a
        known item that waits for an operator, that it did not get out (``troubled``)."""
        return troubled(self.trouble) if self.trouble else self.action


def select(
    items: Iterable[Item],
    feed: FeedConfig,
    seen: Container[str],
    *,
    held: Container[str] = frozenset(),
    first_read: bool = False,
    carried: Container[str] = frozenset(),
    owed: Container[str] = frozenset(),
) -> list[Decision]:
    """Return a decision for every item, oldest first: post, filtered, held back or seen.

    ``held`` holds the keys an earlier first read held back. On the feed's ``first_read`` the
    rules decide first, then only the newest ``backlog`` of the items they let through are posted.
    ``carried`` holds the keys a feed renamed into this one knew: when they are the oldest
    items, those newer are new since, and a first read posts them as any later read would.
    ``owed`` holds those of them it left waiting, which a first read posts whatever the backlog.
    """
    listed = list(items)
    repeats = _repeats(listed)
    ordered = oldest_first(listed)
    verdicts = [
        _REPEATED if id(item) in repeats else _decide(item, feed, seen, held) for item in ordered
    ]
    if first_read:
        older = range(_carried_up_to(ordered, carried, verdicts))
        _hold_back(verdicts, feed.backlog, [i for i in older if ordered[i].key not in owed])
    return [Decision(item, *verdict) for item, verdict in zip(ordered, verdicts, strict=True)]


Verdict = tuple[Action, str]
"""An item's action and its reason, before its ``Decision`` is built."""
_POSTED: Verdict = (POST, "")
_KEPT_BACK: Verdict = (HELD, "the feed's first read kept it back (backlog); it is never posted")
_KNOWN: Verdict = (SEEN, "already posted")
_REPEATED: Verdict = (
    REPEATED,
    "the same id as an item before it in the feed's document, which alone is posted",
)


def _repeats(items: Sequence[Item]) -> set[int]:
    """Return the identities of the items whose key an item above them in the document has.

    A feed's ids are unique ("New items should never use a previously-used id"); one a
    document repeats is posted once, as the first item that has it.
    """
    keys: set[str] = set()
    repeats = set()
    for item in items:
        if item.key in keys:
            repeats.add(id(item))
        keys.add(item.key)
    return repeats


def _carried_up_to(
    ordered: Sequence[Item], carried: Container[str], verdicts: Sequence[Verdict]
) -> int:
    """Return how many of the oldest items a renamed feed knew, when it knew them and no other.

    Any other pattern (an item it knew after one it did not: a shared item, or records pruned)
    gives them all, so that the first read's backlog decides for every item it did not know.
    Items the rules filter out, or a repeat, take no part: no read recorded them.
    """
    taking = [i for i, (action, _) in enumerate(verdicts) if action not in (FILTERED, REPEATED)]
    newer = next((n for n, i in enumerate(taking) if ordered[i].key not in carried), len(taking))
    if newer == 0 or any(ordered[i].key in carried for i in taking[newer:]):
        return len(ordered)
    return taking[newer] if newer < len(taking) else len(ordered)


def _hold_back(verdicts: list[Verdict], backlog: int | None, among: Sequence[int]) -> None:
    """Hold back all but the newest ``backlog`` items to post among the verdicts at indices
    ``among``, oldest first (none when ``backlog`` is ``None``)."""
    wanted = [index for index in among if verdicts[index][0] == POST]
    keep = len(wanted) if backlog is None else backlog
    first_read: Verdict = (HELD, f"first read of the feed: backlog = {backlog}")
    for index in wanted[: max(len(wanted) - keep, 0)]:
        verdicts[index] = first_read


def oldest_first(items: Sequence[Item]) -> list[Item]:
    """Order items oldest first: by date when every item has one, else reverse document order.

    Feeds list their newest entries first; when dates are missing that convention is the only
    reliable order left, and it also orders items of the same date.
    """
    dates = [item.date for item in items]
    if items and None not in dates:
        stamps = [date.timestamp() for date in dates if date is not None]
        # A stable sort of the reversed positions keeps later items first among equal dates.
        return [items[i] for i in sorted(reversed(range(len(items))), key=stamps.__getitem__)]
    return list(reversed(items))


def _decide(item: Item, feed: FeedConfig, seen: Container[str], held: Container[str]) -> Verdict:
    """Decide one item: held back or seen items first, then exclude rules, then include rules."""
    if item.key in held:
        return _KEPT_BACK
    if item.key in seen:
        return _KNOWN
    if not feed.exclude and not feed.include:
        return _POSTED  # no rule reads the text, so it is never derived
    text = searchable_text(item)
    for index, rule in enumerate(feed.exclude):
        if _found(rule, f"exclude[{index}]", text, feed, item):
            return FILTERED, f"excluded by {rule.source!r} (exclude[{index}])"
    if feed.include and not any(
        _found(rule, f"include[{index}]", text, feed, item)
        for index, rule in enumerate(feed.include)
    ):
        return FILTERED, "matches no include rule"
    return _POSTED


def _found(rule: Rule, where: str, text: str, feed: FeedConfig, item: Item) -> bool:
    """Tell whether ``rule`` occurs in ``text``; raise ``RuleTimeout`` when it takes too long."""
    try:
        return rule.found_in(text)
    except TimeoutError:
        from poster.config.parts import RULE_SECONDS
        from poster.errors import RuleTimeout

        raise RuleTimeout(
            feed.name,
            f"rule {rule.source!r} ({where}) took over {RULE_SECONDS:g} s on item "
            f"{item.key!r}; its items wait until it is rewritten without repeats inside "
            "repeats, such as (a|aa)+ or (a+)+",
        ) from None


def searchable_text(item: Item) -> str:
    """Join the fields rules look at: title, summary, plain content and tags, one per line."""
    return "\n".join((item.title, item.summary, item.content_text, *item.tags))
