"""Define what every destination kind implements, and the registry of kinds.

A kind is one folder under ``poster/destinations/``: it owns its config keys, its message model
and limits, ``compose(post)``, its API client and error table, its callbacks and its sandbox.
Adding a kind is that folder and one line in ``KINDS``; the rest of poster never names a kind.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from poster.lazy import names_from

if TYPE_CHECKING:
    from poster.config import DestinationConfig, FeedConfig
    from poster.config.feedkeys import Key
    from poster.destinations.openings import Opening as Opening
    from poster.destinations.receipts import Account as Account
    from poster.destinations.receipts import Limit as Limit
    from poster.destinations.receipts import Receipt as Receipt
    from poster.destinations.receipts import RecipientResult as RecipientResult
    from poster.destinations.receipts import Sender as Sender
    from poster.models import Item, Post
    from poster.recipients import Recipients
    from poster.sandbox.fakes import Fake
    from poster.sandbox.hooks import SandboxHost
    from poster.secrets import TokenSource as TokenSource

REDACTED = "***"

KINDS: Mapping[str, str] = {
    "viber": "poster.destinations.viber.kind",
    "recording": "poster.destinations.recording",
    "decisiontelecom": "poster.destinations.decisiontelecom.kind",
    "inteltele": "poster.destinations.inteltele.kind",
    "smsby": "poster.destinations.smsby.kind",
}
"""Each kind's name, as written in feeds.toml, and the module whose ``KIND`` implements it."""

# The records that pass between poster and a destination load on first use.
__getattr__ = names_from(
    __name__,
    {
        **dict.fromkeys(
            ("Account", "Limit", "Receipt", "RecipientResult", "Sender"),
            "poster.destinations.receipts",
        ),
        "Opening": "poster.destinations.openings",
        "TokenSource": "poster.secrets",
    },
)


class Message(Protocol):
    """A message composed by a kind, ready to be sent."""

    @property
    def type(self) -> str:
        """Return the message type, as the templates know it."""
        ...

    def payload(self) -> dict[str, Any]:
        """Return the type-specific fields of the body."""
        ...


class Kind(Protocol):
    """What a kind of destination decides: message types, text limits and composing."""

    @property
    def name(self) -> str:
        """Return the kind's name, as written in feeds.toml and template folders."""
        ...

    def choose_type(self, item: Item, feed: FeedConfig) -> str:
        """Return the message type ``item`` becomes at this kind of destination."""
        ...

    def possible_types(self, feed: FeedConfig) -> tuple[str, ...]:
        """Return every message type ``feed`` can produce here, fallbacks included."""
        ...

    def text_limit(self, type: str) -> int:
        """Return how many characters of text a message of ``type`` carries."""
        ...

    def compose(self, post: Post) -> Message:
        """Return the message for ``post`` within this kind's limits, or raise ``RenderError``."""
        ...

    def preview_body(self, message: Message, sender: str | None) -> dict[str, Any]:
        """Return the body that would be sent for ``message``, every secret redacted."""
        ...

    @property
    def keys(self) -> Mapping[str, Key]:
        """Return the keys of this kind's ``[destinations.NAME]`` section, past the common ones."""
        ...

    def settings(self, values: Mapping[str, Any]) -> Any:
        """Return the kind's record of its checked section ``values`` (defaults filled in)."""
        ...

    def open(self, spec: DestinationConfig, where: Opening) -> Destination:
        """Return the destination ``spec`` describes, its token loaded and its sender known."""
        ...


class Entries(Protocol):
    """Named state entries kept between runs: a sender looked up, a feed's waiting items."""

    def get_meta(self, name: str) -> str | None:
        """Return the entry called ``name``, if there is one."""
        ...

    def set_meta(self, name: str, value: str) -> None:
        """Keep ``value`` as the entry called ``name``."""
        ...


class Answer(Protocol):
    """A destination's answer to a webhook change, in plain words."""

    @property
    def ok(self) -> bool:
        """Tell whether the change was made."""
        ...

    @property
    def explanation(self) -> str:
        """Say what happened and what to do."""
        ...


