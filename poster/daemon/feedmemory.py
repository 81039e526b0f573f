"""Remember what the daemon knows of each feed between its reads, across the fetch threads.

The fetch threads and the main loop share it: which feeds must next be read in full, which
were read at once and must move to their slots, the hints of each feed's last document and
the freshness of its last response, and the keys each feed listed last.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from poster.config import FeedConfig
from poster.daemon.listed import Listed
from poster.daemon.nextread import next_poll, schedule_name
from poster.daemon.schedule import slot
from poster.models import FeedHints, FetchResult, Freshness, NextPoll

log = logging.getLogger(__name__)

NO_HINTS = FeedHints()
_FRESHNESS = frozenset({"cache-control", "expires"})
"""The fields that set a response's freshness lifetime (RFC 9111 §4.2.1)."""


class FeedMemory:
    """Hold each feed's read bookkeeping: full reads wanted, slots, hints and listed keys."""

    def __init__(self) -> None:
        self.present: dict[str, Listed] = {}
        # A 304 carries no document: its ttl and skipHours are those of the last one parsed,
        # kept only for the feeds that give any.
        self._hints: dict[str, FeedHints] = {}
        # A 304 updates the stored response's headers rather than replacing them (RFC 9111
        # §4.3.4): one without Cache-Control or Expires keeps the last lifetime given.
        self._freshness: dict[str, Freshness] = {}
        self._fresh: set[str] = set()
        # Feeds read at once, to be moved to their slots after that read.
        self._unslotted: set[str] = set()
        # Counts requests for full reads, so a read under way cannot cancel a newer one.
        self._fresh_asked = 0

    def read_in_full(self, names: Iterable[str]) -> None:
        """Make the next read of each feed unconditional, whatever validators are saved by then."""
        self._fresh.update(names)
        self._fresh_asked += 1

    def wants_full(self, name: str) -> bool:
        """Tell whether the feed's next read must be unconditional."""
        return name in self._fresh

    def asked(self) -> int:
        """Return a mark of the full reads asked so far, for ``read_listed``."""
        return self._fresh_asked

    def read_listed(self, name: str, asked: int, keys: Iterable[str], hints: FeedHints) -> None:
        """Note a full document read: no newer full read asked since ``asked``, its keys, hints."""
        if self._fresh_asked == asked:
            self._fresh.discard(name)
        self.present[name] = Listed(keys)
        if hints == NO_HINTS:
            self._hints.pop(name, None)
        else:
            self._hints[name] = hints

    def freshness(self, name: str, result: FetchResult) -> Freshness | None:
        """Return how long the feed's response stays fresh after ``result``, and keep it."""
        if result.status == 304 and not any(key in _FRESHNESS for key, _ in result.headers):
            return self._freshness.get(name)
        if result.freshness is None:
            self._freshness.pop(name, None)
        else:
            self._freshness[name] = result.freshness
        return result.freshness

    def unslotted(self, name: str) -> None:
        """Note a feed read at once, to be moved to its slots after that read."""
        self._unslotted.add(name)

    def take_unslotted(self, name: str) -> bool:
        """Tell whether the feed was read at once, and forget it."""
        at_once = name in self._unslotted
        self._unslotted.discard(name)
        return at_once

    def next_poll(
        self,
        feed: FeedConfig,
        scheduled: datetime,
        started: datetime,
        freshness: Freshness | None,
        cap: timedelta,
    ) -> NextPoll:
        """Decide when to read the feed next, from its schedule and, unless off, its hints."""
        if feed.name in self._unslotted and feed.schedule.cron is None:
            scheduled = slot(feed, started)
        hints = self._hints.get(feed.name, NO_HINTS) if feed.hints else NO_HINTS
        poll = next_poll(
            scheduled,
            started,
            freshness if feed.hints else None,
            hints,
            cap=cap,
            schedule=schedule_name(feed.schedule),
        )
        if poll.hinted:
            log.debug("event=next-poll feed=%s at=%s why=%r", feed.name, poll.at, poll.why)
        return poll
