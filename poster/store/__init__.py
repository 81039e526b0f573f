"""Keep poster's state between runs: feed state and delivery records, over TinyDB.

``Store`` is the ledger the daemon uses, with ``feedtable`` for each feed's state, ``seen`` for
the items held back and ``prune`` for dropping old records; ``journal`` makes its writes durable
and cheap, ``files`` reads and writes the files in the state directory and ``journalread``
reads the journal back.
"""

from poster.store.documents import RELEASED, DeliveryRecord, FeedState
from poster.store.store import Store

__all__ = ["RELEASED", "DeliveryRecord", "FeedState", "Store"]
