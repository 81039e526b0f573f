"""Count, per gateway destination and recent item, how its recipients stand, for status and metrics.

The numbers come from each destination's recipient ledger (``RecipientLedger.outcome``): what the
gateway accepted, what it reported delivered, read or failed, whose status it would not tell,
and who opted out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from poster.config import Config
from poster.destinations.gateway.daily import DayCounter
from poster.errors import StateError
from poster.frozen import frozen, replace
from poster.recipients.daycap import DailyCap
from poster.store.recipientledger import ItemOutcome, RecipientLedger, ledger_path
from poster.store.recipientstate import PENDING, UNCERTAIN

RECENT_ITEMS = 10
"""Items shown per gateway destination, newest first, so the section stays short."""
COUNTS = ("accepted", "delivered", "read", "failed", "rejected", "uncertain", "unknown")
"""The counts shown per item, in order."""
HEADER = ("DESTINATION", "FEED", "KEY", *(name.upper() for name in COUNTS))


@frozen
class ItemSubscribers:
    """How one item's recipients stand at one gateway destination."""

    feed: str
    key: str
    outcome: ItemOutcome


@frozen
class GatewaySubscribers:
    """One gateway destination: its recent items' counts and how many numbers opted out.

    ``uncertain`` and ``pending`` count the batches, of any item, whose answer is not in, and
    their numbers: lost answers wait for an operator, and a batch pending with no poster
    running was cut short by a stop.
    """

    destination: str
    opted_out: int
    items: tuple[ItemSubscribers, ...]
    uncertain: tuple[int, int] = (0, 0)
    pending: tuple[int, int] = (0, 0)
    capped: str | None = None
    """That today's ``max_per_day`` is reached and when the rest go, while it is."""


def summarise(name: str, ledger: RecipientLedger, limit: int = RECENT_ITEMS) -> GatewaySubscribers:
    """Return destination ``name``'s counts for its ``limit`` newest items from ``ledger``."""
    items = []
    for ref in ledger.recent_items(limit):
        feed, _, key = ref.partition(" ")
        items.append(ItemSubscribers(feed, key, ledger.outcome(ref)))
    batches = ledger.open_batches()
    return GatewaySubscribers(
        name, ledger.optout_count(), tuple(items),
        _batches(b.size for b in batches if b.state == UNCERTAIN),
        _batches(b.size for b in batches if b.state == PENDING),
    )  # fmt: skip


def _batches(sizes: Iterable[int]) -> tuple[int, int]:
    """Return how many batches there are and how many numbers they hold."""
    found = list(sizes)
    return len(found), sum(found)


def read_subscribers(
    config: Config, state_dir: Path, now: datetime | None = None
) -> tuple[GatewaySubscribers, ...]:
    """Return the counts of every configured destination that keeps a recipient ledger."""
    found = []
    for spec in config.destinations:
        path = ledger_path(state_dir, spec.name)
        if path.exists():
            # Read-only takes no lock: the status works while the daemon sends.
            with RecipientLedger(path, read_only=True) as ledger:
                counted = summarise(spec.name, ledger)
            cap = getattr(getattr(spec.settings, "gateway", None), "max_per_day", None)
            capped = _capped(cap, path.parent / "day.json", now or datetime.now(UTC))
            found.append(replace(counted, capped=capped) if capped else counted)
    return tuple(found)


def _capped(cap: int | None, path: Path, now: datetime) -> str | None:
    """Say that today's cap is reached and when the rest go, from the day's count file."""
    if cap is None:
        return None
    counter = DayCounter(DailyCap(cap), path)
    try:
        sent = counter.sent_on(now)
    except StateError:
        return None  # a send says so when it reads the count
    if sent < cap:
        return None
    resume = f"{counter.resume_at(now):%Y-%m-%d %H:%M} UTC"
    return f"max_per_day={cap} reached today ({sent} sent): the rest go from {resume}"


def _counts(outcome: ItemOutcome) -> tuple[int, ...]:
    return tuple(int(getattr(outcome, name)) for name in COUNTS)


def subscriber_rows(
    gateways: Sequence[GatewaySubscribers],
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Return a row per item and gateway, the destination's opt-outs beneath its first row."""
    rows: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for gateway in gateways:
        note: tuple[str, ...] = (f"{gateway.opted_out} number(s) opted out",)
        note += (gateway.capped,) if gateway.capped else ()
        if not gateway.items:
            rows.append(((gateway.destination, "-", "-", *("-" for _ in COUNTS)), note))
        for index, item in enumerate(gateway.items):
            cells = (gateway.destination, item.feed, item.key, *map(str, _counts(item.outcome)))
            rows.append((cells, note if index == len(gateway.items) - 1 else ()))
    return rows


def subscribers_json(gateway: GatewaySubscribers) -> dict[str, Any]:
    """Return one gateway destination's counts as JSON values."""
    return {
        "destination": gateway.destination,
        "opted_out": gateway.opted_out,
        "uncertain_batches": gateway.uncertain[0],
        "uncertain_numbers": gateway.uncertain[1],
        "pending_batches": gateway.pending[0],
        "pending_numbers": gateway.pending[1],
        "capped": gateway.capped,
        "items": [
            {"feed": item.feed, "key": item.key}
            | dict(zip(COUNTS, _counts(item.outcome), strict=True))
            for item in gateway.items
        ],
    }


def subscriber_samples(
    gateways: Iterable[GatewaySubscribers],
) -> tuple[list[tuple[dict[str, str], float]], list[tuple[dict[str, str], float]]]:
    """Return the metric samples: recipients per item and state, and opt-outs per destination."""
    recipients, opted_out = [], []
    for gateway in gateways:
        opted_out.append(({"destination": gateway.destination}, float(gateway.opted_out)))
        for item in gateway.items:
            where = {"destination": gateway.destination, "feed": item.feed, "key": item.key}
            for name, count in zip(COUNTS, _counts(item.outcome), strict=True):
                recipients.append((where | {"state": name}, float(count)))
    return recipients, opted_out
