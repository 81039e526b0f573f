"""Share what every command needs: exit codes, paths, feed selection, the token."""

from __future__ import annotations

import os
from pathlib import Path

from poster import secrets
from poster.config import Config, FeedConfig
from poster.errors import ConfigError, ConfigProblem

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


def default_config_path() -> Path:
    """Return $POSTER_CONFIG, else systemd's configuration directory, else ./feeds.toml."""
    if explicit := os.environ.get("POSTER_CONFIG"):
        return Path(explicit)
    if directory := os.environ.get("CONFIGURATION_DIRECTORY"):
        return Path(directory.split(":")[0]) / "feeds.toml"
    return Path("feeds.toml")


def default_state_dir() -> Path:
    """Return systemd's state directory when set, else ./state."""
    if directory := os.environ.get("STATE_DIRECTORY"):
        return Path(directory.split(":")[0])
    return Path("state")


def select_feeds(config: Config, names: list[str] | None) -> list[FeedConfig]:
    """Return the named feeds, or every enabled feed; an unknown name is a config error."""
    if not names:
        return [feed for feed in config.feeds if feed.enabled]
    unknown = [name for name in names if config.feed(name) is None]
    if unknown:
        known = ", ".join(f.name for f in config.feeds)
        problems = [
            ConfigProblem(
                str(config.path), "--feed", f"no feed named {n!r}", hint=f"known: {known}"
            )
            for n in unknown
        ]
        raise ConfigError(problems)
    return [feed for feed in config.feeds if feed.name in names]


def require_token(config: Config) -> str:
    """Return the channel token, hidden from logs, or explain its absence (and the sandbox)."""
    also = "; to try poster without a channel, run `poster run --once --sandbox`"
    return secrets.require_token(config.viber, str(config.path), also=also)
