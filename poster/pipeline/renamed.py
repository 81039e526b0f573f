"""Go on where an item's old name stopped: a renamed feed's first read, and a change of key.

The state keeps a feed's posts, its waiting items and its recipients' sends under its name, so
a feed renamed in feeds.toml reads for the first time. Its first read looks at the feeds the
state keeps that feeds.toml no longer names (``former``):

- an item one of them posted at a destination, or held back, is held back there whatever
  ``backlog`` says, and is never posted twice;
- an item one of them left failed, uncertain or skipped is the renamed feed's, as it was, for
  ``poster status`` to list and ``poster retry`` to send (``take_over``, which a change of
  ``key`` uses too);
- an item one of them left waiting (quiet hours, ``max_per_pass``, a daily cap, a refusal to
  retry) is posted whatever ``backlog`` says, and a destination that keeps each recipient's
  send sends it only to those that did not get it or may have.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from poster.frozen import frozen, replace
from poster.models import Action, State
from poster.pipeline.waitlist import keep_waiting, waiting_items

if TYPE_CHECKING:
    from poster.config import FeedConfig
    from poster.destinations import Moves
    from poster.items import Item
    from poster.pipeline.stages import Carry
    from poster.select import Decision
    from poster.store.ledger import Ledger
    from poster.store.memoryledger import Recall

log = logging.getLogger(__name__)


@frozen
class Carried:
    """What a renamed feed's first read takes over from the feeds feeds.toml no longer names."""

    items: tuple[Item, ...]
    """The items to decide: the document's, then those a former feed left waiting it lacks."""
    known: Recall
    """What is known of the items once what the former feeds gave was held back."""
    knew: Mapping[str, str]
    """The keys a former feed gave or held back at a destination, each with that feed."""
    owed: Mapping[str, str]
    """The keys a former feed left waiting, each with that feed: posted whatever the backlog."""
    troubled: Mapping[str, State]
    """The keys a former feed left failed, uncertain or skipped somewhere, now the new one's."""

    @property
    def former(self) -> set[str]:
        """Return the former feeds the read takes anything over from."""
        return {*self.knew.values(), *self.owed.values()}


def carry_over(
    feed: FeedConfig,
    items: Sequence[Item],
    routes: tuple[str, ...],
    ledger: Ledger,
    former: Collection[str],
    carry: Carry | None,
) -> Carried | None:
    """Take over, on ``feed``'s first read, what the ``former`` feeds gave, held back or left
    waiting at its destinations; None when they knew none of its items."""
    names = sorted(former)
    kept, owed = _left_waiting(ledger, names)
    listed = {item.key for item in items}
    # Kept oldest first; placed after the document's as a feed lists, newest first.
    extra = [item for key, item in kept.items() if key not in listed]
    items = (*items, *reversed(extra))
    keys = [item.key for item in items]
    knew: dict[str, str] = {}
    troubled: dict[str, State] = {}
    for route in routes:
        given = _given_at(route, feed.name, keys, names, ledger, troubled)
        for key, name in given.items():
            knew.setdefault(key, name)
        # Only what a former feed sent there, or left waiting, has sends to go on with.
        moves = {(name, key): (feed.name, key) for key, name in {**owed, **given}.items()}
        if carry is not None and moves:
            carry(route, moves)
    if not knew and not owed:
        return None
    again = ledger.recall(feed.name, keys, routes)
    # A waiting item may have gone everywhere already: a daemon keeps what its lanes hold.
    owed = {key: name for key, name in owed.items() if key not in again.known}
    known, waiting = Counter(knew.values()), Counter(owed.values())
    for name in sorted(known.keys() | waiting.keys()):
        log.info(
            "feed=%s status=first-read carried_from=%s known=%d waiting=%d",
            feed.name, name, known[name], waiting[name],
        )  # fmt: skip
    # The read stays the first for every item no former feed knew.
    return Carried(tuple(items), replace(again, history=False), knew, owed, troubled)


