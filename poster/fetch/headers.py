"""Read HTTP header values that more than one edge of poster needs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from poster.models import Freshness

MAX_DELTA = 2**31
"""The longest delay in seconds a server's number may set: larger ones are read as this
(RFC 9111 §1.2.2), so no header can overflow the arithmetic of times."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Parse Retry-After as delta-seconds or an HTTP-date (RFC 9110 §10.2.3), never below 0.

    The seconds are at most ``MAX_DELTA``, however far the server puts them off.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(_delta(value))
    when = _http_date(value)
    if when is None:
        return None
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), MAX_DELTA)


def parse_freshness(headers: Mapping[str, str], now: datetime | None = None) -> Freshness | None:
    """Return how long a response stays fresh for a private cache (RFC 9111 §4.2), if it says.

    ``headers`` has lowercase names. ``no-cache`` and ``no-store`` give nothing; ``s-maxage``
    binds shared caches only (§5.2.2.10), which poster is not; ``max-age`` wins over
    ``Expires`` (§5.3); ``Age`` counts what a cache on the way already used up (§4.2.3).
    """
    directives = _cache_directives(headers.get("cache-control", ""))
    if "no-cache" in directives or "no-store" in directives:
        return None
    lifetime, source = _lifetime(directives, headers, now or datetime.now(UTC))
    if lifetime is None:
        return None
    age = headers.get("age", "").strip()
    used = _delta(age) if age.isascii() and age.isdigit() else 0
    if used:
        lifetime -= used
        source += f", Age {used}"
    return Freshness(float(lifetime), source) if lifetime > 0 else None


def _delta(digits: str) -> int:
    """Return delta-seconds written as digits, at most ``MAX_DELTA`` (RFC 9111 §1.2.2)."""
    # Past ten digits the number is over the limit: it need not (and, past 4,300 digits, cannot)
    # be converted to be compared.
    digits = digits.lstrip("0") or "0"
    return MAX_DELTA if len(digits) > 10 else min(int(digits), MAX_DELTA)


def _cache_directives(value: str) -> dict[str, str]:
    """Return Cache-Control directives by lowercase name, values unquoted (RFC 9111 §5.2)."""
    found: dict[str, str] = {}
    for part in value.split(","):
        name, _, argument = part.partition("=")
        name = name.strip().lower()
        if name and name not in found:
            found[name] = argument.strip().strip('"')
    return found


def _lifetime(
    directives: Mapping[str, str], headers: Mapping[str, str], now: datetime
) -> tuple[int | None, str]:
    """Return the freshness lifetime in seconds from max-age, else Expires minus Date."""
    if "max-age" in directives:
        seconds = directives["max-age"]
        # An invalid max-age makes the response stale (RFC 9111 §4.2.1): no bound.
        if not (seconds.isascii() and seconds.isdigit()):
            return None, ""
        lifetime = _delta(seconds)
        return lifetime, f"Cache-Control max-age={lifetime}"
    expires = _http_date(headers.get("expires"))
    if expires is None:
        return None, ""
    date = _http_date(headers.get("date")) or now
    lifetime = min(int((expires - date).total_seconds()), MAX_DELTA)
    return lifetime, f"Expires {headers['expires'].strip()}"


def _http_date(value: str | None) -> datetime | None:
    """Parse an HTTP-date (RFC 9110 §5.6.7) as an aware time, or return None."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
