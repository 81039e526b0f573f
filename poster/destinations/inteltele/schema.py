"""Define the records the Intel Tele client takes and returns, all frozen.

Money is ``Decimal`` parsed from the API's text ("0.186440"), so costs add up exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from poster.frozen import frozen

REDACTED = "***"

FINAL_STATUSES = frozenset({"delivrd", "unknown", "rejectd", "expired", "undeliv", "deleted"})
"""The document's callback statuses ("Asynchronous MT messages status"); any other is pending."""

DELIVERED = "delivrd"


@frozen
class SendRequest:
    """One IM message for one or more phone numbers (``im/send``); None leaves a param out."""

    to: tuple[str, ...]
    message: str
    sender: str | None = None
    image: str | None = None
    button_text: str | None = None
    button_link: str | None = None
    ttl: int | None = None
    sms_source: str | None = None
    sms_message: str | None = None

    def params(self) -> dict[str, str]:
        """Return the request's own params as sent, without the credentials."""
        values = {
            "to": ",".join(self.to),
            "im_sender": self.sender,
            "im_message": self.message,
            "im_image": self.image,
            "im_button_text": self.button_text,
            "im_button_link": self.button_link,
            "im_ttl": None if self.ttl is None else str(self.ttl),
            "sms_source": self.sms_source,
            "sms_message": self.sms_message,
        }
        return {key: value for key, value in values.items() if value is not None}

    def redacted(self) -> dict[str, str]:
        """Return every param as a preview shows it, the credentials replaced by ``***``."""
        return redacted(self.params())


@frozen
class StatusRequest:
    """A question about the state of sent messages (``im/status``)."""

    message_ids: tuple[str, ...]
    timeformat: str | None = "datetime"
    timezone: str | None = "UTC"

    def params(self) -> dict[str, str]:
        """Return the request's own params as sent, without the credentials."""
        values = {
            "requests": ",".join(self.message_ids),
            "timeformat": self.timeformat,
            "timezone": self.timezone,
        }
        return {key: value for key, value in values.items() if value is not None}

    def redacted(self) -> dict[str, str]:
        """Return every param as a preview shows it, the credentials replaced by ``***``."""
        return redacted(self.params())


def redacted(params: Mapping[str, str]) -> dict[str, str]:
    """Return ``params`` preceded by the credentials, both shown as ``***``."""
    return {"username": REDACTED, "api_key": REDACTED, **params}


@frozen
class RecipientResult:
    """What the gateway did with one phone number of a send."""

    phone: str
    accepted: bool
    action: str
    """``ok``, ``reject-recipient``, ``retry-recipient`` (a repeat: try it after a minute),
    ``fatal`` (the balance ran out) or ``uncertain``."""
    status: str
    """The gateway's own text: "OK", "error: number is blacklisted", ..."""
    message_id: str | None = None
    cost: Decimal | None = None
    country: str | None = None
    mcc: str | None = None
    hint: str = ""


@frozen
class SendResult:
    """The outcome of one ``im/send`` call, one record per phone number asked for."""

    results: tuple[RecipientResult, ...]
    body: Mapping[str, str]
    """The params as sent, with the credentials replaced by ``***``."""

    @property
    def accepted(self) -> tuple[RecipientResult, ...]:
        """Return the numbers the gateway queued."""
        return tuple(r for r in self.results if r.accepted)

    @property
    def fatal(self) -> RecipientResult | None:
        """Return the first number whose error stops the destination, if any."""
        return next((r for r in self.results if r.action == "fatal"), None)

    @property
    def cost(self) -> Decimal:
        """Return what the accepted numbers cost."""
        return sum((r.cost or Decimal(0) for r in self.accepted), Decimal(0))


@frozen
class MessageStatus:
    """The state of one sent message, from ``im/status`` or the status callback."""

    message_id: str
    status: str
    at: datetime | None = None
    """When the gateway received the status; None when it did not say (or said unreadably)."""
    raw_date: str | None = None
    time_zone: str | None = None

    @property
    def final(self) -> bool:
        """Tell whether the status will not change any more."""
        return self.status in FINAL_STATUSES

    @property
    def delivered(self) -> bool:
        """Tell whether the message reached the handset."""
        return self.status == DELIVERED


@frozen
class Rate:
    """The price of one message to one network of one country."""

    price: Decimal
    delivered_only: bool
    """True when only delivered messages are paid for (the document's second param, 1)."""


@frozen
class Estimate:
    """What sending one message to some numbers would cost at most."""

    total: Decimal
    unknown_countries: tuple[str, ...]
    """Countries with no rate: sending there fails with "no route to country"."""


@frozen
class Rates:
    """The account's prices: country code -> network code ("" = all networks) -> rate."""

    countries: Mapping[str, Mapping[str, Rate]]

    def price(self, country: str) -> Decimal | None:
        """Return the most a number of ``country`` costs: its dearest network, or None."""
        networks = self.countries.get(country.lower())
        if not networks:
            return None
        # A number's network is unknown before sending, so the dearest one bounds the cost.
        return max(rate.price for rate in networks.values())

    def estimate(self, counts: Mapping[str, int]) -> Estimate:
        """Return the most that one message to ``counts[country]`` numbers per country costs."""
        total = Decimal(0)
        unknown: list[str] = []
        for country, count in sorted(counts.items()):
            price = self.price(country)
            if price is None:
                unknown.append(country)
            else:
                total += price * count
        return Estimate(total, tuple(unknown))
