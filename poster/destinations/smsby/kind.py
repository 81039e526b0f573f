"""Tell poster what an SMS.BY Viber destination takes: its keys, its message, how it opens.

``[destinations.NAME] kind = "smsby"`` sends either to a recipients file (``recipients``;
``sendBulkViber``, or ``sendQuickViberMessage`` per number with ``forward_sms``) or to a list
kept by the gateway (``list_id``; ``sendViberMessageList`` + ``confirmViberMessage``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from poster.config import DestinationConfig, FeedConfig
from poster.config import values as v
from poster.config.feedkeys import Key
from poster.destinations import Message, Opening
from poster.destinations.gateway import (
    GatewayMessage,
    GatewaySettings,
    gateway_keys,
    recipients_key,
)
from poster.destinations.gateway import gateway_settings as common_settings
from poster.destinations.gateway.kindbase import GatewayKindBase
from poster.destinations.gateway.pictures import explain
from poster.destinations.smsby import compose
from poster.destinations.smsby.adapter import BULK, LIST, LIST_PREFIX, QUICK, Route
from poster.errors import ConfigError, ConfigProblem, MessageRejected
from poster.frozen import frozen
from poster.media.policy import MediaRules
from poster.models import Item, Post
from poster.recipients import Recipients
from poster.recipients.listfile import load_named
from poster.sandbox.fakes import Fake

DEFAULT_API_URL = "https://app.sms.by"
FORWARD_RANGE = (5, 60)
"""``forwarding_time``: "Minimum 5 minutes. Maximum 60 minutes"."""
PHONE = re.compile(r"[1-9][0-9]{9,14}")
"""The numbers SMS.BY takes: international format, 10 to 15 digits (375291111111)."""


def forward_minutes(value: object, _ctx: v.Context) -> int:
    """Check ``forward_sms``: a duration of whole minutes from 5 to 60."""
    found = v.to_duration(value, positive=True)
    low, high = FORWARD_RANGE
    minutes, rest = divmod(found, timedelta(minutes=1))
    if rest or not low <= minutes <= high:
        raise v.fail(
            f"must be whole minutes from {low} to {high}",
            'SMS.BY sends an undelivered Viber message as SMS after 5 to 60 minutes: "15m"',
        )
    return int(minutes)


@frozen
class SmsBySettings:
    """A checked ``kind = "smsby"`` section: the shared gateway keys and SMS.BY's own."""

    gateway: GatewaySettings
    """``recipients`` is None when the destination sends to a gateway list."""
    vibername_id: int | None = None
    alphaname_id: int | None = None
    forward_sms: int | None = None
    """Minutes before an undelivered Viber message goes out as SMS; None: never."""
    list_id: int | None = None

    @property
    def mode(self) -> str:
        """Return how this destination sends: bulk, quick (with SMS forwarding) or list."""
        if self.list_id is not None:
            return LIST
        return QUICK if self.forward_sms is not None else BULK


class SmsByKind(GatewayKindBase):
    """The SMS.BY Viber gateway kind."""

    name = "smsby"
    keys: Mapping[str, Key] = {
        **gateway_keys(DEFAULT_API_URL, None),
        "recipients": Key(None, v.path_value),
        "vibername_id": Key(None, v.positive_int),
        "alphaname_id": Key(None, v.positive_int),
        "forward_sms": Key(None, forward_minutes),
        "list_id": Key(None, v.positive_int),
    }

    def settings(self, values: Mapping[str, Any]) -> SmsBySettings:
        """Return the destination's settings from its checked section."""
        return SmsBySettings(
            common_settings(values),
            values["vibername_id"],
            values["alphaname_id"],
            values["forward_sms"],
            values["list_id"],
        )

    def conflicts(self, spec: DestinationConfig) -> list[tuple[str, str, str]]:
        """Return (key, problem, hint) for each way the section's keys do not fit together."""
        return _conflicts(spec.settings)

    def recipients(self, spec: DestinationConfig, config_file: str) -> Recipients | None:
        """Read and check the recipients file as a send does; None for a list kept at SMS.BY."""
        settings: SmsBySettings = spec.settings
        if settings.list_id is not None:
            return None
        where = recipients_key(spec.name)
        found = load_named(recipients_path(settings, config_file), config_file, where)
        return check_phones(found, config_file, spec.name)

    def choose_type(self, item: Item, feed: FeedConfig) -> str:
        """Return ``picture`` for an item with a usable image and link, else ``text``."""
        return compose.choose_type(item, feed)

    @property
    def media_rules(self) -> MediaRules:
        """Return the images ``image_url`` carries: a public JPEG or PNG."""
        return MediaRules(compose.IMAGE)

    def explain(self, item: Item, feed: FeedConfig) -> str | None:
        """Say why the item's probed image did not make it a picture."""
        return explain(item, feed, compose.IMAGE, self.choose_type)

    def possible_types(self, feed: FeedConfig) -> tuple[str, ...]:
        """Return the types ``feed`` can produce here."""
        return compose.possible_types(feed)

    def text_limit(self, type: str) -> int:
        """Return the characters of text one message carries."""
        return compose.TEXT_MAX

    def compose(self, post: Post) -> Message:
        """Return the gateway message for ``post``."""
        return compose.compose(post)

    def preview_body(self, message: Message, sender: str | None) -> dict[str, Any]:
        """Return the fields of ``message``; the destination's preview shows the full request."""
        if not isinstance(message, GatewayMessage):
            raise MessageRejected(f"smsby: cannot send a {type(message).__name__}")
        return {"type": message.type, **message.payload()}

    def sandbox_fake(self, clock: Callable[[], float], balance: int) -> Fake:
        """Return this gateway's fake for the combined sandbox, not started."""
        from poster.destinations.smsby.sandboxed import Sandboxed

        return Sandboxed(clock, balance)

    def open(self, spec: DestinationConfig, where: Opening) -> Any:
        """Return the destination ``spec`` describes, its key loaded and its numbers checked."""
        from poster.destinations.smsby.opening import open_destination

        return open_destination(self, spec, where)


