"""Remember which items each feed lists now, in eight bytes an item, to prune around them."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable


class Listed:
    """The keys a feed's last read listed, kept as their sorted hashes.

    The daemon holds one for each of its feeds for as long as it runs; a set of the keys
    themselves would cost some 30 times more. Two keys sharing a hash only keep an old record
    of the one no longer listed until the feed drops the other too: never a record too few.
    """

    __slots__ = ("_hashes",)

    def __init__(self, keys: Iterable[str]) -> None:
        self._hashes = array("q", sorted({hash(key) for key in keys}))

    def __contains__(self, key: object) -> bool:
        hashes, wanted = self._hashes, hash(key)
        at = bisect_left(hashes, wanted)
        return at < len(hashes) and hashes[at] == wanted

    def __len__(self) -> int:
        return len(self._hashes)
