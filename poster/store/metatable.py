"""Keep the named values the daemon remembers (such as a resolved sender), one document each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from poster.store.index import NamedTable

TABLE = "meta"


class MetaTable(NamedTable):
    """The meta table and an index of its documents by name."""

    kind = "meta"

    @staticmethod
    def check(doc: Mapping[str, Any]) -> str | None:
        """Say what is wrong with a meta document, or return ``None`` if it is usable."""
        if type(doc.get("name")) is str and type(doc.get("value")) is str:
            return None
        return "is not a name and a text value"

    def get(self, name: str) -> str | None:
        """Return the named value, if one is kept."""
        doc = self._doc(name)
        return None if doc is None else str(doc["value"])

    def set(self, name: str, value: str) -> None:
        """Keep a named value."""
        self._put(name, {"value": value}, lambda: {"name": name})

    def named(self, prefix: str) -> dict[str, str]:
        """Return every kept value whose name starts with ``prefix``, by name."""
        found = {name: self._doc(name) for name in self._ids if name.startswith(prefix)}
        return {name: str(doc["value"]) for name, doc in found.items() if doc is not None}

    def delete(self, name: str) -> None:
        """Forget a named value, if one is kept."""
        doc_id = self._ids.pop(name, None)
        if doc_id is not None:
            self._table.remove(doc_ids=[doc_id])
