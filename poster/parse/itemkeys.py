"""Derive the stable key that identifies an item across fetches."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from poster.parse.paths import MISSING, lookup

KEY_MAX = 2048
"""The longest key kept as it is: the state holds every key and log lines name them, so a longer
one (no real id or link is near it) is kept as its hash."""

# Query parameters that say where a click came from, not what it points to.
_TRACKING = frozenset(("fbclid", "gclid", "yclid", "mc_cid", "mc_eid", "_openstat"))


def clean_link(url: str) -> str:
    """Return ``url`` without its fragment and without tracking query parameters."""
    parts = urlsplit(url.strip())
    # Kept parameters stay byte for byte as they were, so the key does not depend on encoding.
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _is_tracking(parameter: str) -> bool:
    """Tell whether a ``name=value`` query parameter only tracks the click."""
    name = unquote_plus(parameter.split("=", 1)[0]).lower()
    return name.startswith("utm_") or name in _TRACKING


def content_hash(title: str, content: str) -> str:
    """Return the fallback key of an item with neither id nor link."""
    digest = hashlib.sha256(f"{title}\n{content}".encode()).hexdigest()
    return f"sha256:{digest}"


def item_key(
    spec: str | None,
    raw: Mapping[str, object],
    *,
    id: str | None,
    link: str | None,
    title: str,
    content: str,
) -> str:
    """Return the key chosen by ``spec`` (feed ``key``), else id, clean link, or content hash.

    ``spec`` is ``guid``/``id``, ``link``, ``title``, or a dotted path into the raw entry.
    """
    chosen = _configured(spec, raw, id, link, title) if spec else None
    if chosen:
        return bounded(chosen)
    if id:
        return bounded(id)
    if link:
        return bounded(clean_link(link))
    return content_hash(title, content)


def bounded(key: str) -> str:
    """Return ``key``, or its hash when it is longer than ``KEY_MAX``."""
    if len(key) <= KEY_MAX:
        return key
    return f"sha256:{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _configured(
    spec: str, raw: Mapping[str, object], id: str | None, link: str | None, title: str
) -> str | None:
    """Return the key the feed's ``key`` setting selects, or None when that is empty."""
    if spec in ("guid", "id"):
        return id
    if spec == "link":
        return clean_link(link) if link else None
    if spec == "title":
        return title or None
    value = lookup(raw, spec)
    if value is MISSING or isinstance(value, bool | dict | list) or value is None:
        return None
    text = str(value).strip()
    return text or None
