"""The gateway commands: each gateway's account (balance), and one poll of delivery statuses."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from poster.cli.common import EXIT_OK, add_command, state_dir

if TYPE_CHECKING:
    import httpx

    from poster.config import Config


class _NoEntries:
    """Stand in for the state: a gateway destination keeps nothing there."""

    def get_meta(self, name: str) -> str | None:
        """Return nothing."""
        return None

    def set_meta(self, name: str, value: str) -> None:
        """Keep nothing."""


def add_commands(commands: Any) -> None:
    """Register ``gateway account`` and ``gateway poll``."""
    group = add_command(commands, "gateway", "ask the SMS/Viber gateways", state=True)
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    for name, summary, handler in (
        ("account", "show each gateway's balance or credit", cmd_account),
        ("poll", "ask each gateway for statuses it has not called back with", cmd_poll),
    ):
        action = add_command(actions, name, summary, state=True)
        action.set_defaults(handler=handler)


def _gateways(config: Config, args: argparse.Namespace, http: httpx.Client) -> list[Any]:
    """Open the configured destinations and return the gateway ones."""
    from poster.app import open_destinations
    from poster.destinations.gateway.destination import GatewayDestination

    opened = open_destinations(config, state_dir(args), http, _NoEntries())
    return [d for d in opened.values() if isinstance(d, GatewayDestination)]


def cmd_account(config: Config, args: argparse.Namespace) -> int:
    """Print one line per gateway destination: its name and what the gateway says."""
    import httpx

    with httpx.Client() as http:
        for gateway in _with_callbacks(config, args, _gateways(config, args, http)):
            shown = gateway.adapter.account()
            words = (
                ", ".join(f"{k} {v}" for k, v in shown.items()) or "the gateway gives no balance"
            )
            print(f"{gateway.name}\t{words}")
    return EXIT_OK


def _with_callbacks(config: Config, args: argparse.Namespace, gateways: list[Any]) -> list[Any]:
    """Give each gateway the callback URL the daemon tells it, read from the state."""
    from poster.daemon.callbacks import public_callback_url
    from poster.store import Store
    from poster.store.store import SNAPSHOT_NAME

    place = state_dir(args)
    if not gateways or not (place / SNAPSHOT_NAME).exists():
        return gateways
    # Read-only: the daemon may hold the state, and only the daemon makes the secret.
    public = config.webhook.public_url
    with Store(place, read_only=True) as store:
        for gateway in gateways:
            gateway.address.url = public_callback_url(store, public, gateway.name)
    return gateways


def cmd_poll(config: Config, args: argparse.Namespace) -> int:
    """Ask each gateway for the statuses of messages without a final one, and record them."""
    import httpx

    from poster.destinations.gateway.destination import close_ledgers

    with httpx.Client() as http:
        try:
            for gateway in _gateways(config, args, http):
                print(f"{gateway.name}\t{gateway.poll()} status(es) recorded")
        finally:
            close_ledgers()
    return EXIT_OK
