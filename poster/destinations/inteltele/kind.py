"""Tell poster what Intel Tele takes: section keys, message types, composing and opening."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Literal, cast

from poster.config import DestinationConfig, FeedConfig
from poster.config import values as v
from poster.config.feedkeys import Key
from poster.destinations import Message, Opening
from poster.destinations.gateway import GatewayMessage, GatewaySettings, gateway_keys
from poster.destinations.gateway import gateway_settings as shared_settings
from poster.destinations.gateway.destination import (
    CallbackAddress,
    GatewayDestination,
    open_gateway,
)
from poster.destinations.gateway.kindbase import GatewayKindBase
from poster.destinations.gateway.pictures import explain
from poster.destinations.inteltele import compose as it_compose
from poster.destinations.inteltele.adapter import IntelTeleAdapter, SendOptions
from poster.destinations.inteltele.api import DEFAULT_BASE_URL, SEND, Credentials, IntelTeleClient
from poster.destinations.inteltele.rules import TTL_MAX, TTL_MIN, valid_sms_source
from poster.destinations.inteltele.schema import redacted
from poster.frozen import frozen
from poster.media.policy import MediaRules
from poster.models import Item, Post
from poster.sandbox.fakes import Fake

RECIPIENTS = "<each number of recipients, up to 50 a call>"
DEFAULT_TTL = timedelta(seconds=TTL_MAX)
"""The TTL sent when none is set: the gateway's own default is 60 s, after which a phone that was
offline for a minute never gets the item; a day is what the other gateways try for."""


def _sms_source(value: object, ctx: v.Context) -> str:
    """Check an SMS sender id: 3..15 digits, or 3..11 latin letters and digits."""
    source = v.text(value, ctx)
    if not valid_sms_source(source):
        raise v.fail(
            f"{source!r} is not an SMS sender id",
            "use 3 to 15 digits, or 3 to 11 latin letters and digits",
        )
    return source


@frozen
class IntelTeleSettings:
    """An Intel Tele destination's settings: the shared gateway ones and the account's."""

    gateway: GatewaySettings
    username: str
    im_sender: str | None = None
    sms_source: str | None = None
    method: Literal["GET", "POST"] = "GET"
    """GET with the params in the query, as the document shows ``im/send``; POST sends a form."""


class IntelTeleKind(GatewayKindBase):
    """The Intel Tele IM kind: text, or text + image + button, with an optional SMS fallback."""

    name = "inteltele"
    keys: Mapping[str, Key] = gateway_keys(
        DEFAULT_BASE_URL, (timedelta(seconds=TTL_MIN), timedelta(seconds=TTL_MAX))
    ) | {
        "username": Key(None, v.text, "the account's username from the Intel Tele profile"),
        "im_sender": Key(None, v.text),
        "sms_source": Key(None, _sms_source),
        "method": Key("GET", v.choice("GET", "POST")),
    }

    def settings(self, values: Mapping[str, Any]) -> IntelTeleSettings:
        """Return the destination's settings from its checked section."""
        method = cast(Literal["GET", "POST"], values["method"])
        return IntelTeleSettings(
            shared_settings(values),
            values["username"],
            values["im_sender"],
            values["sms_source"],
            method,
        )

    def choose_type(self, item: Item, feed: FeedConfig) -> str:
        """Return picture for an item with a usable image and a link, else text."""
        return it_compose.choose_type(item, feed)

    @property
    def media_rules(self) -> MediaRules:
        """Return the images ``im_image`` carries: JPEG or PNG within 400x400."""
        return MediaRules(it_compose.IMAGE)

    def explain(self, item: Item, feed: FeedConfig) -> str | None:
        """Say why the item's probed image did not make it a picture."""
        return explain(item, feed, it_compose.IMAGE, self.choose_type)

    def possible_types(self, feed: FeedConfig) -> tuple[str, ...]:
        """Return the types ``feed`` can produce here."""
        return it_compose.possible_types(feed)

    def conflicts(self, spec: DestinationConfig) -> list[tuple[str, str, str]]:
        """Refuse ``replies``: the Intel Tele document has no 2-Way messages to ask for."""
        if spec.settings.gateway.replies:
            return [("replies", "is not supported by kind inteltele", "remove it")]
        return []

    def text_limit(self, type: str) -> int:
        """Return the document's 1000 symbols, for every type."""
        return it_compose.text_limit(type)

    def compose(self, post: Post) -> Message:
        """Return the gateway message of ``post``."""
        return it_compose.compose(post)

    def preview_body(self, message: Message, sender: str | None) -> dict[str, Any]:
        """Return the ``im/send`` params ``message`` goes out with, the credentials hidden."""
        if not isinstance(message, GatewayMessage):
            return message.payload()
        params = {
            "to": RECIPIENTS,
            "im_sender": sender,
            "im_message": message.text,
            "im_image": message.image,
            "im_button_text": message.button_caption,
            "im_button_link": message.button_action,
        }
        shown = {key: value for key, value in params.items() if value is not None}
        body: dict[str, Any] = {"endpoint": f"{SEND}/", "params": redacted(shown)}
        if message.sms_text:
            # Sent as sms_message only by a destination that sets sms_source.
            body["sms_fallback"] = message.sms_text
        return body

    def sandbox_fake(self, clock: Callable[[], float], balance: int) -> Fake:
        """Return this gateway's fake for the combined sandbox, not started."""
        from poster.destinations.inteltele.sandboxed import Sandboxed

        return Sandboxed(clock, balance)

    def open(self, spec: DestinationConfig, where: Opening) -> GatewayDestination:
        """Return the destination: its API key loaded, its recipients file read on use."""
        settings: IntelTeleSettings = spec.settings
        shared = settings.gateway
        address = CallbackAddress()

        def adapter(api_key: str) -> IntelTeleAdapter:
            client = IntelTeleClient(
                where.http,
                Credentials(settings.username, api_key),
                base_url=shared.api_url,
                method=settings.method,
                name=spec.name,
            )
            ttl = shared.ttl or DEFAULT_TTL
            options = SendOptions(settings.im_sender, ttl, settings.sms_source)
            return IntelTeleAdapter(client, options, address)

        return open_gateway(self, spec.name, shared, where, adapter, address)


KIND = IntelTeleKind()
