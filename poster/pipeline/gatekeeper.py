"""Keep one destination's posts of the day and the posts its gate holds, across runs.

Both live in the state's named entries, so a ``run --once`` at 07:00 knows what the run at
23:30 held and since when, and ``poster status`` can say when each held post goes out.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from poster.config.settings import Gate
from poster.pipeline.gate import expected, gate_day

if TYPE_CHECKING:
    from poster.pipeline.holds import Hold, Waiting

MAX_HELD = 1000
"""The most held posts remembered per destination; the oldest are forgotten first."""


class Meta(Protocol):
    """State entries by name."""

    def get_meta(self, name: str) -> str | None:
        """Return the entry called ``name``, if there is one."""
        ...

    def set_meta(self, name: str, value: str) -> None:
        """Keep ``value`` as the entry called ``name``."""
        ...


def count_key(destination: str) -> str:
    """Return the state entry holding the destination's day and its posts that day."""
    return f"posts today at {destination}"


def held_key(destination: str) -> str:
    """Return the state entry listing the posts the destination's gate holds, oldest first."""
    return f"held at {destination}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Gatekeeper:
    """Apply a destination's gate, counting its posts per local day and the posts it holds."""

    def __init__(
        self,
        destination: str,
        gate: Gate,
        meta: Meta | None = None,
        *,
        now: Callable[[], datetime] = _utcnow,
        sent_since: Callable[[str, datetime], int] | None = None,
    ) -> None:
        self.destination = destination
        self.gate = gate
        self.now = now
        self._meta = meta
        self._lock = threading.Lock()
        self._day, self._count = self._load_count()
        if sent_since is not None and gate.max_per_day is not None:
            self._count_from_state(sent_since)
        self._held = self._load_held()
        self._dirty = False

    def hold(self, position: int = 0) -> Hold | None:
        """Return why the post ``position`` places behind the first must wait, or None."""
        with self._lock:
            return expected(self.gate, self.now(), self._today(), position)

    def stale(self, feed: str, key: str) -> str | None:
        """Say why a held post has waited too long to be posted, or return None."""
        limit = self.gate.max_wait
        with self._lock:
            since = self._held.get((feed, key))
        if limit is None or since is None or self.now() - since <= limit:
            return None
        return f"skipped: held since {since:%Y-%m-%d %H:%M} UTC, longer than max_wait={limit}"

    def note(self, feed: str, key: str) -> None:
        """Remember that the gate holds a post, from now unless it was held before."""
        with self._lock:
            if (feed, key) not in self._held:
                self._held[(feed, key)] = self.now()
                self._dirty = True

    def done(self, feed: str, key: str, *, counted: bool) -> None:
        """Forget a post that reached an end, counting it for the day when it went out."""
        with self._lock:
            if self._held.pop((feed, key), None) is not None:
                self._dirty = True
            if counted and self.gate.max_per_day is not None:
                today = gate_day(self.gate, self.now())
                self._day, self._count = today.isoformat(), self._today() + 1
                if self._meta is not None:
                    self._meta.set_meta(count_key(self.destination), f"{self._day} {self._count}")

    def save(self) -> None:
        """Write the held posts to the state, when they changed."""
        with self._lock:
            if not self._dirty or self._meta is None:
                return
            while len(self._held) > MAX_HELD:
                del self._held[next(iter(self._held))]
            rows = [[feed, key, since.isoformat()] for (feed, key), since in self._held.items()]
            self._meta.set_meta(held_key(self.destination), json.dumps(rows))
            self._dirty = False

    def waiting(self) -> Iterator[Waiting]:
        """Yield each held post, oldest first, with when it is expected to go out."""
        with self._lock:
            if not self._held:  # the day's count needs the zone, and the local one loads tzlocal
                return
            held, now, today = list(self._held.items()), self.now(), self._today()
        from poster.pipeline.holds import Waiting

        for position, ((feed, key), since) in enumerate(held):
            yield Waiting(feed, key, since, expected(self.gate, now, today, position))

    def _today(self) -> int:
        """Return how many posts went out on the current local day."""
        return self._count if self._day == gate_day(self.gate, self.now()).isoformat() else 0

    def _count_from_state(self, sent_since: Callable[[str, datetime], int]) -> None:
        """Count today's posts from the state when no count of today is kept: a cap set during
        the day (only a cap keeps the count) counts the posts made before it too."""
        from datetime import time

        from poster.pipeline.gate import zone_of

        now = self.now()
        today = gate_day(self.gate, now)
        if self._day == today.isoformat():
            return
        start = datetime.combine(today, time.min, tzinfo=zone_of(self.gate.zone_name))
        self._day, self._count = today.isoformat(), sent_since(self.destination, start)

    def _load_count(self) -> tuple[str, int]:
        """Read the day and count the state keeps; an unreadable one counts nothing."""
        text = self._meta.get_meta(count_key(self.destination)) if self._meta else None
        day, _, count = (text or "").partition(" ")
        return (day, int(count)) if count.isascii() and count.isdigit() else ("", 0)

    def _load_held(self) -> dict[tuple[str, str], datetime]:
        """Read the held posts the state keeps; an unreadable entry holds none."""
        text = self._meta.get_meta(held_key(self.destination)) if self._meta else None
        held: dict[tuple[str, str], datetime] = {}
        with suppress(TypeError, ValueError):
            for feed, key, since in json.loads(text or "[]"):
                held[(str(feed), str(key))] = datetime.fromisoformat(since)
        return held


def held_posts(
    gates: Iterable[tuple[str, Gate]], meta: Meta, now: datetime
) -> tuple[tuple[str, Waiting], ...]:
    """Return each destination's held posts, as the state keeps them, with when each goes."""
    return tuple(
        (name, waiting)
        for name, gate in gates
        for waiting in Gatekeeper(name, gate, meta, now=lambda: now).waiting()
    )
