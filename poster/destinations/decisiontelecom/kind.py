"""Tell poster what DecisionTelecom Viber takes: section keys, message types, composing, opening."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from poster.config import DestinationConfig, FeedConfig
from poster.config import values as v
from poster.config.feedkeys import Key
from poster.destinations import REDACTED, Message, Opening
from poster.destinations.decisiontelecom import compose as dt_compose
from poster.destinations.decisiontelecom.adapter import DecisionTelecomAdapter, Sending
from poster.destinations.decisiontelecom.api import DEFAULT_BASE_URL, DecisionTelecomClient
from poster.destinations.decisiontelecom.rules import SOURCE_ADDR_MAX, TEXT_MAX, TTL_RANGES
from poster.destinations.decisiontelecom.schema import SourceType
from poster.destinations.gateway import (
    PICTURE,
    TEXT,
    GatewaySettings,
    gateway_keys,
    gateway_settings,
)
from poster.destinations.gateway.destination import (
    CallbackAddress,
    GatewayDestination,
    open_gateway,
)
from poster.destinations.gateway.kindbase import GatewayKindBase
from poster.destinations.gateway.pictures import explain
from poster.frozen import frozen
from poster.media.policy import MediaRules
from poster.models import Item, Post
from poster.sandbox.fakes import Fake

PURPOSES = {"promotional": SourceType.PROMOTIONAL, "transactional": SourceType.TRANSACTIONAL}
_LOW, _HIGH = TTL_RANGES[1]


def _source_addr(value: object, ctx: v.Context) -> str:
    """Check a sender name of 1 to 20 characters ("source_addr")."""
    name = v.text(value, ctx)
    if len(name) > SOURCE_ADDR_MAX:
        raise v.fail(f"is {len(name)} characters; DecisionTelecom takes at most {SOURCE_ADDR_MAX}")
    return name


@frozen
class DecisionTelecomSettings:
    """A DecisionTelecom destination's settings: the shared gateway ones, sender and purpose."""

    gateway: GatewaySettings
    source_addr: str
    purpose: str = "promotional"


class DecisionTelecomKind(GatewayKindBase):
    """The DecisionTelecom Viber kind: text (106/206) or text + image + button (108/208)."""

    name = "decisiontelecom"
    keys: Mapping[str, Key] = gateway_keys(
        DEFAULT_BASE_URL, (timedelta(seconds=_LOW), timedelta(seconds=_HIGH))
    ) | {
        "source_addr": Key(None, _source_addr, "the sender name your account manager registered"),
        "purpose": Key("promotional", v.choice(*PURPOSES)),
    }

    def settings(self, values: Mapping[str, Any]) -> DecisionTelecomSettings:
        """Return the destination's settings from its checked section."""
        shared = gateway_settings(values)
        return DecisionTelecomSettings(shared, values["source_addr"], values["purpose"])

    def choose_type(self, item: Item, feed: FeedConfig) -> str:
        """Return picture for an item with a JPEG/PNG image and a link, else text."""
        wanted = feed.fixed.type if feed.fixed is not None else feed.type
        if wanted not in ("auto", PICTURE):
            return TEXT
        rich = dt_compose.image_url(item.image) is not None and bool(item.link)
        return PICTURE if rich else TEXT

    @property
    def media_rules(self) -> MediaRules:
        """Return the images a picture carries: JPEG or PNG within 400x400."""
        return MediaRules(dt_compose.IMAGE)

    def explain(self, item: Item, feed: FeedConfig) -> str | None:
        """Say why the item's probed image did not make it a picture."""
        return explain(item, feed, dt_compose.IMAGE, self.choose_type)

    def possible_types(self, feed: FeedConfig) -> tuple[str, ...]:
        """Return the types a feed can produce here."""
        return (PICTURE, TEXT)

    def text_limit(self, type: str) -> int:
        """Return the document's 1,000 characters, for every type."""
        return TEXT_MAX

    def compose(self, post: Post) -> Message:
        """Return the gateway message of ``post``."""
        return dt_compose.compose(post, rich=True)

    def preview_body(self, message: Message, sender: str | None) -> dict[str, Any]:
        """Return the fields each recipient's send-viber call carries, the key hidden."""
        body = message.payload() | {"type": message.type, "source_addr": sender or "<source_addr>"}
        return {"endpoint": "send-viber", "authorization": f"Basic {REDACTED}", "json": body}

    def callbacks_needed(self, spec: DestinationConfig) -> tuple[str, str] | None:
        """Return ``replies`` when set: 2-Way messages need a callback URL for the replies."""
        settings: DecisionTelecomSettings = spec.settings
        if not settings.gateway.replies:
            return None
        # "The response implies that the API user has a callback url for this message."
        return (
            "replies",
            "2-Way messages (206, 208) need a callback URL for DecisionTelecom's replies",
        )

    def sandbox_fake(self, clock: Callable[[], float], balance: int) -> Fake:
        """Return this gateway's fake for the combined sandbox, not started."""
        from poster.destinations.decisiontelecom.sandboxed import Sandboxed

        return Sandboxed(clock, balance)

    def open(self, spec: DestinationConfig, where: Opening) -> GatewayDestination:
        """Return the destination: its key loaded, its recipients file read."""
        settings: DecisionTelecomSettings = spec.settings
        shared = settings.gateway
        address = CallbackAddress()

        def adapter(token: str) -> DecisionTelecomAdapter:
            client = DecisionTelecomClient(
                where.http, token, base_url=shared.api_url, name=spec.name
            )
            ttl = int(shared.ttl.total_seconds()) if shared.ttl is not None else None
            purpose = PURPOSES[settings.purpose]
            return DecisionTelecomAdapter(
                client, Sending(settings.source_addr, purpose, ttl, shared.replies), address
            )

        return open_gateway(self, spec.name, shared, where, adapter, address)


KIND = DecisionTelecomKind()
