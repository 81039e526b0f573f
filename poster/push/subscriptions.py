"""Keep each feed's WebSub subscription in the state, as one JSON document per feed.

A change writes its own feed's document only: subscribing 10,000 feeds once rewrote all of them
at every change (4 MB and half a second each). The one document of all subscriptions that
earlier releases kept is still read, and ``migrate`` splits it.

The secret and the callback id are kept here and nowhere else: logs, status and errors name a
subscription by its feed and hub only.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from poster.eventlog import logger
from poster.lazy import names_from
from poster.push import ENTRY, META

if TYPE_CHECKING:
    from poster.push.lease import Subscription as Subscription

log = logger(__name__)

# A subscription's class loads when one is first made or read (status on a state without
# any never makes it).
__getattr__ = names_from(__name__, {"Subscription": "poster.push.lease"})

SECRET_BYTES = 32
CALLBACK_BYTES = 24


class State(StrEnum):
    """Where a subscription stands."""

    PENDING = "pending"
    """Asked for; the hub has not verified it yet."""
    ACTIVE = "active"
    """Verified: the hub pushes new content until ``expires``."""
    FAILED = "failed"
    """Refused, unverified or lapsed: the feed is polled, and asked again later."""
    DENIED = "denied"
    """Denied by the hub (WebSub §5.2): the feed is polled, and not asked again at that hub for
    that topic until the configuration is reloaded."""
    UNSUBSCRIBING = "unsubscribing"
    """Being cancelled: the feed is gone or disabled. (A feed that moves to another hub or self
    URL is subscribed there afresh; the old hub's pushes to the old callback get 410, which
    WebSub §7 lets a hub take as the end of the subscription.)"""


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

    def metas(self, prefix: str) -> dict[str, str]: ...

    def delete_meta(self, name: str) -> None: ...


def load(store: MetaStore) -> dict[str, Subscription]:
    """Return every kept subscription by feed; a damaged entry is dropped with a warning."""
    found = _load_all_at_once(store.get_meta(META))
    for name, text in sorted(store.metas(ENTRY).items()):
        feed = name.removeprefix(ENTRY)
        sub = _read_one(feed, _decoded(text))
        if sub is None:
            found.pop(feed, None)
        else:
            found[feed] = sub
    return found


def _load_all_at_once(text: str | None) -> dict[str, Subscription]:
    """Return the subscriptions of an earlier release's one document of them all."""
    try:
        raw = json.loads(text or "{}")
    except ValueError:
        log.warning("event=websub-state-unreadable action=subscribing-again")
        return {}
    found: dict[str, Subscription] = {}
    for feed, fields in raw.items() if isinstance(raw, dict) else ():
        sub = _read_one(feed, fields)
        if sub is not None:
            found[feed] = sub
    return found


def _decoded(text: str) -> object:
    """Return the JSON value of one feed's document, or None when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _read_one(feed: str, fields: object) -> Subscription | None:
    """Return the subscription a document describes, or None with a warning for a damaged one."""
    try:
        return _from_json(fields)
    except (KeyError, TypeError, ValueError):
        log.warning("event=websub-state-unreadable feed=%s action=subscribing-again", feed)
        return None


def save(store: MetaStore, sub: Subscription) -> None:
    """Keep one feed's subscription."""
    store.set_meta(ENTRY + sub.feed, json.dumps(_to_json(sub), sort_keys=True))


def forget(store: MetaStore, feed: str) -> None:
    """Drop one feed's subscription."""
    store.delete_meta(ENTRY + feed)


def migrate(store: MetaStore, subscriptions: dict[str, Subscription]) -> None:
    """Keep ``subscriptions``, read by ``load``, one per feed, once an earlier release kept them."""
    if store.get_meta(META) is None:
        return
    for sub in subscriptions.values():
        save(store, sub)
    store.delete_meta(META)


def _to_json(sub: Subscription) -> dict[str, Any]:
    """Return a subscription as JSON values, times in ISO 8601."""
    from dataclasses import asdict  # here: only a change of subscription writes one

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
        endpoint=fields.get("endpoint"),
        # Earlier releases gave every hub the secret and kept no word of it.
        secret_given=bool(fields.get("secret_given", True)),
    )
