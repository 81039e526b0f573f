"""TinyDB over a ``JournalStorage``: its tables journal only the documents a write changed.

``JournalTable`` is TinyDB's ``Table`` with the one write path, ``_update_table``, taught to
report which documents changed instead of handing the whole database to the storage, and
``set_each`` journals fields set alike on many documents without repeating each document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from tinydb import TinyDB
from tinydb.table import Table

from poster.store.files import Document
from poster.store.journal import JournalStorage

_ABSENT = object()


class JournalTable(Table):
    """A TinyDB table whose writes journal only the documents they changed."""

    def continue_ids_after(self, max_id: int) -> None:
        """Number new documents after ``max_id``, found at start-up, sparing the first insert."""
        # TinyDB would otherwise find the highest id by scanning every key on the first insert;
        # it annotates ``_next_id`` as None, though it keeps the next id there.
        self._next_id = max_id + 1  # type: ignore[assignment]

    def _update_table(self, updater: Callable[[dict[int, Mapping[str, Any]]], None]) -> None:
        """Run ``updater`` on the live table and commit its changes, or undo them on failure."""
        from poster.store.tracked import TrackedTable  # here: a read-only open writes nothing

        storage = cast(JournalStorage, self._storage)
        raw = storage.read().setdefault(self.name, {})
        tracked = TrackedTable(raw)
        try:
            # TinyDB's updaters use only the mapping protocol, which the tracked view provides.
            updater(cast(dict[int, Mapping[str, Any]], tracked))
            change = tracked.change(self.name)
            if change.put or change.delete or change.each:
                storage.commit(change)
        except BaseException:
            tracked.rollback()
            raise
        finally:
            self.clear_cache()

    def set_each(self, fields: Mapping[str, Any], doc_ids: Iterable[int]) -> None:
        """Set ``fields`` on each of ``doc_ids`` that differs, journaled as one short line.

        TinyDB's ``update`` would journal each document whole: a pass's record of a thousand
        reads, the same few fields on every feed, took a third of a MB a pass.
        """
        storage = cast(JournalStorage, self._storage)
        raw = storage.read().setdefault(self.name, {})
        before: dict[str, Document] = {}
        for doc_id in map(str, doc_ids):
            doc = raw[doc_id]
            if any(doc.get(name, _ABSENT) != value for name, value in fields.items()):
                before[doc_id] = dict(doc)
                doc.update(fields)
        from poster.store.change import Change  # here: a read-only open writes nothing

        try:
            if before:
                storage.commit(Change(self.name, {}, fields=dict(fields), each=tuple(before)))
        except BaseException:
            raw.update(before)
            raise
        finally:
            self.clear_cache()


class JournalDB(TinyDB):
    """TinyDB over an open ``JournalStorage`` with journaling tables."""

    table_class = JournalTable

    def __init__(self, journal: JournalStorage) -> None:
        # TinyDB makes its storage by calling the class it is given; this one is open already.
        super().__init__(storage=lambda: journal)

    def table(self, name: str, **kwargs: Any) -> JournalTable:
        """Return the named table."""
        return cast(JournalTable, super().table(name, **kwargs))

    @property
    def journal(self) -> JournalStorage:
        """Return the storage, for its files and counters."""
        return cast(JournalStorage, self.storage)