def _left_waiting(ledger: Ledger, names: Sequence[str]) -> tuple[dict[str, Item], dict[str, str]]:
    """Return the items the feeds ``names`` keep waiting, and the feed that keeps each."""
    items: dict[str, Item] = {}
    owed: dict[str, str] = {}
    for name in names:
        for item in waiting_items(ledger, name, ()):
            items.setdefault(item.key, item)
            owed.setdefault(item.key, name)
    return items, owed


def _given_at(
    route: str,
    feed: str,
    keys: Sequence[str],
    names: Sequence[str],
    ledger: Ledger,
    troubled: dict[str, State],
) -> dict[str, str]:
    """Hold back at ``route``, as ``feed``'s, the ``keys`` the feeds ``names`` have a record of
    there, taking over those that wait for an operator (into ``troubled``); return each key
    with the first of those feeds that knew it."""
    given: dict[str, str] = {}
    for name in names:
        found = ledger.recall(name, keys, (route,)).known - given.keys()
        given.update(dict.fromkeys(found, name))
        moves = {(name, key): (feed, key) for key in found}
        troubled.update((key, state) for (_, key), state in take_over(ledger, moves, route))
    return given


def take_over(ledger: Ledger, moves: Moves, route: str) -> list[tuple[tuple[str, str], State]]:
    """Hold back at ``route``, under its new ``(feed, key)``, each item of ``moves`` known there
    under its old one, so that it is never posted twice.

    One left failed, uncertain or skipped is recorded so under its new name, with its reason:
    it stays in ``poster status``, and ``poster retry`` by its new name sends it. The old
    records are released, so each item is listed once. Returns each such item's new name and
    state.
    """
    taken = _take_troubles(ledger, moves, route)
    for feed in dict.fromkeys(new_feed for new_feed, _ in moves.values()):
        keys = [key for new_feed, key in moves.values() if new_feed == feed]
        ledger.mark_seen_at(feed, keys, route)  # all but the troubled, recorded already
    return taken


def _take_troubles(ledger: Ledger, moves: Moves, route: str) -> list[tuple[tuple[str, str], State]]:
    """Record under its new name each item of ``moves`` that waits for an operator at
    ``route`` under its old one, and release the old record; return their new names and states."""
    taken = []
    moves = {old: new for old, new in moves.items() if old != new}
    for feed in dict.fromkeys(old_feed for old_feed, _ in moves):
        keys = [key for old_feed, key in moves if old_feed == feed]
        for key, (state, why) in ledger.troubles(feed, keys, route).items():
            new = moves[(feed, key)]
            if state == State.FAILED:
                ledger.record_failed(*new, route, why)
            elif state == State.UNCERTAIN:
                ledger.record_uncertain(*new, route, why)
            else:
                ledger.record_skipped(*new, route, why)
            ledger.release(feed, key, route)
            taken.append((new, state))
    return taken


def settle(decisions: list[Decision], carried: Carried, ledger: Ledger) -> list[Decision]:
    """Say which former feed gave or held back each item found known, and forget, among the
    items the former feeds keep waiting, those the renamed feed posts: putting the old name
    back would post them again."""
    posted = {d.item.key for d in decisions if d.action == Action.POST}
    for name in sorted(carried.former):
        kept = waiting_items(ledger, name, ())
        if any(item.key in posted for item in kept):
            keep_waiting(ledger, name, [item for item in kept if item.key not in posted])
    return [_why(d, carried) if d.action == Action.SEEN else d for d in decisions]


def _why(decision: Decision, carried: Carried) -> Decision:
    """Say which former feed gave or held back an item a first read found known."""
    key = decision.item.key
    name = carried.knew.get(key)
    if name is None:
        return decision
    gone = f"as feed {name!r}, which feeds.toml no longer names"
    state = carried.troubled.get(key)
    if state is not None:
        why = (
            f"{state} {gone}: `poster status` lists it under this feed, and `poster retry` sends it"
        )
        return replace(decision, reason=why, trouble=state)
    return replace(decision, reason=f"posted or held back {gone}")
