"""Ask each destination that has an account about it: a channel's admins, a gateway's balance.

A destination that cannot be opened (no key) or whose account call fails is described by its
error and the others are still asked, so one refused key does not hide every other balance.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from poster.app import Reading, open_destinations
from poster.config import Config, DestinationConfig
from poster.daemon.callbacks import tell_callback_urls
from poster.destinations import Account, HasAccount, kind
from poster.errors import ConfigError, DeliveryError
from poster.fetch.client import env_client
from poster.frozen import frozen
from poster.store import Store
from poster.store.store import SNAPSHOT_NAME


@frozen
class Shown:
    """One destination's account, or why it could not be read."""

    name: str
    kind: str
    account: Account | None = None
    error: str | None = None
    unusable: bool = False
    """The destination could not be opened (no key, a bad recipients file): fix the config."""


def with_account(config: Config) -> tuple[DestinationConfig, ...]:
    """Return the configured destinations whose kind has an account to show, in config order."""
    return tuple(spec for spec in config.destinations if isinstance(kind(spec.kind), HasAccount))


def accounts(config: Config, state_dir: Path, specs: Sequence[DestinationConfig]) -> list[Shown]:
    """Open each of ``specs`` alone (only its token is loaded) and ask it for its account."""
    with _state(state_dir) as store, env_client() as http:
        entries = Reading(store)
        return [_ask(config, state_dir, http, entries, spec) for spec in specs]


def _ask(
    config: Config, state_dir: Path, http: httpx.Client, entries: Reading, spec: DestinationConfig
) -> Shown:
    """Return what ``spec``'s account call says, or why it could not be made."""
    found = kind(spec.kind)
    assert isinstance(found, HasAccount), "chosen among the kinds with an account"
    try:
        opened = open_destinations(config, state_dir, http, entries, specs=(spec,))
    except ConfigError as exc:
        problems = "; ".join(str(problem) for problem in exc.problems)
        return Shown(spec.name, spec.kind, error=problems, unusable=True)
    # The callback URL a gateway shows is the one the daemon made and kept; none is made here.
    tell_callback_urls(entries, config.webhook.public_url, opened)
    try:
        return Shown(spec.name, spec.kind, found.account(opened[spec.name]))
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
