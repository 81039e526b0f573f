"""What every gateway kind does alike, inherited by each kind's class in its own folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from poster.destinations.gateway import recipients_key
from poster.destinations.gateway.accesskey import key_source
from poster.destinations.gateway.balance import gateway_account
from poster.destinations.gateway.standin import gateway_stand_in
from poster.recipients.listfile import load_named

if TYPE_CHECKING:
    from poster.config import DestinationConfig
    from poster.destinations import Account, Destination, Kind, Opening, TokenSource
    from poster.recipients import Recipients


class GatewayKindBase:
    """A gateway kind's key source, account and preview stand-in, from its shared settings.

    Each kind's settings keep the keys every gateway shares as ``gateway``.
    """

    def token_source(self, spec: DestinationConfig, config_file: str) -> TokenSource:
        """Say where the destination's access key comes from, checking it as a send would."""
        return key_source(spec.name, spec.settings.gateway)

    def recipients(self, spec: DestinationConfig, config_file: str) -> Recipients | None:
        """Read and check the destination's recipients file as a send does."""
        where = recipients_key(spec.name)
        return load_named(spec.settings.gateway.recipients, config_file, where)

    def account(self, destination: Destination) -> Account:
        """Return what the gateway reports of its account, or that its API has no such call."""
        return gateway_account(destination)

    def stand_in(
        self: Kind, spec: DestinationConfig, where: Opening, sender: str | None
    ) -> Destination:
        """Return the preview's stand-in: the requests, recipients and cost, nothing sent."""
        return gateway_stand_in(self, spec, where, sender)
