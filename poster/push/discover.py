"""Find the WebSub hub and topic a read of a feed advertises (WebSub §4, RFC 8288)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from poster.frozen import frozen
from poster.models import FetchResult, ParsedFeed

# One link-value of a Link header: <target> followed by its parameters (RFC 8288 §3).
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_REL = re.compile(r"""(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.IGNORECASE)


@frozen
class Advert:
    """The hub a feed names and the topic URL to subscribe to there."""

    hub: str
    topic: str


def discover(result: FetchResult, parsed: ParsedFeed) -> Advert | None:
    """Return the hub and topic of a read: Link headers first, then the document's own links."""
    hubs, selves = header_links(result.headers, result.url)
    if not hubs:
        # WebSub §4: the document's links count only when the headers name no hub.
        hubs, selves = list(parsed.hubs), [parsed.topic] if parsed.topic else []
    hubs = [hub for hub in hubs if _is_http(hub)]
    if not hubs:
        return None
    # WebSub §5.1: subscribe to the self URL; a feed without one is known by where it was read.
    topic = next((url for url in selves if _is_http(url)), result.url)
    return Advert(hubs[0], topic)


def header_links(headers: tuple[tuple[str, str], ...], base: str) -> tuple[list[str], list[str]]:
    """Return the ``rel=hub`` and ``rel=self`` targets of every Link header, made absolute."""
    hubs: list[str] = []
    selves: list[str] = []
    for name, value in headers:
        if name.lower() != "link":
            continue
        for target, params in _LINK.findall(value):
            rels = _rels(params)
            url = urljoin(base, target.strip())
            if "hub" in rels:
                hubs.append(url)
            if "self" in rels:
                selves.append(url)
    return hubs, selves


def _rels(params: str) -> set[str]:
    """Return the relation types of one link-value's parameters, lowercased."""
    found = _REL.search(params)
    if found is None:
        return set()
    return {rel.lower() for rel in (found.group(1) or found.group(2) or "").split()}


def _is_http(url: str) -> bool:
    """Tell whether a URL is one poster can send a request to or be told about."""
    return url.lower().startswith(("http://", "https://"))
