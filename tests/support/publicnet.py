"""Run poster's command line with 127.0.0.2 counted as a public address, as a separate process.

Tests can only reach loopback addresses, so a "public" feed that redirects into the local network
needs one loopback address to stand for the internet: this launcher makes every address policy
count 127.0.0.2 as public and everything else as not, then runs ``python -m poster`` with the
arguments it was given. Usage: ``python tests/support/publicnet.py -c feeds.toml run``.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Callable, Sequence

from poster import addresses

PUBLIC = "127.0.0.2"


def _public(address: addresses.Address) -> bool:
    """Count only PUBLIC as a public address."""
    return str(address) == PUBLIC


def count_only_public_as_public() -> None:
    """Make every AddressPolicy built from now on treat only PUBLIC as public."""
    built: Callable[..., None] = addresses.AddressPolicy.__init__

    def init(
        self: addresses.AddressPolicy,
        resolve: Callable[[str, int], Sequence[str]] = addresses.system_resolver,
        public: Callable[[addresses.Address], bool] = _public,
    ) -> None:
        built(self, resolve, public)

    setattr(addresses.AddressPolicy, "__init__", init)  # noqa: B010


if __name__ == "__main__":
    count_only_public_as_public()
    sys.argv[0] = "poster"
    runpy.run_module("poster", run_name="__main__", alter_sys=True)
