"""Carry out an operator's commands on the store: retries, re-opened items and feed pauses.

``retry_item``, ``retry_states``, ``reopen_item`` and ``set_feed_disabled`` change the store;
the daemon reads it on its next round.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from poster.store import RELEASED, Store
from poster.store.ledger import PENDING, SEEN, SENT, TROUBLED

OPERATOR_DISABLED = "disabled by operator"
"""The reason of a feed paused by ``poster feed disable``; the daemon never re-probes it."""


def paused_key(feed: str) -> str:
    """Return the state entry that keeps when an operator paused the feed."""
    return f"paused {feed}"


RETRYABLE = TROUBLED
RETRYABLE_WORDS = "failed, uncertain and skipped"


_NOT_RETRYABLE: dict[str, str] = {
    SENT: "was sent",
    PENDING: "is being posted right now",
    RELEASED: "is already waiting to be sent on the feed's next pass",
}


def retry_item(store: Store, feed: str, key: str) -> bool:
    """Release one failed or uncertain item so the feed's next pass sends it; tell if it was."""
    if not store.retry(feed, key):
        return False
    _read_in_full(store, feed)
    return True


REOPENABLE = (SENT, *RETRYABLE, SEEN)
"""The states of a gateway delivery that a released batch re-opens: seen is a renamed feed's
record of an item its old name sent there."""


def reopen_item(store: Store, feed: str, key: str, destination: str) -> str | None:
    """Offer the item again at ``destination`` on the feed's next pass; return its old state.

    Returns ``None`` when the item has no record there that can be re-opened.
    """
    found = [
        r for r in store.deliveries(feed=feed) if r.key == key and r.destination == destination
    ]
    if not found or not store.retry(feed, key, states=REOPENABLE, destination=destination):
        return None
    _read_in_full(store, feed)
    return found[0].state


def retry_states(store: Store, states: Collection[str], feed: str | None = None) -> int:
    """Release every item in ``states`` (of ``feed``, or of all feeds); return how many."""
    wanted = set(states)
    if not wanted or not wanted <= set(RETRYABLE):
        raise ValueError(f"only {RETRYABLE_WORDS} items can be retried, not {states!r}")
    items = dict.fromkeys((r.feed, r.key) for r in store.deliveries(states=wanted, feed=feed))
    released = [item for item in items if store.retry(*item, states=wanted)]
    for name in dict.fromkeys(name for name, _ in released):
        _read_in_full(store, name)
    return len(released)


def _read_in_full(store: Store, feed: str) -> None:
    """Make the feed's next read unconditional, so the pipeline parses it and offers the item."""
    # A 304 (RFC 9110 §15.4.5) or an unchanged body would skip parsing and never offer a
    # released item; empty validators still count as history, so no backlog is held back.
    from poster.reads import Validators  # here: status, which loads this module, never needs it

    store.save_validators(feed, Validators())


def retry_problem(store: Store, feed: str, key: str) -> str | None:
    """Say why an item cannot be retried, or return ``None`` when it can."""
    found = [record for record in store.deliveries(feed=feed) if record.key == key]
    if any(record.state in RETRYABLE for record in found):
        return None
    if not found:
        return (
            f"feed {feed!r} has no item {key!r} on record; "
            "`poster status` lists the failed and uncertain items"
        )
    why = " and ".join(sorted({_why_not(record.state) for record in found}))
    return f"item {key!r} of feed {feed!r} {why}; only {RETRYABLE_WORDS} items can be retried"


def _why_not(state: str) -> str:
    """Say why an item in ``state`` cannot be retried."""
    if state == SEEN:
        # Imported here: status reads this module and never needs the selection stage.
        from poster.select import HELD_LABEL

        return f"was {HELD_LABEL} and never posted"
    return _NOT_RETRYABLE[state]


def set_feed_disabled(
    store: Store, feed: str, reason: str | None, now: datetime | None = None
) -> str | None:
    """Disable the feed with ``reason``, or enable it with ``None``; return the previous reason.

    An operator's pause also keeps when it began (``now``), for ``poster status``.
    """
    previous = store.disabled(feed)
    if reason is None and previous is not None:
        # `poster feed enable` resumes it now: a feed disabled after failures is read at once,
        # not at its next re-probe.
        store.resume_feed(feed)
    else:
        store.set_disabled(feed, reason)
    if reason == OPERATOR_DISABLED and previous != OPERATOR_DISABLED:
        store.set_meta(paused_key(feed), (now or datetime.now(UTC)).isoformat())
    return previous
