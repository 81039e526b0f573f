"""Keep poster's state between runs: feed state and delivery records, over TinyDB.

``Store`` is the ledger the daemon uses; ``journal`` makes its writes durable and cheap, and
``files`` reads and writes the files in the state directory.
"""

from poster.store.documents import RELEASED, DeliveryRecord, FeedState
from poster.store.store import Store

__all__ = ["RELEASED", "DeliveryRecord", "FeedState", "Store"]
