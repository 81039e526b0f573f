"""Read what each gateway fake accepted as the subscriber's phone shows it: one bubble a message.

Each gateway names its statuses its own way; ``state`` puts them on one scale for the page
(pending, sent, delivered, read, failed) while ``status`` keeps the gateway's own word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.inteltele.fake import FakeInteltele
from poster.destinations.smsby.fake import SmsByFake

_DECISIONTELECOM_STATES = {"pending": "pending", "sent": "sent", "delivered": "delivered"}
_INTELTELE_STATES = {"enroute": "sent", "delivrd": "delivered"}
"""delivrd is delivered; the document names unknown, rejectd, expired, undeliv, deleted failed."""
_SMSBY_STATES = {"NEW": "pending", "SENT": "sent", "DELIVERED": "delivered", "READ": "read"}


@dataclass(frozen=True)
class Bubble:
    """One message on a subscriber's phone: what it shows and how far it got."""

    sender: str
    text: str
    image: str
    button: str
    link: str
    status: str
    """The gateway's own word for the status."""
    state: str
    """pending, sent, delivered, read or failed."""


@dataclass(frozen=True)
class Phone:
    """One subscriber's number and what it got, oldest first."""

    number: str
    messages: tuple[Bubble, ...]


def as_json(phones: Iterable[Phone]) -> list[dict[str, Any]]:
    """Return phones as JSON-ready records."""
    return [asdict(phone) for phone in phones]


def _grouped(pairs: Iterable[tuple[str, Bubble]]) -> list[Phone]:
    """Return bubbles grouped by number, numbers in the order they first got one."""
    grouped: dict[str, list[Bubble]] = {}
    for number, bubble in pairs:
        grouped.setdefault(number, []).append(bubble)
    return [Phone(number, tuple(bubbles)) for number, bubbles in grouped.items()]


def _text(values: Mapping[str, Any], key: str) -> str:
    """Return a value as text, or "" when it is absent."""
    value = values.get(key)
    return "" if value is None else str(value)


def decisiontelecom_phones(fake: FakeDecisionTelecom) -> list[Phone]:
    """Return what each phone got from the DecisionTelecom fake."""
    pairs = []
    for accepted in fake.gateway.messages:
        status = fake.gateway.status(accepted).name.lower()
        body = accepted.body
        bubble = Bubble(
            sender=_text(body, "source_addr"),
            text=_text(body, "text"),
            image=_text(body, "image"),
            button=_text(body, "button_caption"),
            link=_text(body, "button_action"),
            status=status,
            state=_DECISIONTELECOM_STATES.get(status, "failed"),
        )
        pairs.append((accepted.phone, bubble))
    return _grouped(pairs)


def inteltele_phones(fake: FakeInteltele) -> list[Phone]:
    """Return what each phone got from the Intel Tele fake."""
    now = fake.clock()
    pairs = []
    for delivery in fake.deliveries:
        status = delivery.status(now)
        params = delivery.params
        bubble = Bubble(
            sender=_text(params, "im_sender"),
            text=_text(params, "im_message"),
            image=_text(params, "im_image"),
            button=_text(params, "im_button_text"),
            link=_text(params, "im_button_link"),
            status=status,
            state=_INTELTELE_STATES.get(status, "failed"),
        )
        pairs.append((delivery.phone, bubble))
    return _grouped(pairs)


def smsby_phones(fake: SmsByFake) -> list[Phone]:
    """Return what each phone got from the SMS.BY fake, failed numbers included."""
    gateway = fake.gateway
    pairs = []
    with gateway.lock:
        for delivery in gateway.deliveries:
            status = gateway.status(delivery)
            bubble = Bubble(
                sender=delivery.sender,
                text=delivery.text,
                image=delivery.image_url,
                button=delivery.button,
                link=delivery.button_link,
                status=status if not delivery.error else f"{status}: {delivery.error}",
                state=_SMSBY_STATES.get(status, "failed"),
            )
            pairs.append((delivery.phone, bubble))
    return _grouped(pairs)