def route(spec: DestinationConfig, config_file: str) -> Route:
    """Return how ``spec`` sends, refusing sections whose keys do not fit together."""
    settings: SmsBySettings = spec.settings
    problems = [
        ConfigProblem(config_file, f"destinations.{spec.name}.{key}", message, None, hint)
        for key, message, hint in _conflicts(settings)
    ]
    if problems:
        raise ConfigError(problems)
    return Route(
        settings.mode, settings.alphaname_id, settings.vibername_id, settings.list_id,
        settings.forward_sms,
    )  # fmt: skip


def _conflicts(settings: SmsBySettings) -> list[tuple[str, str, str]]:
    """Return (key, problem, hint) for each way the section's keys do not fit together."""
    has_file, mode = settings.gateway.recipients is not None, settings.mode
    found = []
    if has_file == (settings.list_id is not None):
        hint = "recipients names a file of numbers; list_id a list kept at SMS.BY"
        found.append(("recipients", "give either recipients or list_id", hint))
    if mode == LIST and settings.forward_sms is not None:
        hint = "SMS forwarding exists only for messages sent number by number"
        found.append(("forward_sms", "cannot be used with list_id", hint))
    if mode in (QUICK, LIST) and settings.vibername_id is None:
        found.append(("vibername_id", "is required", "the Viber name id from getVibernames"))
    if mode == BULK and settings.alphaname_id is None:
        found.append(("alphaname_id", "is required", "sendBulkViber sends from an alphaname id"))
    if mode == QUICK and settings.alphaname_id is None:
        # The document's alphaname_id is the sender of the SMS "during forwarding".
        hint = "an undelivered message goes out as SMS from an alphaname id"
        found.append(("alphaname_id", "is required with forward_sms", hint))
    if settings.gateway.replies:
        found.append(("replies", "is not supported by kind smsby", "remove it"))
    return found


def list_recipients(list_id: int) -> Recipients:
    """Return the one opaque recipient that stands for a gateway list in the ledger."""
    recipient = f"{LIST_PREFIX}{list_id}"
    return Recipients(f"SMS.BY list {list_id}", (recipient,), recipient)


def check_phones(recipients: Recipients, config_file: str, name: str) -> Recipients:
    """Refuse numbers SMS.BY does not take, so one cannot fail a whole bulk request."""
    bad = [phone for phone in recipients.phones if not PHONE.fullmatch(phone)]
    if bad:
        message = f"{len(bad)} number(s) SMS.BY does not take (first: {bad[0]})"
        hint = "SMS.BY takes 10 to 15 digits with the country code"
        where = recipients_key(name)
        raise ConfigError(
            [ConfigProblem(recipients.source or config_file, where, message, None, hint)]
        )
    return recipients


def recipients_path(settings: SmsBySettings, config_file: str) -> Path:
    """Return the recipients file, relative to feeds.toml."""
    assert settings.gateway.recipients is not None
    return Path(config_file).parent / settings.gateway.recipients


KIND = SmsByKind()
