"""Define what a kind's fake offers the combined sandbox, and the phones its page shows.

A kind offers its fake through the registry (``sandbox_fakes``); each fake says where it is
mounted and shows what it accepted as the subscriber's phone shows it, one bubble a message. Each
gateway names its statuses its own way; ``state`` puts them on one scale for the page (pending,
sent, delivered, read, failed) while ``status`` keeps the gateway's own word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from poster.frozen import frozen


@frozen
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


@frozen
class Phone:
    """One subscriber's number and what it got, oldest first."""

    number: str
    messages: tuple[Bubble, ...]


def as_json(phones: Iterable[Phone]) -> list[dict[str, Any]]:
    """Return phones as JSON-ready records."""
    return [asdict(phone) for phone in phones]


def grouped(pairs: Iterable[tuple[str, Bubble]]) -> list[Phone]:
    """Return bubbles grouped by number, numbers in the order they first got one."""
    grouped: dict[str, list[Bubble]] = {}
    for number, bubble in pairs:
        grouped.setdefault(number, []).append(bubble)
    return [Phone(number, tuple(bubbles)) for number, bubbles in grouped.items()]


def text_of(values: Mapping[str, Any], key: str) -> str:
    """Return a value as text, or "" when it is absent."""
    value = values.get(key)
    return "" if value is None else str(value)


@frozen
class Mounted:
    """Where the sandbox serves a fake, under which name, with which credentials."""

    id: str
    name: str
    prefix: str
    base: str
    credentials: str
    """What to put in feeds.toml to be let in: the fake's fixed sandbox credentials."""


class Fake(Protocol):
    """A kind's fake as the combined sandbox runs it on its port, under its own prefix."""

    @property
    def mounted(self) -> Mounted:
        """Return where the fake is served and how to be let in."""
        ...

    def start(self) -> None:
        """Start the fake."""
        ...

    def stop(self) -> None:
        """Stop the fake and wake its slow answers."""
        ...

    def serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Answer one request, its path already without the prefix."""
        ...

    def phones(self) -> list[Phone]:
        """Return what each phone got, for the page."""
        ...

    def inject(self, *faults: str) -> None:
        """Queue faults for the next calls; raise ValueError on an unknown one."""
        ...

    def pump(self) -> None:
        """Send every status callback now due."""
        ...
