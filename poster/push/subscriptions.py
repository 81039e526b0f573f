"""Keep each feed's WebSub subscription in the state, as one JSON document of all of them.

The secret and the callback id are kept here and nowhere else: logs, status and errors name a
subscription by its feed and hub only.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from poster.eventlog import logger
from poster.lazy import names_from

if TYPE_CHECKING:
    from poster.push.lease import Subscription as Subscription

log = logger(__name__)

# A subscription's class loads when one is first made or read (status on a state without
# any never makes it).
__getattr__ = names_from(__name__, {"Subscription": "poster.push.lease"})

META = "websub"
"""The store meta entry holding every subscription."""
SECRET_BYTES = 32
CALLBACK_BYTES = 24


class State(StrEnum):
    """Where a subscription stands."""

    PENDING = "pending"
    """Asked for; the hub has not verified it yet."""
    ACTIVE = "active"
    """Verified: the hub pushes new content until ``expires``."""
    FAILED = "failed"
    """Refused, denied, unverified or lapsed: the feed is polled, and asked again later."""
    UNSUBSCRIBING = "unsubscribing"
    """Being cancelled: the feed is gone, disabled or moved to another hub."""


def new_subscription(feed: str, hub: str, topic: str, now: datetime) -> Subscription:
    """Return a fresh pending subscription with its own secret and callback path."""
    import secrets  # here: it loads random and OpenSSL, which reading subscriptions never needs

    from poster.push.lease import Subscription

    return Subscription(
        feed=feed,
        hub=hub,
        topic=topic,
        secret=secrets.token_hex(SECRET_BYTES),
        callback=secrets.token_urlsafe(CALLBACK_BYTES),
        state=State.PENDING,
        changed=now,
        requested=now,
    )


class MetaStore(Protocol):
    """The part of the store subscriptions are kept in."""

    def get_meta(self, name: str) -> str | None: ...

    def set_meta(self, name: str, value: str) -> None: ...


def load(store: MetaStore) -> dict[str, Subscription]:
    """Return every kept subscription by feed; a damaged entry is dropped with a warning."""
    text = store.get_meta(META) or "{}"
    try:
        raw = json.loads(text)
    except ValueError:
        log.warning("event=websub-state-unreadable action=subscribing-again")
        return {}
    found: dict[str, Subscription] = {}
    for feed, fields in raw.items() if isinstance(raw, dict) else ():
        try:
            found[feed] = _from_json(fields)
        except (KeyError, TypeError, ValueError):
            log.warning("event=websub-state-unreadable feed=%s action=subscribing-again", feed)
    return found


def save(store: MetaStore, subscriptions: dict[str, Subscription]) -> None:
    """Keep every subscription."""
    document = {feed: _to_json(sub) for feed, sub in sorted(subscriptions.items())}
    store.set_meta(META, json.dumps(document, sort_keys=True))


def _to_json(sub: Subscription) -> dict[str, Any]:
    """Return a subscription as JSON values, times in ISO 8601."""
    fields = asdict(sub)
    for name in ("changed", "requested", "expires"):
        when = fields[name]
        fields[name] = when.isoformat() if when is not None else None
    fields["state"] = str(sub.state)
    return fields


def _from_json(fields: object) -> Subscription:
    """Return the subscription a JSON document describes, or raise on a damaged one."""
    if not isinstance(fields, dict):
        raise TypeError("not an object")
    times = {
        name: datetime.fromisoformat(fields[name]) if fields.get(name) else None
        for name in ("changed", "requested", "expires")
    }
    if times["changed"] is None:
        raise ValueError("no time of change")
    lease = fields.get("lease")
    from poster.push.lease import Subscription

    return Subscription(
        feed=str(fields["feed"]),
        hub=str(fields["hub"]),
        topic=str(fields["topic"]),
        secret=str(fields["secret"]),
        callback=str(fields["callback"]),
        state=State(fields["state"]),
        changed=times["changed"],
        requested=times["requested"],
        lease=int(lease) if lease is not None else None,
        expires=times["expires"],
        error=fields.get("error"),
    )
