"""Open an SMS.BY destination: its key, its client, its recipients and its recipient ledger."""

from __future__ import annotations

from collections.abc import Callable

from poster.config import DestinationConfig
from poster.destinations import Kind, Opening
from poster.destinations.gateway import recipients_key
from poster.destinations.gateway.accesskey import gateway_token
from poster.destinations.gateway.daily import DayCounter
from poster.destinations.gateway.destination import (
    CallbackAddress,
    GatewayDestination,
    ledger_days,
    shared_ledger,
)
from poster.destinations.smsby.adapter import SmsByAdapter
from poster.destinations.smsby.api import SmsByClient
from poster.destinations.smsby.kind import (
    SmsBySettings,
    check_phones,
    list_recipients,
    recipients_path,
    route,
)
from poster.recipients import Recipients
from poster.recipients.daycap import DailyCap
from poster.recipients.listfile import RecipientsFile
from poster.store.recipientledger import ledger_path


def open_destination(kind: Kind, spec: DestinationConfig, where: Opening) -> GatewayDestination:
    """Return the gateway destination ``spec`` describes; the ledger opens on the first send."""
    settings: SmsBySettings = spec.settings
    chosen = route(spec, where.config_file)
    recipients = _recipients(spec, where)
    token = where.token or gateway_token(spec.name, settings.gateway, where.config_file)
    client = SmsByClient(where.http, token, base_url=settings.gateway.api_url, name=spec.name)
    path, days = ledger_path(where.state_dir, spec.name), ledger_days(where.retention)
    # Counted with no cap too, so that a cap set during the day counts what went before it.
    daily = DayCounter(DailyCap(settings.gateway.max_per_day), path.parent / "day.json")
    address = CallbackAddress()
    return GatewayDestination(
        spec.name, kind, SmsByAdapter(client, chosen, address), recipients,
        lambda: shared_ledger(path, days), daily=daily, address=address,
    )  # fmt: skip


def _recipients(spec: DestinationConfig, where: Opening) -> Callable[[], Recipients]:
    """Return the loader of the destination's recipients, checked now so a fault stops early."""
    settings: SmsBySettings = spec.settings
    if settings.list_id is not None:
        fixed = list_recipients(settings.list_id)
        return lambda: fixed
    named_by = (where.config_file, recipients_key(spec.name))
    numbers = RecipientsFile(recipients_path(settings, where.config_file), named_by)

    def checked() -> Recipients:
        return check_phones(numbers(), where.config_file, spec.name)

    checked()
    return checked
