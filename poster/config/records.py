"""Define the records a validated feeds.toml becomes: Config, FeedConfig and their parts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from poster.models import Fixed

DEFAULT_API_URL = "https://chatapi.viber.com/pa"
TOKEN_ENV = "POSTER_VIBER_TOKEN"


@dataclass(frozen=True)
class Schedule:
    """When a feed is polled: a fixed interval (with jitter) or a cron expression."""

    interval: timedelta | None = timedelta(minutes=15)
    cron: str | None = None
    jitter: timedelta = timedelta(seconds=0)
    timezone: str | None = None
    """The IANA zone a cron expression is read in; None is the machine's local zone, as cron."""


@dataclass(frozen=True)
class Rule:
    """One include or exclude rule: a keyword or a ``/regex/flags``, as written and compiled."""

    source: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class JsonMapping:
    """Where a mapped JSON API keeps its items and which fields to use (dotted paths)."""

    items: str = ""
    id: str | None = None
    title: str | None = None
    link: str | None = None
    content: str | None = None
    text: str | None = None
    summary: str | None = None
    image: str | None = None
    published: str | None = None
    updated: str | None = None
    author: str | None = None
    tags: str | None = None


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class ViberConfig:
    """How to reach the channel; the token itself is never kept in the config."""

    api_url: str = DEFAULT_API_URL
    sender: str | None = None
    token_file: Path | None = None
    min_gap: timedelta = timedelta(seconds=10)
    """The least time between two posts to the channel, so subscribers are not flooded."""
    max_per_pass: int = 10
    """The most posts one pass sends; the rest wait, in order, for the next pass."""


@dataclass(frozen=True)
class WebhookConfig:
    """Where the daemon listens for Viber's callbacks (behind a TLS reverse proxy)."""

    listen: tuple[str, int] | None = None
    path: str = "/viber/webhook"
    public_url: str | None = None
    """Where the reverse proxy makes ``listen`` reachable; set, feeds with a hub are pushed."""


@dataclass(frozen=True)
class MediaConfig:
    """Where converted images are served from, and how much of them the state folder keeps."""

    public_url: str | None = None
    """The public URL the listener's media path is reached at; set, images are converted."""
    max_store: int = 200_000_000
    retention: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class DaemonConfig:
    """How the daemon schedules feeds and treats failing ones."""

    max_fetches: int = 4
    """How many feeds may be fetched at the same time."""
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


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    path: Path
    templates_dir: Path
    viber: ViberConfig = field(default_factory=ViberConfig)
    feeds: tuple[FeedConfig, ...] = ()
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    media: MediaConfig = field(default_factory=MediaConfig)

    def feed(self, name: str) -> FeedConfig | None:
        """Return the feed called ``name``, if there is one."""
        return next((f for f in self.feeds if f.name == name), None)
