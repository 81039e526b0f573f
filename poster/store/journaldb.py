"""TinyDB over a ``JournalStorage``: its tables journal only the documents a write changed.

``JournalTable`` is TinyDB's ``Table`` with the one write path, ``_update_table``, taught to
report which documents changed instead of handing the whole database to the storage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from tinydb import TinyDB
from tinydb.table import Table

from poster.store.journal import JournalStorage
from poster.store.tracked import TrackedTable


class JournalTable(Table):
    """A TinyDB table whose writes journal only the documents they changed."""

    def continue_ids_after(self, max_id: int) -> None:
        """Number new documents after ``max_id``, found at start-up, sparing the first insert."""
        # TinyDB would otherwise find the highest id by scanning every key on the first insert;
        # it annotates ``_next_id`` as None, though it keeps the next id there.
        self._next_id = max_id + 1  # type: ignore[assignment]

    def _update_table(self, updater: Callable[[dict[int, Mapping[str, Any]]], None]) -> None:
        """Run ``updater`` on the live table and commit its changes, or undo them on failure."""
        storage = cast(JournalStorage, self._storage)
        raw = storage.read().setdefault(self.name, {})
        tracked = TrackedTable(raw)
        try:
            # TinyDB's updaters use only the mapping protocol, which the tracked view provides.
            updater(cast(dict[int, Mapping[str, Any]], tracked))
            change = tracked.change(self.name)
            if change.put or change.delete:
                storage.commit(change)
        except BaseException:
            tracked.rollback()
            raise
        finally:
            self.clear_cache()


class JournalDB(TinyDB):
    """TinyDB over a ``JournalStorage`` with journaling tables."""

    table_class = JournalTable

    def __init__(self, path: Path, **options: Any) -> None:
        super().__init__(path, storage=JournalStorage, **options)

    def table(self, name: str, **kwargs: Any) -> JournalTable:
        """Return the named table."""
        return cast(JournalTable, super().table(name, **kwargs))

    @property
    def journal(self) -> JournalStorage:
        """Return the storage, for its files and counters."""
        return cast(JournalStorage, self.storage)
