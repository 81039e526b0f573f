"""Name each ``sendBulkViber`` mailing, and find the mailing a status callback speaks of.

The document says only that ``callback_url`` gets "the response on the method operation"; a
callback shaped as the ``statusBulkViber`` answer (a bare list) names its mailings by
``message_id`` and ``name``, not by the request's ``uuid``. poster names each mailing
``feed: key`` and remembers, while it runs, each mailing's ``message_id`` (read right after the
send) and the item its name stands for; after a restart a whole name still says its item.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from poster.destinations.gateway import GatewayMessage
from poster.destinations.gateway.destination import item_ref
from poster.destinations.smsby.schema import BulkStatus, MailingStatus

NAME_MAX = 100
"""Characters of a mailing's ``name``; the document gives no limit."""
KEEP = 10_000
"""Mailings remembered at most, the oldest forgotten first."""

Ref = str | tuple[str, str]
"""A recipient ledger's message id, or an (item, phone) pair."""


def mailing_name(message: GatewayMessage) -> str:
    """Return the name a mailing shows in the SMS.BY account: ``feed: key``, cut to ``NAME_MAX``."""
    return f"{message.feed}: {message.key}"[:NAME_MAX]


def bulk_ref(uuid: str, phone: str) -> str:
    """Return the ledger's message id of one number of a ``sendBulkViber`` request."""
    return f"bulk:{uuid}/{phone}"


def item_of(name: str) -> str | None:
    """Return the item a whole mailing name of poster's stands for, or None."""
    # A feed name holds no space or colon, so the first ": " ends it; a name cut short is not
    # the whole key.
    feed, sep, key = name.partition(": ")
    if not sep or not feed or " " in feed or len(name) >= NAME_MAX:
        return None
    return item_ref(feed, key)


class SentMailings:
    """Remember the mailings sent: by ``message_id`` (to their uuid), by name (to their item), and
    each request's names (to read the ``errors`` of its polled status by)."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._uuids: dict[str, str] = {}
        self._items: dict[str, str] = {}
        self._names: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def note(self, uuid: str, items: Mapping[str, str], status: BulkStatus | None) -> None:
        """Remember one request's mailings: each name's item and each ``message_id``'s uuid."""
        with self._lock:
            self._items.update(items)
            self._names[uuid] = tuple(items)
            for mailing in status.mailings if status else ():
                if mailing.message_id and mailing.name in items:
                    self._uuids[mailing.message_id] = uuid
            for kept in (self._items, self._uuids, self._names):
                for old in list(kept)[: max(0, len(kept) - self._keep)]:
                    del kept[old]

    def names(self, uuid: str) -> tuple[str, ...]:
        """Return the mailing names of one request, while remembered (to read its errors by)."""
        with self._lock:
            return self._names.get(uuid, ())

    def ref(self, mailing: MailingStatus) -> Callable[[str], Ref] | None:
        """Return how the ledger names a phone of ``mailing``; None if poster did not send it."""
        with self._lock:
            uuid = self._uuids.get(mailing.message_id) if mailing.message_id else None
            item = self._items.get(mailing.name)
        if uuid is not None:
            return lambda phone: bulk_ref(uuid, phone)
        item = item or item_of(mailing.name)
        if item is None:
            return None
        return lambda phone: (item, phone)
