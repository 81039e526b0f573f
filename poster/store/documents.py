"""Define the records the store hands out, and how they are kept as TinyDB documents."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from poster.filled import whole
from poster.frozen import frozen
from poster.models import State
from poster.store.ledger import FAILED, PENDING, SEEN, SENT, SKIPPED, UNCERTAIN

if TYPE_CHECKING:
    from poster.models import NextPoll, Validators

RELEASED = State.RELEASED
"""Offered again: the record keeps its attempt count but no longer makes the item known."""

STATES = frozenset({PENDING, SENT, FAILED, UNCERTAIN, SEEN, RELEASED, SKIPPED})
_DELIVERY_TEXT = ("feed", "key", "destination", "state", "created", "updated")


@frozen
class FeedState:
    """What the store remembers about one feed between passes."""

    feed: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_attempt: datetime | None = None
    disabled: str | None = None
    last_failure: datetime | None = None
    last_warning: str | None = None
    """What the last parse of the feed found wrong but repaired, such as invalid bytes."""
    next_poll: NextPoll | None = None
    """When the daemon reads the feed next and why, as it decided after the last read."""


# Status turns every feed's document into a state: made from a dict of every field, which
# ``feed_state`` writes anew for each (see ``poster.filled``).
_feed_state = whole(FeedState)


@frozen
class DeliveryRecord:
    """The latest known state of one item at one destination, with its history counters."""

    feed: str
    key: str
    destination: str
    state: State
    attempts: int
    message_token: str | None
    created: datetime
    updated: datetime
    last_error: str | None


def to_iso(when: datetime) -> str:
    """Format an aware datetime as fixed-width UTC ISO 8601, so strings sort like times."""
    if when.tzinfo is None:
        raise ValueError(f"{when!r} has no time zone; the store keeps aware UTC times")
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str | None) -> datetime | None:
    """Parse a time written by ``to_iso``."""
    return None if text is None else _from_iso(text)


_from_iso = datetime.fromisoformat


def new_feed_doc(feed: str) -> dict[str, Any]:
    """Return the document of a feed the store knows nothing about yet."""
    return {
        "feed": feed,
        "validators": False,
        "etag": None,
        "last_modified": None,
        "body_hash": None,
        "last_success": None,
        "last_failure": None,
        "last_error": None,
        "consecutive_failures": 0,
        "next_attempt": None,
        "disabled": None,
    }


_FEED_DOC_KEYS = frozenset(new_feed_doc(""))
"""The fields every feed document has."""


def feed_state(doc: Mapping[str, Any]) -> FeedState:
    """Turn a feed document into a ``FeedState``."""
    # The times read in line, not through from_iso: status turns every feed's document.
    success, attempt, failure = doc["last_success"], doc["next_attempt"], doc["last_failure"]
    values = {
        "feed": doc["feed"],
        "etag": doc["etag"],
        "last_modified": doc["last_modified"],
        "body_hash": doc["body_hash"],
        "last_success": None if success is None else _from_iso(success),
        "last_error": doc["last_error"],
        "consecutive_failures": doc["consecutive_failures"],
        "next_attempt": None if attempt is None else _from_iso(attempt),
        "disabled": doc["disabled"],
        "last_failure": None if failure is None else _from_iso(failure),
        "last_warning": doc.get("last_warning"),
        "next_poll": None if doc.get("next_poll") is None else next_poll(doc),
    }
    return _feed_state(values)


def next_poll(doc: Mapping[str, Any]) -> NextPoll | None:
    """Return the next poll kept in a feed document; states written before it have none."""
    at = doc.get("next_poll")
    if not isinstance(at, str):
        return None
    from poster.polls import NextPoll  # here: only a state the daemon scheduled has one

    return NextPoll(
        datetime.fromisoformat(at), str(doc.get("poll_why")), doc.get("poll_hinted") is True
    )


def next_poll_fields(poll: NextPoll) -> dict[str, Any]:
    """Return the feed document fields that keep ``poll``."""
    return {"next_poll": to_iso(poll.at), "poll_why": poll.why, "poll_hinted": poll.hinted}


def validators(doc: Mapping[str, Any]) -> Validators | None:
    """Return the validators saved in a feed document, if any were."""
    if not doc["validators"]:
        return None
    from poster.reads import Validators  # here: only a read of the feed needs its class

    # Absent from documents of earlier releases.
    taken_for, source = doc.get("validators_for"), doc.get("validators_from")
    return Validators(doc["etag"], doc["last_modified"], doc["body_hash"], taken_for, source)


def new_delivery_doc(feed: str, key: str, destination: str, now: str) -> dict[str, Any]:
    """Return the document of a delivery before its first state is written."""
    return {
        "feed": feed,
        "key": key,
        "destination": destination,
        "state": RELEASED,
        "attempts": 0,
        "message_token": None,
        "created": now,
        "updated": now,
        "last_error": None,
    }


def delivery_record(doc: Mapping[str, Any]) -> DeliveryRecord:
    """Turn a delivery document into a ``DeliveryRecord``."""
    created, updated = from_iso(doc["created"]), from_iso(doc["updated"])
    assert created is not None and updated is not None
    return DeliveryRecord(
        feed=doc["feed"],
        key=doc["key"],
        destination=doc["destination"],
        state=State(doc["state"]),
        attempts=doc["attempts"],
        message_token=doc["message_token"],
        created=created,
        updated=updated,
        last_error=doc["last_error"],
    )


def check_delivery(doc: Mapping[str, Any]) -> str | None:
    """Say what is wrong with a delivery document, or return ``None`` if it is usable."""
    for name in _DELIVERY_TEXT:
        if type(doc.get(name)) is not str:
            return f"has no text {name!r}"
    if doc["state"] not in STATES:
        return f"has the unknown state {doc['state']!r}"
    if type(doc.get("attempts")) is not int:
        return "has no number 'attempts'"
    try:
        datetime.fromisoformat(doc["created"]), datetime.fromisoformat(doc["updated"])
    except ValueError:
        return "has a time that is not ISO 8601"
    return None


def check_feed(doc: Mapping[str, Any]) -> str | None:
    """Say what is wrong with a feed document, or return ``None`` if it is usable."""
    if not isinstance(doc.get("feed"), str):
        return "has no text 'feed'"
    if doc.keys() >= _FEED_DOC_KEYS:  # every feed's, checked when the state is opened
        return None
    return f"lacks {', '.join(sorted(_FEED_DOC_KEYS - doc.keys()))}"
