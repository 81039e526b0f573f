"""Describe each configured destination for ``poster status``: kind, sender, posting, backlog."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from poster.config import Config, DestinationConfig
from poster.destinations import KnowsSender, kind, sender
from poster.frozen import frozen
from poster.models import State
from poster.store import Store
from poster.store.ledger import fatal_key, waiting_key, waiting_keys

SOURCES = {
    "feeds.toml": "from feeds.toml",
    "remembered": "looked up on the first post and remembered",
}
"""How ``poster status`` says where a sender comes from."""


@frozen
class DestinationStatus:
    """One destination: its kind, who it posts as, whether it takes posts, what waits for it."""

    name: str
    kind: str
    has_sender: bool
    """Whether the kind posts as someone (a channel's superadmin); the rest show no sender."""
    sender: str | None
    sender_from: str | None
    """``feeds.toml``, or ``remembered`` when looked up on the first post."""
    fatal: str | None
    """Why the destination refuses every post, while it does."""
    last_post: datetime | None
    waiting: int
    """Items that wait for it: released by an operator, or left waiting by a pass or a stopped
    daemon (quiet hours, ``max_per_pass``, a refusal); each goes on its feed's next pass."""


def destination_statuses(config: Config, store: Store) -> tuple[DestinationStatus, ...]:
    """Return the status of every configured destination, as the state has it."""
    last = store.last_posts()
    released = store.deliveries(states=(State.RELEASED,))
    waiting = Counter(r.destination for r in released)
    # A refused send leaves its item released and kept waiting both: it counts once.
    waiting.update(_kept_waiting(config, store, {(r.feed, r.key, r.destination) for r in released}))
    return tuple(
        _status(spec, store, last.get(spec.name), waiting[spec.name])
        for spec in config.destinations
    )


def _kept_waiting(
    config: Config, store: Store, released: set[tuple[str, str, str]]
) -> Counter[str]:
    """Count, for each destination, the kept waiting items of its feeds not yet sent to it,
    but those ``released`` counts already."""
    counts: Counter[str] = Counter()
    kept = store.metas(waiting_key(""))  # looked up once: most feeds keep none
    for feed in config.feeds:
        keys = waiting_keys(store, feed.name) if waiting_key(feed.name) in kept else []
        if not keys:
            continue
        for name in config.routes(feed):
            counts[name] += sum(
                1
                for key in keys
                if (feed.name, key, name) not in released
                and not store.is_known(feed.name, key, name)
            )
    return counts


def _status(
    spec: DestinationConfig, store: Store, last_post: datetime | None, waiting: int
) -> DestinationStatus:
    """Return one destination's status; its kind says who it posts as."""
    known = sender(spec, store)
    return DestinationStatus(
        name=spec.name,
        kind=spec.kind,
        has_sender=isinstance(kind(spec.kind), KnowsSender),
        sender=known.id if known else None,
        sender_from=known.source if known else None,
        fatal=store.get_meta(fatal_key(spec.name)) or None,
        last_post=last_post,
        waiting=waiting,
    )


def destination_rows(
    statuses: Sequence[DestinationStatus], when: Callable[[datetime | None], str]
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Return each destination's cells and the notes beneath them (sender, refusal)."""
    rows: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for status in statuses:
        notes = []
        if status.sender is not None:
            source = status.sender_from or ""
            notes.append(f"sender {status.sender} ({SOURCES.get(source, source)})")
        elif status.has_sender:
            notes.append("sender not known yet (looked up on the first post)")
        if status.fatal:
            notes.append(f"refuses posts: {status.fatal}")
        posting = "REFUSED" if status.fatal else "ok"
        cells = (status.name, status.kind, posting, when(status.last_post), str(status.waiting))
        rows.append((cells, tuple(notes)))
    return rows


def destination_json(status: DestinationStatus) -> dict[str, Any]:
    """Return one destination's status as JSON values."""
    return {
        "name": status.name,
        "kind": status.kind,
        "sender": status.sender,
        "sender_from": status.sender_from,
        "fatal": status.fatal,
        "last_post": None if status.last_post is None else status.last_post.isoformat(),
        "waiting": status.waiting,
    }
