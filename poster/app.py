"""Wire the configured feeds, destinations, state and HTTP clients together: the only place."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from poster.cachefiles import compiled_templates
from poster.config import Config, DestinationConfig, FeedConfig
from poster.destinations import (
    Destination,
    Entries,
    KeepsRecipients,
    NeedsToken,
    Opening,
    StandsIn,
    kind,
    sender,
    stand_in,
)
from poster.fetch.apicall import api_client
from poster.fetch.client import FeedClient
from poster.fetch.feed import make_client
from poster.render import Renderer
from poster.store import Store
from poster.store.place import ONE_SHOT

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything a run needs, opened once: state, clients, destinations and the renderer."""

    config: Config
    state_dir: Path
    store: Store
    feeds_http: FeedClient
    api_http: httpx.Client
    destinations: dict[str, Destination]
    renderer: Renderer
    specs: tuple[DestinationConfig, ...]
    """The destinations opened: the configured ones, or those a command put in their place."""
    _former: tuple[Config, frozenset[str]] | None = field(default=None, repr=False)

    def reopen(self, config: Config) -> None:
        """Switch to a reloaded ``config``: its destinations and templates, same state."""
        self.destinations = open_destinations(config, self.state_dir, self.api_http, self.store)
        self.renderer = renderer_for(config)
        self.specs = config.destinations
        self.config = config

    def routes(self, feed: FeedConfig) -> tuple[str, ...]:
        """Return the destinations ``feed`` posts to; a stand-in destination takes every feed."""
        if self.specs is not self.config.destinations:
            return tuple(spec.name for spec in self.specs)
        return self.config.routes(feed)

    def kinds(self, feed: FeedConfig) -> tuple[object, ...]:
        """Return the kinds of the destinations ``feed`` posts to, in route order."""
        return tuple(self.destinations[name].kind for name in self.routes(feed))

    def former_feeds(self) -> frozenset[str]:
        """Return the feeds the state keeps that the configuration no longer names.

        Asked by a feed's first read; found once for each configuration, as only a reload
        changes which feeds are named.
        """
        config, found = self._former or (None, frozenset())
        if config is not self.config:
            found = frozenset(self.config.unnamed(self.store.feed_names()))
            self._former = (self.config, found)
        return found


def renderer_for(config: Config) -> Renderer:
    """Return the renderer of ``config``'s templates, compiling each once for every process.

    The compiled templates are kept where ``check`` keeps them; Jinja compiles a template
    again when its source changed, and each entry is named by all else its code depends on.
    """
    return Renderer(config.templates_dir, compiled=compiled_templates(os.environ))


def open_destinations(
    config: Config,
    state_dir: Path,
    http: httpx.Client,
    store: Entries,
    *,
    specs: Sequence[DestinationConfig] | None = None,
    tokens: Mapping[str, str] | None = None,
) -> dict[str, Destination]:
    """Open each destination once, through its kind: each token loaded, each sender known."""
    opened: dict[str, Destination] = {}
    for spec in config.destinations if specs is None else specs:
        token = (tokens or {}).get(spec.name)
        where = Opening(str(config.path), state_dir, http, store, token, config.daemon.retention)
        own = kind(spec.kind)
        opened[spec.name] = own.open(spec, where)
        if token is None and isinstance(own, NeedsToken):
            _warn_if_exposed(own, spec, str(config.path))
    if specs is None:
        _warn_if_unclaimed(opened, state_dir, config)
    return opened


def _warn_if_unclaimed(opened: Mapping[str, Destination], state_dir: Path, config: Config) -> None:
    """Log it when a destination that keeps its recipients' sends starts a new ledger while a
    destination no longer in feeds.toml left one: it may be that destination renamed."""
    keeping = [name for name, found in opened.items() if isinstance(found, KeepsRecipients)]
    if not keeping:
        return
    from poster.store.recipientledger import unclaimed_hint  # here: gateways load it anyway

    configured = {spec.name for spec in config.destinations}
    for name in keeping:
        if hint := unclaimed_hint(state_dir, name, configured):
            log.warning("event=ledger-unclaimed destination=%s hint=%s", name, hint)


