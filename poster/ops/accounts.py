"""Ask each destination that has an account about it: a channel's admins, a gateway's balance.

A destination whose account call fails is described by its error and the others are still
asked, so one refused key does not hide the balance of every other gateway.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from poster.app import Reading, connect
from poster.config import Config, DestinationConfig
from poster.daemon.callbacks import tell_callback_urls
from poster.destinations import Account, Destination, HasAccount, kind
from poster.errors import DeliveryError
from poster.store import Store
from poster.store.store import SNAPSHOT_NAME


@dataclass(frozen=True)
class Shown:
    """One destination's account, or why it could not be read."""

    name: str
    kind: str
    account: Account | None = None
    error: str | None = None


def with_account(config: Config) -> tuple[DestinationConfig, ...]:
    """Return the configured destinations whose kind has an account to show, in config order."""
    return tuple(spec for spec in config.destinations if isinstance(kind(spec.kind), HasAccount))


def accounts(config: Config, state_dir: Path, specs: Sequence[DestinationConfig]) -> list[Shown]:
    """Open ``specs`` alone (only their tokens are loaded) and ask each for its account."""
    with _state(state_dir) as store:
        entries = Reading(store)
        with connect(config, state_dir, specs=specs, store=store) as opened:
            # The callback URL a gateway shows is the one the daemon made and kept; none is made.
            tell_callback_urls(entries, config.webhook.public_url, opened)
            return [_ask(spec, opened[spec.name]) for spec in specs]


def _ask(spec: DestinationConfig, destination: Destination) -> Shown:
    """Return what ``destination``'s account call says, or its error."""
    found = kind(spec.kind)
    assert isinstance(found, HasAccount), "chosen among the kinds with an account"
    try:
        return Shown(spec.name, spec.kind, found.account(destination))
    except DeliveryError as exc:
        return Shown(spec.name, spec.kind, error=str(exc))


@contextmanager
def _state(state_dir: Path) -> Iterator[Store | None]:
    """Yield the state opened read-only (the daemon may hold it), or None before the first run."""
    if not (state_dir / SNAPSHOT_NAME).exists():
        yield None
        return
    with Store(state_dir, read_only=True) as store:
        yield store
