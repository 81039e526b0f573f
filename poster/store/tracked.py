"""Show TinyDB one table under integer ids and remember which documents a write touched."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

from poster.store.files import Document

TYPE_CHECKING = False  # as typing's, which this module needs nothing else from
if TYPE_CHECKING:
    from poster.store.change import Change


_ABSENT = object()


class TrackedTable(MutableMapping[int, Document]):
    """Show TinyDB one raw table under integer ids and remember which documents it touched."""

    def __init__(self, raw: dict[str, Document]) -> None:
        self._raw = raw
        self._before: dict[str, Document | None] = {}

    def _remember(self, doc_id: str) -> None:
        if doc_id not in self._before:
            doc = self._raw.get(doc_id)
            # A shallow copy keeps the document as it was: every write replaces whole fields
            # (TinyDB's update with a mapping), never changes a list or mapping inside one.
            self._before[doc_id] = None if doc is None else dict(doc)

    def __getitem__(self, doc_id: int) -> Document:
        key = str(doc_id)
        doc = self._raw[key]
        # TinyDB updates documents in place through the object returned here.
        self._remember(key)
        return doc

    def __setitem__(self, doc_id: int, doc: Document) -> None:
        key = str(doc_id)
        self._remember(key)
        self._raw[key] = doc

    def __delitem__(self, doc_id: int) -> None:
        key = str(doc_id)
        self._remember(key)
        del self._raw[key]

    def __contains__(self, doc_id: object) -> bool:
        return str(doc_id) in self._raw

    def __iter__(self) -> Iterator[int]:
        return (int(key) for key in list(self._raw))

    def __len__(self) -> int:
        return len(self._raw)

    def change(self, table: str) -> Change:
        """Return what differs from the documents as they were when first touched.

        One document updated in place, none of its fields taken away, is journaled as the
        fields that changed rather than whole: a feed's new validators after a read are well
        under half of its record.
        """
        from poster.store.change import Change  # here: a read-only open writes nothing

        if len(self._before) == 1:
            ((key, before),) = self._before.items()
            doc = self._raw.get(key)
            if before is not None and doc is not None and before.keys() <= doc.keys():
                changed = {
                    name: value for name, value in doc.items() if before.get(name, _ABSENT) != value
                }
                return Change(table, {}, fields=changed, each=(key,) if changed else ())
        put: dict[str, Document] = {}
        delete: list[str] = []
        for key, before in self._before.items():
            doc = self._raw.get(key)
            if doc is None:
                if before is not None:
                    delete.append(key)
            elif before is None or doc != before:
                put[key] = doc
        return Change(table, put, tuple(delete))

    def rollback(self) -> None:
        """Put every touched document back as it was."""
        for key, before in self._before.items():
            if before is None:
                self._raw.pop(key, None)
            else:
                self._raw[key] = before
