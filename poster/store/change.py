"""Keep the record of one write to a table, as the journal holds it.

Apart from ``files`` so that opening a state whose journal holds no change, as ``status`` does
after a compaction, never makes its class: only a write or a journal line makes one.
"""

from __future__ import annotations

from poster.frozen import field, frozen
from poster.store.files import Document, Tables


@frozen
class Change:
    """The documents one TinyDB write put into or deleted from one table, or the fields it set."""

    table: str
    put: dict[str, Document]
    delete: tuple[str, ...] = ()
    seq: int = 0
    fields: Document = field(default_factory=dict)
    """Fields set alike on each document of ``each``, which are not written out whole."""
    each: tuple[str, ...] = ()

    def apply(self, tables: Tables) -> None:
        """Apply the change to ``tables`` in place."""
        table = tables.setdefault(self.table, {})
        table.update(self.put)
        for doc_id in self.delete:
            table.pop(doc_id, None)
        for doc_id in self.each:
            doc = table.get(doc_id)
            if doc is not None:  # only a damaged journal names a document it never held
                doc.update(self.fields)
