"""Share what every SMS/Viber gateway kind needs: its message, its adapter, its section keys.

A gateway kind (``poster/destinations/<gateway>/``) composes a ``GatewayMessage`` from a post
and implements an ``Adapter`` that speaks its API; ``GatewayDestination`` (``destination.py``)
sends through any adapter to a recipients file, batch by batch, through the recipient ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from poster.config import values as v
from poster.config.feedkeys import Key
from poster.errors import DestinationFatal
from poster.frozen import field, frozen
from poster.store.recipientledger import StatusUpdate

__all__ = [
    "Adapter",
    "BatchOutcome",
    "GatewayMessage",
    "GatewaySettings",
    "StatusUpdate",
    "StoppedPartway",
    "gateway_keys",
    "gateway_settings",
]

TEXT = "text"
PICTURE = "picture"
"""The message types a gateway kind composes: text, or text + image + button."""


@frozen
class GatewayMessage:
    """One item as a gateway sends it, composed within the gateway's limits."""

    type: str
    feed: str
    key: str
    text: str
    image: str | None = None
    button_caption: str | None = None
    button_action: str | None = None
    sms_text: str | None = None

    def payload(self) -> dict[str, Any]:
        """Return the fields a gateway request is built from, leaving out unset ones."""
        fields = {
            "text": self.text,
            "image": self.image,
            "button_caption": self.button_caption,
            "button_action": self.button_action,
            "sms_text": self.sms_text,
        }
        return {name: value for name, value in fields.items() if value is not None}


@frozen
class BatchOutcome:
    """What one request to the gateway did, per phone; phones named in neither map stay open."""

    accepted: Mapping[str, str] = field(default_factory=dict)
    """Phone -> the gateway's message id ("" when the gateway gives none)."""
    rejected: Mapping[str, str] = field(default_factory=dict)
    """Phone -> the gateway's reason for refusing that one recipient."""
    opted_out: frozenset[str] = frozenset()
    """Phones the gateway says opted out or are blacklisted: kept out of every later plan."""
    released: frozenset[str] = frozenset()
    """Phones the gateway refused without sending (an empty balance): planned again later."""
    retry_after: float | None = None
    """Seconds the gateway wants before the released phones are tried again, if it says."""


class StoppedPartway(DestinationFatal):
    """The gateway stopped the destination part way through a request that may have sent some.

    ``outcome`` says what became of each phone: the released were not sent, and phones named
    nowhere in it may have been, so they stay uncertain.
    """

    def __init__(self, message: str, outcome: BatchOutcome, status_message: str = "") -> None:
        self.outcome = outcome
        super().__init__(message, None, status_message)


class Adapter(Protocol):
    """Speak one gateway's API: send a batch, show its requests, read statuses and account."""

    @property
    def batch_size(self) -> int:
        """Return how many phones one request carries (1 where the API takes one number)."""
        ...

    @property
    def concurrency(self) -> int:
        """Return how many requests may be in flight at once."""
        ...

    def send(self, message: GatewayMessage, phones: Sequence[str]) -> BatchOutcome:
        """Send ``message`` to ``phones`` in one request, or raise a ``DeliveryError``."""
        ...

    def requests(self, message: GatewayMessage, phones: Sequence[str]) -> list[dict[str, Any]]:
        """Return the exact requests ``send`` would make, credentials redacted."""
        ...

    def statuses(self, message_ids: Sequence[str]) -> list[StatusUpdate]:
        """Ask the gateway for the statuses of ``message_ids`` (the polling fallback)."""
        ...

    def callback(self, method: str, query: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        """Read one delivery-status callback, or raise ``CallbackError``."""
        ...

    def account(self) -> Mapping[str, str]:
        """Return what the gateway says of the account (balance, credit); {} when nothing."""
        ...

    def cost(self, message: GatewayMessage, phones: Sequence[str]) -> str | None:
        """Return an estimate of what sending ``message`` to ``phones`` costs, if known."""
        ...


@frozen
class GatewaySettings:
    """The section keys every gateway kind shares, checked."""

    recipients: Path
    api_url: str
    ttl: timedelta | None = None
    token_file: Path | None = None
    max_per_day: int | None = None
    replies: bool = False
    min_gap: timedelta = timedelta(seconds=10)
    max_per_pass: int = 10


def _no_token(_value: object, _ctx: v.Context) -> None:
    """Refuse a literal token in feeds.toml; the message never repeats the value."""
    raise v.fail(
        "a literal token does not belong in feeds.toml",
        "delete it and set POSTER_<NAME>_TOKEN, token_file, or the systemd credential "
        "<name>-token; rotate it if this file was ever shared",
    )


def ttl_check(low: timedelta, high: timedelta) -> v.Convert:
    """Return a check for a duration within a gateway's documented ``low``..``high`` range."""

    def convert(value: object, ctx: v.Context) -> timedelta:
        found = v.to_duration(value, positive=True)
        if not low <= found <= high:
            raise v.fail(
                f"must be {low.total_seconds():g} to {high.total_seconds():g} seconds",
                "the gateway refuses a validity period outside its documented range",
            )
        return found

    return convert


def recipients_key(name: str) -> str:
    """Return the key that names destination ``name``'s recipients file, as errors show it."""
    return f"destinations.{name}.recipients"


def gateway_keys(api_url: str, ttl_range: tuple[timedelta, timedelta] | None) -> dict[str, Key]:
    """Return the shared section keys, with a kind's default ``api_url`` and TTL range."""
    keys = {
        "recipients": Key(None, v.path_value, 'name the file of numbers: recipients = "subs.txt"'),
        "api_url": Key(api_url, v.http_url),
        "token_file": Key(None, v.path_value),
        "token": Key(None, _no_token, hidden=True),
        "max_per_day": Key(None, v.positive_int),
        "replies": Key(False, v.boolean),
    }
    if ttl_range is not None:
        keys["ttl"] = Key(None, ttl_check(*ttl_range))
    return keys


def gateway_settings(values: Mapping[str, Any]) -> GatewaySettings:
    """Return the shared settings from a gateway section's checked ``values``."""
    return GatewaySettings(
        recipients=values["recipients"],
        api_url=values["api_url"],
        ttl=values.get("ttl"),
        token_file=values["token_file"],
        max_per_day=values["max_per_day"],
        replies=values["replies"],
        min_gap=values["min_gap"],
        max_per_pass=values["max_per_pass"],
    )
