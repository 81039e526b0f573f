"""Keep probe results per URL for a while, in the state folder, so no media is probed twice.

The cache is a small JSON file beside the ledger (``media/probes.json``). Losing it costs only
probes, so a damaged file is set aside with a warning rather than stopping poster.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path

from poster.frozen import fields
from poster.media.probe import Probe
from poster.store.files import write_atomic

log = logging.getLogger(__name__)

LIFETIME = 30 * 86400.0
"""Seconds a probe that succeeded is trusted: a URL's media rarely changes under it."""
FAILURE_LIFETIME = 3600.0
"""Seconds a failed probe is remembered before the URL is tried again."""
MAX_ENTRIES = 20_000
"""Probes kept at most; the oldest go first."""
SAVE_EVERY = 60.0
"""Seconds between writes of the file while feeds are read; a pass also writes it at its end."""
_VERSION = 1
_ROW = attrgetter(*(spec.name for spec in fields(Probe)))
"""A probe's fields in order, as the file's rows hold them (``Probe(*row)`` reads one back)."""


class ProbeCache:
    """Map media URLs to their probes, with lifetimes and a size bound; safe between threads."""

    def __init__(
        self,
        path: Path | None,
        clock: Callable[[], float],
        *,
        read_only: bool = False,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.path = path
        self._clock = clock
        self._read_only = read_only
        self._max = max_entries
        self._lock = threading.Lock()
        self._probes: dict[str, Probe] = _load(path) if path is not None else {}
        self._dirty = False
        self._saved_at = clock()

    def get(self, url: str) -> Probe | None:
        """Return the probe of ``url`` while it is still fresh."""
        with self._lock:
            found = self._probes.get(url)
        if found is None:
            return None
        lifetime = FAILURE_LIFETIME if found.error else LIFETIME
        return found if self._clock() - found.checked_at < lifetime else None

    def put(self, probe: Probe) -> None:
        """Remember ``probe``, dropping the oldest entries beyond the bound."""
        with self._lock:
            self._probes.pop(probe.url, None)
            self._probes[probe.url] = probe  # insertion order is age order
            while len(self._probes) > self._max:
                del self._probes[next(iter(self._probes))]
            self._dirty = True

    def __len__(self) -> int:
        with self._lock:
            return len(self._probes)

    def save(self, *, unless_within: float = 0.0) -> None:
        """Write the cache to its file when something changed (never when read-only).

        With ``unless_within``, skip the write when the last one is that recent: the file is
        rewritten whole, so writing it after every feed would cost a pass far more than probing.
        """
        if self.path is None or self._read_only:
            return
        with self._lock:
            now = self._clock()
            if not self._dirty or now - self._saved_at < unless_within:
                return
            rows = [_ROW(probe) for probe in self._probes.values()]
            self._saved_at = now
            data = json.dumps({"version": _VERSION, "probes": rows}, separators=(",", ":"))
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(self.path, data.encode(), durable=False)  # a crash costs probes
            except OSError as exc:  # a cache: a full disk means probing again, nothing worse
                log.warning(
                    "event=media-cache-unwritten path=%s error=%r", self.path, exc.strerror or exc
                )
                return
            self._dirty = False


def _load(path: Path) -> dict[str, Probe]:
    """Read the cache file; a missing one is empty, a damaged one is set aside."""
    try:
        document = json.loads(path.read_bytes())
        rows = document["probes"] if document.get("version") == _VERSION else []
        return {row[0]: Probe(*row) for row in rows}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        log.warning("event=probe-cache-unreadable path=%s error=%r; probing again", path, exc)
        return {}
