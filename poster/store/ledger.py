"""Define what the pipeline needs from its state: seen keys, validators, and delivery records.

``Ledger`` is the interface; ``MemoryLedger`` keeps everything in memory (tests, one-off runs),
and ``ReadOnlyLedger`` answers questions from another ledger but writes nothing (the preview).
They and their records live in ``memoryledger`` and load from here on first use, so that the
state's constants, which every command reading the state needs, come without their classes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Protocol

from poster.destinations import shorthand
from poster.lazy import names_from
from poster.models import State

if TYPE_CHECKING:
    from poster.destinations import Entries, Receipt
    from poster.models import Validators
    from poster.store.memoryledger import Delivery as Delivery
    from poster.store.memoryledger import MemoryLedger as MemoryLedger
    from poster.store.memoryledger import ReadOnlyLedger as ReadOnlyLedger
    from poster.store.memoryledger import Recall as Recall
    from poster.store.memoryledger import recall_each as recall_each

Troubles = dict[str, tuple[State, str]]
"""Keys whose record at a destination needs an operator, each with its state and reason."""

PENDING, SENT, FAILED, UNCERTAIN, SEEN, SKIPPED = (
    State.PENDING, State.SENT, State.FAILED, State.UNCERTAIN, State.SEEN, State.SKIPPED
)  # fmt: skip
TROUBLED = (FAILED, UNCERTAIN, SKIPPED)
"""The states of a record that waits for an operator, which ``poster retry`` releases."""

__getattr__ = names_from(
    __name__,
    dict.fromkeys(
        ("Delivery", "MemoryLedger", "ReadOnlyLedger", "Recall", "recall_each"),
        "poster.store.memoryledger",
    ),
)

FATAL_META = "channel.fatal"
"""The state entry holding why the shorthand channel refuses posts (empty while it takes them)."""


RELOAD_REJECTED = "reload rejected"
"""The state entry holding why the daemon refused its last reload, as JSON (empty since one
was taken): it runs the configuration it had before, which ``status`` then says."""


def waiting_key(feed: str) -> str:
    """Return the state entry holding the items of ``feed`` that wait to be posted."""
    return f"waiting in {feed}"


def waiting_keys(entries: Entries, feed: str) -> list[str]:
    """Return the keys of the items kept waiting for ``feed``, oldest first, without building
    the items (``poster.pipeline.waitlist`` builds them, and says when the entry is unreadable)."""
    import json  # here: only a feed with waiting items needs it

    text = entries.get_meta(waiting_key(feed))
    if not text:
        return []
    try:
        return [str(doc["key"]) for doc in json.loads(text)]
    except (ValueError, TypeError, KeyError):
        return []


def fatal_key(destination: str) -> str:
    """Return the state entry holding why a destination refuses every post (empty when not)."""
    # The shorthand keeps the single-channel release's entry, so its state reads the same.
    found = shorthand()
    return FATAL_META if found and destination == found[0] else f"fatal at {destination}"


def clear_refusal(entries: Entries, destination: str) -> None:
    """Forget why ``destination`` refused posts, kept from before: a post to it went."""
    key = fatal_key(destination)
    if entries.get_meta(key):
        entries.set_meta(key, "")


def sender_key(destination: str) -> str:
    """Return the state entry under which a destination's looked-up sender is remembered."""
    return f"sender to {destination}"


def sender_token_key(destination: str) -> str:
    """Return the state entry holding a fingerprint of the token the sender was looked up with."""
    return f"sender token of {destination}"


KeyedBy = tuple[str | None, str | None]
"""What makes a feed's item keys: its ``key`` setting and its JSON mapping's ``id``."""


class Ledger(Protocol):
    """What the pipeline reads and records about feeds and deliveries."""

    def validators(self, feed: str) -> Validators | None:
        """Return the validators saved after the feed's last successful pass."""
        ...

    def save_validators(self, feed: str, validators: Validators) -> None:
        """Keep validators for the next conditional fetch."""
        ...

    def is_known(self, feed: str, key: str, destination: str | None = None) -> bool:
        """Tell whether the item has a record for ``destination`` (or any, when None).

        A backlog item marked seen counts for every destination.
        """
        ...

    def record_pending(self, feed: str, key: str, destination: str) -> None:
        """Record the intent to post, before the destination is called."""
        ...

    def record_sent(self, feed: str, key: str, receipt: Receipt) -> None:
        """Record that the destination accepted the item."""
        ...

    def record_failed(self, feed: str, key: str, destination: str, error: str) -> None:
        """Record that the item will not be posted as is, and why."""
        ...

    def record_uncertain(self, feed: str, key: str, destination: str, error: str) -> None:
        """Record that the request may have arrived: never re-sent without an operator."""
        ...

    def record_skipped(self, feed: str, key: str, destination: str, reason: str) -> None:
        """Record that the item waited too long to be posted, and why; a retry sends it."""
        ...

    def release(self, feed: str, key: str, destination: str) -> None:
        """Forget a pending record whose post was deferred, so a later pass sends it."""
        ...

    def has_history(self, feed: str) -> bool:
        """Tell whether the feed was ever read successfully before."""
        ...

    def is_held_back(self, feed: str, key: str) -> bool:
        """Tell whether the feed's first read held the item back, so it is never posted."""
        ...

    def mark_seen(self, feed: str, keys: Iterable[str]) -> None:
        """Remember items as known without posting them (a new feed's backlog)."""
        ...

    def mark_seen_at(self, feed: str, keys: Iterable[str], destination: str) -> None:
        """Remember items as known at ``destination`` without posting them there.

        The backlog of a destination that joins a feed's ``to``: the feed's first read for it.
        """
        ...

    def routes(self, feed: str) -> frozenset[str] | None:
        """Return every destination the feed's items were selected for; None before any was."""
        ...

    def remember_routes(self, feed: str, routes: Iterable[str]) -> None:
        """Keep ``routes`` as every destination the feed's items were selected for."""
        ...

    def get_meta(self, name: str) -> str | None:
        """Return a named state entry (the items a feed leaves waiting), if there is one."""
        ...

    def set_meta(self, name: str, value: str) -> None:
        """Keep a named state entry."""
        ...

    def keyed_by(self, feed: str) -> KeyedBy | None:
        """Return the settings the feed's keys were made by; None before any read kept them."""
        ...

    def remember_keyed_by(self, feed: str, keyed: KeyedBy) -> None:
        """Keep the settings the feed's keys are made by."""
        ...

    def recall(self, feed: str, keys: Collection[str], destinations: Collection[str]) -> Recall:
        """Tell, at once, whether the feed has history and which keys are known or held back."""
        ...

    def troubles(self, feed: str, keys: Collection[str], destination: str) -> Troubles:
        """Return those of ``keys`` failed, uncertain or skipped at ``destination``, and why."""
        ...
