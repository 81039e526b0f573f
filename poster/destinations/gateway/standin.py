"""Stand in for a gateway destination in a preview: the exact requests, how many recipients, cost.

The stand-in opens the destination as a run would (its adapter and recipients file) but sends
nothing; it reads the recipient ledger, if there is one, to leave out the numbers that got the
item or may have, and those opted out, and writes nothing. A missing access key still shows
the requests (credentials are redacted anyway); the cost is then unknown, as it is when the
gateway cannot be asked.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from poster.config import DestinationConfig
from poster.destinations import REDACTED, Destination, Kind, Message, Moves, Opening, Receipt
from poster.destinations.gateway import GatewayMessage
from poster.destinations.gateway.destination import GatewayDestination, item_moves, item_ref
from poster.errors import ConfigError, PosterError
from poster.frozen import replace
from poster.store.recipientledger import RecipientLedger, ledger_path

log = logging.getLogger(__name__)
NO_KEY = "unknown (no access key to ask the gateway)"
UNREACHABLE = "unknown (rates not reachable: {})"
NO_PRICES = "unknown (the gateway gives no prices)"


class GatewayStandIn:
    """Show what a gateway destination would send for a message, sending nothing."""

    def __init__(
        self,
        name: str,
        kind: Kind,
        sender: str | None,
        opened: GatewayDestination | None,
        *,
        keyed: bool,
        problem: str = "",
        ledger: Path | None = None,
    ) -> None:
        """``ledger`` is where the destination's recipient ledger would be."""
        self._name = name
        self._kind = kind
        self._sender = sender
        self._opened = opened
        self._keyed = keyed
        self._problem = problem
        self._ledger = ledger
        self._carried: list[tuple[str, str]] = []

    @property
    def name(self) -> str:
        """Return the name of the destination this stands in for."""
        return self._name

    @property
    def kind(self) -> Kind:
        """Return the gateway kind."""
        return self._kind

    def show_callback_url(self, url: str) -> None:
        """Show the requests with the callback URL the daemon would give them."""
        if self._opened is not None:
            self._opened.address.url = url

    def send(self, message: Message) -> Receipt:
        """Return the body, the requests for the first batch, the recipients and the cost."""
        body = self._kind.preview_body(message, self._sender)
        body |= self._gateway_lines(message)
        return Receipt(self._name, None, datetime.now(UTC), body)

    def _gateway_lines(self, message: Message) -> dict[str, Any]:
        """Return what the destination adds to the body: requests, recipients and cost."""
        if self._opened is None:
            return {"recipients": f"unknown ({self._problem})"}
        if not isinstance(message, GatewayMessage):
            return {}
        adapter = self._opened.adapter
        try:
            phones = self._planned(message, self._opened.recipients.phones)
        except PosterError as exc:
            return {"recipients": f"unknown ({exc})"}
        size = max(1, adapter.batch_size)
        return {
            "recipients": len(phones),
            "requests_total": -(-len(phones) // size),
            "requests": adapter.requests(message, phones[:size]),
            "cost": self._cost(message, phones),
        }

    def _planned(self, message: GatewayMessage, phones: tuple[str, ...]) -> tuple[str, ...]:
        """Return the numbers a run would send the item to: not those that got it or may have,
        nor those opted out, as the recipient ledger plans them (read, never written)."""
        if self._ledger is None or not self._ledger.exists():
            return phones
        with RecipientLedger(self._ledger, read_only=True) as ledger:
            ledger.carry(self._carried)
            return ledger.plan(item_ref(message.feed, message.key), phones)

    def carry(self, moves: Moves) -> None:
        """Plan the items that changed name as a run carries them."""
        self._carried += item_moves(moves)

    def _cost(self, message: GatewayMessage, phones: tuple[str, ...]) -> str:
        """Ask the gateway what sending costs, saying why when it cannot be known."""
        if not self._keyed:
            return NO_KEY
        assert self._opened is not None
        try:
            found = self._opened.adapter.cost(message, phones)
        except PosterError as exc:
            return UNREACHABLE.format(exc)
        return NO_PRICES if found is None else found


def gateway_stand_in(
    kind: Kind, spec: DestinationConfig, where: Opening, sender: str | None
) -> Destination:
    """Return the stand-in of gateway destination ``spec``: opened with its key when it has one."""
    ledger = ledger_path(where.state_dir, spec.name)
    try:
        opened = kind.open(spec, where)
    except ConfigError:
        # Without a key the requests can still be shown: their credentials are redacted anyway.
        try:
            opened = kind.open(spec, replace(where, token=REDACTED))
        except PosterError as exc:
            return GatewayStandIn(spec.name, kind, sender, None, keyed=False, problem=str(exc))
        assert isinstance(opened, GatewayDestination)
        return GatewayStandIn(spec.name, kind, sender, opened, keyed=False, ledger=ledger)
    assert isinstance(opened, GatewayDestination)
    return GatewayStandIn(spec.name, kind, sender, opened, keyed=True, ledger=ledger)
