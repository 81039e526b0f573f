"""Define one feed's subscription at one hub: its hub, secret, callback, state and lease.

``poster.push.subscriptions`` names it too and makes it when one is first made or read, so that
status on a state without subscriptions never makes its class.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from poster.frozen import frozen, replace
from poster.push.subscriptions import State


@frozen
class Subscription:
    """One feed's subscription at one hub."""

    feed: str
    hub: str
    topic: str
    secret: str
    callback: str
    """The unguessable last segment of the callback URL."""
    state: State
    changed: datetime
    requested: datetime | None = None
    """When the last request went out whose verification is still awaited."""
    lease: int | None = None
    """The lease the hub granted, in seconds."""
    expires: datetime | None = None
    error: str | None = None
    endpoint: str | None = None
    """Where the hub moved for good (HTTP 308, WebSub §5.1.2); None while it stays at ``hub``."""
    secret_given: bool = True
    """Whether the last subscription request gave the hub the secret, which it then signs with;
    WebSub §5.1 has it given over HTTPS only."""

    @property
    def hub_url(self) -> str:
        """Return the URL requests to the hub go to."""
        return self.endpoint or self.hub

    def __repr__(self) -> str:
        # The secret and callback let anyone push items to the channel: never shown.
        return f"Subscription(feed={self.feed!r}, hub={self.hub!r}, state={self.state!r})"

    def moved(self, **changes: Any) -> Subscription:
        """Return the subscription with ``changes`` applied."""
        return replace(self, **changes)
