"""Describe each feed's WebSub subscription for ``poster status``, never its secret."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from poster.push.subscriptions import State

if TYPE_CHECKING:
    from poster.push.lease import Subscription

Show = Callable[[datetime | None], str]
"""Formats a time the way the rest of the status does."""


def describe(sub: Subscription | None, show: Show) -> str:
    """Return one line: none, pending, active until when and for what lease, failed or denied."""
    if sub is None:
        return "push: none (polled)"
    at = f"hub {sub.hub_url}"
    if sub.state is State.PENDING:
        return f"push: pending since {show(sub.requested or sub.changed)}, {at} has to verify it"
    if sub.state is State.ACTIVE:
        return f"push: active until {show(sub.expires)}, lease {lease_text(sub.lease)}, {at}"
    if sub.state is State.FAILED:
        from poster.push.plan import RETRY_AFTER  # here: status loads no push planning otherwise

        again = show(sub.changed + RETRY_AFTER)
        return f"push: failed: {sub.error}; polled meanwhile, asked again {again}"
    if sub.state is State.DENIED:
        return f"push: denied by {at}: {sub.error}; polled, not asked again until a reload"
    return f"push: unsubscribing from {at}"


def lease_text(seconds: int | None) -> str:
    """Show a lease in its largest whole unit."""
    if seconds is None:
        return "unknown"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def push_json(sub: Subscription | None) -> dict[str, Any]:
    """Return a subscription as JSON values, without its secret or callback."""
    if sub is None:
        return {"state": "none"}
    return {
        "state": str(sub.state),
        "hub": sub.hub,
        "moved_to": sub.endpoint,
        "topic": sub.topic,
        "lease_seconds": sub.lease,
        "expires": sub.expires.isoformat() if sub.expires else None,
        "since": sub.changed.isoformat(),
        "error": sub.error,
    }
