"""Describe a gateway destination's account as ``poster account`` shows it."""

from __future__ import annotations

from poster.destinations import Account, Destination
from poster.destinations.gateway.destination import GatewayDestination


def gateway_account(destination: Destination) -> Account:
    """Ask the gateway of ``destination`` about its account; one aligned line per fact."""
    assert isinstance(destination, GatewayDestination), "opened by a gateway kind"
    shown = destination.adapter.account()
    width = max(map(len, shown), default=0)
    return Account(tuple(f"{name:<{width}}  {value}" for name, value in shown.items()))