def _warn_if_exposed(own: NeedsToken, spec: DestinationConfig, config_file: str) -> None:
    """Log that the file a destination's token came from is open to others, if it is."""
    warning = own.token_source(spec, config_file).warning
    if warning:
        log.warning("event=token-file-exposed destination=%s %s", spec.name, warning)


class _Later:
    """Stand in for the state until it is open: a destination reads it only when posting."""

    store: Store | None = None

    def get_meta(self, name: str) -> str | None:
        """Return the state entry called ``name``."""
        assert self.store is not None, "the state is open before anything is posted"
        return self.store.get_meta(name)

    def set_meta(self, name: str, value: str) -> None:
        """Keep ``value`` as the state entry called ``name``."""
        assert self.store is not None, "the state is open before anything is posted"
        self.store.set_meta(name, value)


class Reading:
    """Read the state entries of a state opened read-only, or none; keep nothing."""

    def __init__(self, store: Store | None) -> None:
        self.store = store

    def get_meta(self, name: str) -> str | None:
        """Return the state entry called ``name``, if there is a state and it holds one."""
        return None if self.store is None else self.store.get_meta(name)

    def set_meta(self, name: str, value: str) -> None:
        """Keep nothing: a command that only reads leaves the state as the daemon wrote it."""


def stand_ins(
    config: Config, store: Store | None, http: httpx.Client | None = None
) -> dict[str, Destination]:
    """Return a stand-in for each configured destination: its kind's bodies, recorded, not sent.

    Each stand-in posts as its destination would (the configured or remembered sender), so a
    preview shows the exact body; nothing is loaded that a real post needs (no token), except
    by a kind that stands in itself given ``http`` (a gateway asking its prices).
    """
    entries = Reading(store)
    opened: dict[str, Destination] = {}
    state_dir = store.path.parent if store is not None else config.path.parent
    for spec in config.destinations:
        known = sender(spec, entries)
        found, who = kind(spec.kind), None if known is None else known.id
        if http is not None and isinstance(found, StandsIn):
            where = Opening(str(config.path), state_dir, http, entries)
            opened[spec.name] = found.stand_in(spec, where, who)
        else:
            opened[spec.name] = stand_in(spec.name, found, who)
    if config.webhook.public_url is not None:
        _show_callback_urls(config.webhook.public_url, opened)
    return opened


def _show_callback_urls(public_url: str, opened: Mapping[str, Destination]) -> None:
    """Give gateway stand-ins the callback URL the daemon gives their destination, secret hidden."""
    from poster.daemon.callbacks import shown_callback_url
    from poster.destinations.gateway.standin import GatewayStandIn

    for name, destination in opened.items():
        if isinstance(destination, GatewayStandIn):
            destination.show_callback_url(shown_callback_url(public_url, name))


@contextmanager
def connect(
    config: Config,
    state_dir: Path,
    *,
    specs: Sequence[DestinationConfig] | None = None,
    store: Store | None = None,
) -> Iterator[dict[str, Destination]]:
    """Open destinations as ``build`` does, beside a running daemon: the state is only read.

    ``specs`` picks the destinations (default: every configured one); only their tokens are loaded.
    """
    with httpx.Client() as api_http:
        yield open_destinations(config, state_dir, api_http, Reading(store), specs=specs)


@contextmanager
def build(
    config: Config,
    state_dir: Path,
    *,
    role: str = ONE_SHOT,
    specs: Sequence[DestinationConfig] | None = None,
    tokens: Mapping[str, str] | None = None,
) -> Iterator[App]:
    """Open the state, the HTTP clients and every destination; close them all on the way out.

    ``specs`` replaces the configured destinations (a sandbox run), ``tokens`` their tokens.
    """
    with ExitStack() as stack:
        api_http = stack.enter_context(api_client())
        # Tokens are loaded before the state is opened: a missing one leaves no state behind.
        later = _Later()
        destinations = open_destinations(
            config, state_dir, api_http, later, specs=specs, tokens=tokens
        )
        store = stack.enter_context(Store(state_dir, retention=config.daemon.retention, role=role))
        later.store = store
        feeds_http = stack.enter_context(make_client())
        renderer = renderer_for(config)
        chosen = config.destinations if specs is None else tuple(specs)
        yield App(config, state_dir, store, feeds_http, api_http, destinations, renderer, chosen)