class Admin(Protocol):
    """A destination's account and webhook, as ``poster account`` and ``poster webhook`` use."""

    @property
    def callback_token(self) -> str:
        """Return the secret the destination signs its callbacks with."""
        ...

    def account(self) -> Account:
        """Fetch the account and describe it."""
        ...

    def set_webhook(self, url: str) -> Answer:
        """Register ``url`` as the webhook."""
        ...

    def remove_webhook(self) -> Answer:
        """Remove the webhook."""
        ...


@runtime_checkable
class NeedsToken(Protocol):
    """A kind whose destinations need a secret token to post."""

    def token_source(self, spec: DestinationConfig, config_file: str) -> TokenSource:
        """Say where ``spec``'s token comes from; raise ``ConfigError`` when it is unusable."""
        ...


@runtime_checkable
class NeedsCallbacks(Protocol):
    """A kind whose destinations, as some are configured, cannot send without a callback URL."""

    def callbacks_needed(self, spec: DestinationConfig) -> tuple[str, str] | None:
        """Return the key that makes ``spec`` need the daemon's callback URL and why, or None."""
        ...


@runtime_checkable
class WaitsForWebhook(Protocol):
    """A kind whose destinations refuse to post until a webhook is set for them."""

    def refused_for_webhook(self, refusal: str) -> bool:
        """Tell whether a destination's refusal is for want of a webhook."""
        ...


@runtime_checkable
class ChecksKeys(Protocol):
    """A kind whose section's keys must also fit together, checked with the configuration."""

    def conflicts(self, spec: DestinationConfig) -> list[tuple[str, str, str]]:
        """Return (key, problem, hint) for each way ``spec``'s keys do not fit together."""
        ...


@runtime_checkable
class ReadsRecipients(Protocol):
    """A kind whose destinations send to the numbers of a file their section names."""

    def recipients(self, spec: DestinationConfig, config_file: str) -> Recipients | None:
        """Read and check ``spec``'s numbers as a send does; None when the gateway keeps them.

        Raise ``ConfigError`` naming ``config_file`` and the key when the file is unusable.
        """
        ...


@runtime_checkable
class KnowsSender(Protocol):
    """A kind whose destinations post as someone: configured, or looked up and remembered."""

    def sender(self, spec: DestinationConfig, state: Entries) -> Sender | None:
        """Return who destination ``spec`` posts as, if that is known yet."""
        ...


@runtime_checkable
class Administered(Protocol):
    """A kind whose destinations have an account to show and a webhook to set."""

    def admin(self, destination: Destination) -> Admin:
        """Return the account and webhook calls of ``destination``, opened by this kind."""
        ...


@runtime_checkable
class HasAccount(Protocol):
    """A kind whose destinations have an account to show: a channel's admins, a balance."""

    def account(self, destination: Destination) -> Account:
        """Ask for the account of ``destination``, opened by this kind, and describe it."""
        ...


@runtime_checkable
class HasShorthand(Protocol):
    """A kind whose one destination may be configured by a top-level section of its own name."""

    @property
    def shorthand(self) -> str:
        """Return the section that stands for one destination named as it, of this kind."""
        ...


@runtime_checkable
class LimitsFixed(Protocol):
    """A kind that bounds the fields of a feed's fixed messages (a contact card's name)."""

    @property
    def fixed_limits(self) -> Mapping[str, Limit]:
        """Return the limit of each dotted fixed-message key it bounds (``contact.name``)."""
        ...


@runtime_checkable
class StandsIn(Protocol):
    """A kind whose preview shows more than the body: the requests, recipients and cost."""

    def stand_in(self, spec: DestinationConfig, where: Opening, sender: str | None) -> Destination:
        """Return a destination that shows what ``spec`` would send and sends nothing."""
        ...


@runtime_checkable
class HasSandboxFake(Protocol):
    """A kind with a fake of its API that the combined sandbox serves beside the channels."""

    def sandbox_fake(self, clock: Callable[[], float], balance: int) -> Fake:
        """Return the kind's fake, not started, on ``clock`` with ``balance`` in its account."""
        ...


