"""Keep poster's state between runs: feed state and delivery records, over TinyDB.

``Store`` is the ledger the daemon uses, with ``feedtable`` for each feed's state, ``seen`` for
the items held back, ``metatable`` for named values, ``records`` for the operator's listings
and ``prune`` for dropping old records; ``journal`` makes its writes durable
and cheap, ``files`` reads and writes the files in the state directory and ``journalread``
reads the journal back. The names below load with their module on first use, so reading
``ledger``'s constants does not load TinyDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poster.store.documents import RELEASED, DeliveryRecord, FeedState
    from poster.store.store import Store

_HOMES = {"RELEASED": "documents", "DeliveryRecord": "documents", "FeedState": "documents"}

__all__ = ["RELEASED", "DeliveryRecord", "FeedState", "Store"]


def __getattr__(name: str) -> Any:
    """Return one of the names above from its module, importing it on first use."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES.get(name, 'store')}"), name)
