"""The gateway command: one poll of the delivery statuses no callback brought."""

from __future__ import annotations

import argparse

from poster.cli.common import EXIT_OK, add_command, state_dir

TYPE_CHECKING = False  # as typing's, without loading typing: --help never needs it

if TYPE_CHECKING:
    from typing import Any

    import httpx

    from poster.config import Config


def add_commands(commands: Any) -> None:
    """Register ``gateway poll``."""
    group = add_command(commands, "gateway", "ask the SMS/Viber gateways", state=True)
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    summary = "ask each gateway for statuses it has not called back with"
    add_command(actions, "poll", summary, state=True).set_defaults(handler=cmd_poll)


def _gateways(config: Config, args: argparse.Namespace, http: httpx.Client) -> list[Any]:
    """Open the configured destinations and return the gateway ones."""
    from poster.app import Reading, open_destinations
    from poster.destinations.gateway.destination import GatewayDestination

    # No state: a gateway destination keeps nothing there.
    opened = open_destinations(config, state_dir(args), http, Reading(None))
    return [d for d in opened.values() if isinstance(d, GatewayDestination)]


def cmd_poll(config: Config, args: argparse.Namespace) -> int:
    """Ask each gateway for the statuses of messages without a final one, and record them."""
    from poster.destinations.gateway.destination import close_ledgers
    from poster.fetch.client import env_client

    with env_client() as http:
        try:
            for gateway in _gateways(config, args, http):
                print(f"{gateway.name}\t{gateway.poll()} status(es) recorded")
        finally:
            close_ledgers()
    return EXIT_OK