@runtime_checkable
class HostsSandbox(Protocol):
    """A kind whose sandbox stands in for a destination: a local page of what it got."""

    @property
    def sandbox(self) -> SandboxHost:
        """Return the kind's sandbox, as the sandbox commands open it."""
        ...


@runtime_checkable
class KeepsRecipients(Protocol):
    """A destination that records every recipient's send itself, before and after each request.

    An item interrupted there by a crash can be offered again: the destination skips whoever
    got it or may have, so nobody gets it twice and the rest are not held.
    """

    def resumes_interrupted(self) -> bool:
        """Tell whether an interrupted item may be offered again."""
        ...


Moves = Mapping[tuple[str, str], tuple[str, str]]
"""Items that changed name, each ``(feed, key)`` it had to the ``(feed, key)`` it has now: a
renamed feed's, or a feed's whose ``key`` changed."""


@runtime_checkable
class CarriesSends(Protocol):
    """A destination that keeps each item's sends by feed name and key, recipient by recipient.

    An item that changed name goes on with what its old name left partway sent (a daily cap, a
    refusal to retry): the rest of the recipients get it, and nobody gets it twice.
    """

    def carry(self, moves: Moves) -> None:
        """Keep the sends each item of ``moves`` started under its old name as its new one's."""
        ...


def carry_sends(destinations: Mapping[str, object], route: str, moves: Moves) -> None:
    """Hand destination ``route`` of ``destinations`` the sends of the items that changed name,
    when it keeps each recipient's send."""
    destination = destinations.get(route)
    if isinstance(destination, CarriesSends):
        destination.carry(moves)


def kind(name: str) -> Kind:
    """Return the kind registered as ``name``; its module is imported on first use."""
    module = importlib.import_module(KINDS[name])
    found: Kind = module.KIND
    return found


@functools.cache
def shorthand() -> tuple[str, str] | None:
    """Return the shorthand section a kind declares, and that kind's name, if one does."""
    for name in KINDS:
        found = kind(name)
        if isinstance(found, HasShorthand):
            return found.shorthand, name
    return None


def fixed_limit(key: str) -> Limit | None:
    """Return the tightest limit the kinds put on fixed-message ``key``, if any does."""
    limits = [
        limits.fixed_limits[key]
        for limits in map(kind, KINDS)
        if isinstance(limits, LimitsFixed) and key in limits.fixed_limits
    ]
    return min(limits, key=lambda limit: limit.most, default=None)


def sandbox_fakes(clock: Callable[[], float], balance: int) -> list[Fake]:
    """Return the fake of every kind that has one, in registry order, none started."""
    return [
        found.sandbox_fake(clock, balance)
        for found in map(kind, KINDS)
        if isinstance(found, HasSandboxFake)
    ]


def sandbox_host() -> SandboxHost:
    """Return the sandbox of the first kind that has one, in registry order."""
    for found in map(kind, KINDS):
        if isinstance(found, HostsSandbox):
            return found.sandbox
    raise LookupError("no kind of destination has a sandbox")


def stand_in(name: str, like: Kind, sender: str | None) -> Destination:
    """Return a destination called ``name`` that records what ``like`` would send, sending none."""
    from poster.destinations.recording import RecordingDestination

    return RecordingDestination(name, like, sender)


def sender(spec: DestinationConfig, state: Entries) -> Sender | None:
    """Return who destination ``spec`` posts as, when its kind has a sender and it is known."""
    found = kind(spec.kind)
    return found.sender(spec, state) if isinstance(found, KnowsSender) else None


class Destination(Protocol):
    """Something poster can post messages to."""

    @property
    def name(self) -> str:
        """Return the destination's name, as used in logs and the ledger."""
        ...

    @property
    def kind(self) -> Kind:
        """Return the kind of destination this is."""
        ...

    def send(self, message: Message) -> Receipt:
        """Post one message, or raise a ``poster.errors.DeliveryError`` subclass."""
        ...
