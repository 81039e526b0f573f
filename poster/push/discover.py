"""Find the WebSub hub and topic a read of a feed advertises (WebSub §4, RFC 8288)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urljoin

from poster.frozen import frozen
from poster.models import FetchResult, ParsedFeed

_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
"""A quoted-pair of a quoted string (RFC 9110 §5.6.4)."""


@frozen
class Advert:
    """The hub a feed names and the topic URL to subscribe to there, None when it names none."""

    hub: str
    topic: str | None


def discover(result: FetchResult, parsed: ParsedFeed) -> Advert | None:
    """Return the hub and topic of a read, both from the Link headers, else from the document."""
    hubs, selves = header_links(result.headers, result.url)
    # WebSub §4: the Link headers first, "stopping at the first match", and the document's links
    # only in their absence: headers naming a hub or a self URL are the whole advert.
    if not hubs and not selves:
        hubs, selves = list(parsed.hubs), [parsed.topic] if parsed.topic else []
    hubs = [hub for hub in hubs if _is_http(hub)]
    if not hubs:
        return None
    # WebSub §5.1: hub.topic is the self URL the feed advertises, and nothing else.
    return Advert(hubs[0], next((url for url in selves if _is_http(url)), None))


def header_links(headers: tuple[tuple[str, str], ...], base: str) -> tuple[list[str], list[str]]:
    """Return the ``rel=hub`` and ``rel=self`` targets of every Link header, made absolute."""
    hubs: list[str] = []
    selves: list[str] = []
    for name, value in headers:
        if name.lower() != "link":
            continue
        for target, rels in _links(value):
            url = urljoin(base, target)
            if "hub" in rels:
                hubs.append(url)
            if "self" in rels:
                selves.append(url)
    return hubs, selves


def _links(value: str) -> Iterator[tuple[str, set[str]]]:
    """Yield the target and relation types of each link-value of one Link header (RFC 8288 §3)."""
    for link_value in _split(value, ","):
        target, *params = _split(link_value, ";")
        target = target.strip()
        if target.startswith("<") and target.endswith(">"):
            yield target[1:-1].strip(), _rels(params)


def _split(text: str, separator: str) -> list[str]:
    """Split ``text`` at each ``separator`` outside a quoted string and outside a ``<target>``."""
    pieces: list[str] = []
    start, closing, escaped = 0, "", False
    for at, char in enumerate(text):
        if escaped:
            escaped = False
        elif closing:
            escaped = closing == '"' and char == "\\"
            closing = "" if char == closing else closing
        elif char in '"<':
            closing = '"' if char == '"' else ">"
        elif char == separator:
            pieces.append(text[start:at])
            start = at + 1
    pieces.append(text[start:])
    return pieces


def _rels(params: list[str]) -> set[str]:
    """Return the relation types of a link-value's parameters, lowercased.

    RFC 8288 §3.3: rel holds relation types apart by spaces, and only its first occurrence counts.
    """
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "rel":
            return set(_unquoted(value.strip()).lower().split())
    return set()


def _unquoted(text: str) -> str:
    """Return a parameter's value without its quotes and backslash escapes."""
    if not text.startswith('"'):
        return text
    # A quoted string left open runs to the end of the header: its value is read all the same.
    return _ESCAPED.sub(r"\1", text[1:].removesuffix('"'))


def _is_http(url: str) -> bool:
    """Tell whether a URL is one poster can send a request to or be told about."""
    return url.lower().startswith(("http://", "https://"))
