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
