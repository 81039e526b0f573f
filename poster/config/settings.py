"""Define the records a validated feeds.toml becomes: Config, FeedConfig and their parts."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poster.destinations import shorthand
from poster.filled import changer, filler
from poster.frozen import field, frozen
from poster.lazy import names_from

if TYPE_CHECKING:
    from poster.config.parts import JsonMapping as JsonMapping
    from poster.config.parts import QuietHours as QuietHours
    from poster.config.parts import Rule as Rule
    from poster.models import Fixed

DEFAULT_API_URL = "https://chatapi.viber.com/pa"

__getattr__ = names_from(
    __name__, dict.fromkeys(("Rule", "QuietHours", "JsonMapping"), "poster.config.parts")
)


@frozen
class Schedule:
    """When a feed is polled: a fixed interval (with jitter) or a cron expression."""

    interval: timedelta | None = timedelta(minutes=15)
    cron: str | None = None
    jitter: timedelta = timedelta(seconds=0)
    timezone: str | None = None
    """The IANA zone a cron expression is read in; None is the machine's local zone, as cron."""


@frozen
class FeedConfig:
    """One feed as configured, defaults applied."""

    name: str
    url: str
    enabled: bool = True
    schedule: Schedule = field(default_factory=Schedule)
    template: str | None = None
    type: str = "auto"
    fallback: str = "text"
    include: tuple[Rule, ...] = ()
    exclude: tuple[Rule, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    key: str | None = None
    format: str = "auto"
    json: JsonMapping | None = None
    fixed: Fixed | None = None
    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    deadline: float | None = None
    """Seconds a whole fetch may take, redirects and body included; None means 3 × timeout."""
    allow_private: bool = False
    """Follow redirects from a public address to a loopback, private or other non-public one."""
    backlog: int | None = 0
    """How many of the current items to post the first time a feed is seen; None means all."""
    uncertain: str = "hold"
    """What a restart does with posts whose answer was lost: hold them for an operator, or
    resend them (at-least-once: a duplicate is possible)."""
    hints: bool = True
    """Whether the publisher's hints (Cache-Control, ttl, skipHours, ...) may delay a read."""
    to: tuple[str, ...] | None = None
    """The destinations the feed posts to; None means every configured destination."""


feed_config = filler(FeedConfig)
"""Return ``FeedConfig(**values)``; filled at once, as a feed that sets only its name and url
would otherwise spend nine tenths of its cost in frozen setattrs."""
feed_config_with = changer(FeedConfig)
"""Return ``replace(feed, **values)``, filled at once: a feed that sets only its name and url
is the common feed with them."""


@frozen
class Gate:
    """A destination's quiet hours, daily cap and the longest a held post may wait."""

    quiet: QuietHours | None = None
    timezone: str | None = None
    """The IANA zone the hours and days are read in; None is the machine's local zone."""
    max_per_day: int | None = None
    max_wait: timedelta | None = None
    """How long a held post may wait before it is skipped rather than posted stale."""

    @property
    def active(self) -> bool:
        """Tell whether the gate ever holds a post back."""
        return self.quiet is not None or self.max_per_day is not None

    @property
    def zone_name(self) -> str:
        """Return the name of the zone the gate reads hours in."""
        if self.timezone:
            return self.timezone
        from tzlocal import get_localzone  # here: only a gate without a zone needs the machine's

        return str(get_localzone())


@frozen
class ViberConfig:
    """How to reach the channel; the token itself is never kept in the config."""

    api_url: str = DEFAULT_API_URL
    sender: str | None = None
    token_file: Path | None = None
    min_gap: timedelta = timedelta(seconds=10)
    """The least time between two posts to the channel, so subscribers are not flooded."""
    max_per_pass: int = 10
    """The most posts one pass sends; the rest wait, in order, for the next pass."""
    gate: Gate = field(default_factory=Gate)
    """Quiet hours and a daily cap: when the channel may be posted to."""


def token_env(name: str) -> str:
    """Return the environment variable holding the token of destination ``name``."""
    letters = "".join(c if c.isascii() and c.isalnum() else "_" for c in name)
    return f"POSTER_{letters.upper()}_TOKEN"


@frozen
class DestinationConfig:
    """One destination as configured: its name, its kind, pacing, and the kind's own settings."""

    name: str
    kind: str
    min_gap: timedelta = timedelta(seconds=10)
    """The least time between two posts to this destination, so readers are not flooded."""
    max_per_pass: int = 10
    """The most posts one pass sends here; the rest wait, in order, for the next pass."""
    settings: Any = None
    """The kind's own checked record of its section keys."""
    gate: Gate = field(default_factory=Gate)
    """Quiet hours and a daily cap: when posts may go out here."""

    @property
    def token_env(self) -> str:
        """Return the environment variable holding this destination's token."""
        return token_env(self.name)

    @property
    def credential(self) -> str:
        """Return the systemd credential holding this destination's token."""
        return f"{self.name}-token"


@frozen
class WebhookConfig:
    """Where the daemon listens for Viber's callbacks (behind a TLS reverse proxy)."""

    listen: tuple[str, int] | None = None
    path: str = "/viber/webhook"
    public_url: str | None = None
    """Where the reverse proxy makes ``listen`` reachable; set, feeds with a hub are pushed."""


@frozen
class MediaConfig:
    """Where converted images are served from, and how much of them the state folder keeps."""

    public_url: str | None = None
    """The public URL the listener's media path is reached at; set, images are converted."""
    max_store: int = 200_000_000
    retention: timedelta = timedelta(days=30)


@frozen
class DaemonConfig:
    """How the daemon schedules feeds and treats failing ones."""

    max_fetches: int = 4
    """The most feeds fetched at the same time."""
    disable_after: int = 10
    """Consecutive failures after which a feed is disabled until it answers a re-probe."""
    backoff_max: timedelta = timedelta(hours=6)
    reprobe: timedelta = timedelta(hours=6)
    """How often a disabled feed is tried once more."""
    retention: timedelta = timedelta(days=90)
    """How long delivery records are kept once their items left the feed."""
    push_poll: timedelta = timedelta(hours=1)
    """How often a feed whose hub pushes its content is still polled, in case a push is lost."""
    hints_max: timedelta = timedelta(hours=24)
    """The longest a publisher's hint may delay a feed's next read."""


@frozen
class Config:
    """The whole validated configuration."""

    path: Path
    templates_dir: Path
    viber: ViberConfig = field(default_factory=ViberConfig)
    feeds: tuple[FeedConfig, ...] = ()
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    destinations: tuple[DestinationConfig, ...] = ()
    """Every destination; left empty, the one destination of the shorthand section."""
    media: MediaConfig = field(default_factory=MediaConfig)

    def __post_init__(self) -> None:
        found = shorthand()
        if not self.destinations and found is not None:
            # A configuration without [destinations.*] posts to the shorthand's one destination.
            name, kind = found
            viber = self.viber
            only = DestinationConfig(
                name, kind, viber.min_gap, viber.max_per_pass, viber, viber.gate
            )
            object.__setattr__(self, "destinations", (only,))

    def feed(self, name: str) -> FeedConfig | None:
        """Return the feed called ``name``, if there is one."""
        return self._feeds_by_name.get(name)

    # The daemon looks a feed up twice a read, and a reload looks up every feed: scanning the
    # feeds took 0.1 ms a look-up at 10,000 feeds, and over a second a reload.
    @functools.cached_property
    def _feeds_by_name(self) -> dict[str, FeedConfig]:
        """Map each name to its feed, the first of that name as a scan would find it."""
        return {feed.name: feed for feed in reversed(self.feeds)}

    def unnamed(self, names: Iterable[str]) -> list[str]:
        """Return those of ``names`` that no feed of this configuration is called, in order:
        the feeds a state keeps that were removed or renamed since."""
        return [name for name in names if name not in self._feeds_by_name]

    def destination(self, name: str) -> DestinationConfig | None:
        """Return the destination called ``name``, if there is one."""
        return next((d for d in self.destinations if d.name == name), None)

    def routes(self, feed: FeedConfig) -> tuple[str, ...]:
        """Return the names of the destinations ``feed`` posts to."""
        every = tuple(d.name for d in self.destinations)
        return every if feed.to is None else tuple(n for n in feed.to if n in every)
