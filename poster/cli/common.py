"""Share what every command needs: exit codes, shared options, paths and feed selection."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from poster.config import Config, FeedConfig
from poster.config.values import did_you_mean
from poster.errors import UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_ENVIRONMENT = 3
"""The machine refuses what poster needs (permissions, a full or read-only disk, a port in use)."""
EXIT_BUG = 70
"""An unexpected error: a bug in poster (sysexits EX_SOFTWARE)."""
EXIT_INTERRUPTED = 130

LOG_LEVELS = ("debug", "info", "warning", "error")
CONFIG_HELP = (
    "feeds.toml to use (default: $POSTER_CONFIG, else $CONFIGURATION_DIRECTORY/feeds.toml, "
    "else ./feeds.toml)"
)
STATE_HELP = "where poster keeps its state (default: $STATE_DIRECTORY, else ./state)"
LOG_HELP = "debug, info, warning or error (default: warning; info for the daemon)"


def shared_options(*, state: bool, suppress: bool) -> argparse.ArgumentParser:
    """Return a parent parser with the options every command takes, and --state-dir if asked.

    The commands' copies default to ``argparse.SUPPRESS``, so a value given before the command
    name is kept when the option is not repeated after it.
    """
    default = argparse.SUPPRESS if suppress else None
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-c", "--config", type=Path, default=default, metavar="PATH", help=CONFIG_HELP
    )
    parent.add_argument(
        "--log-level", default=default, choices=LOG_LEVELS, metavar="LEVEL", help=LOG_HELP
    )
    if state:
        parent.add_argument(
            "--state-dir", type=Path, default=default, metavar="DIR", help=STATE_HELP
        )
    return parent


def default_config_path() -> Path:
    """Return $POSTER_CONFIG, else systemd's configuration directory, else ./feeds.toml."""
    if explicit := os.environ.get("POSTER_CONFIG"):
        return Path(explicit)
    if directory := os.environ.get("CONFIGURATION_DIRECTORY"):
        return Path(directory.split(":")[0]) / "feeds.toml"
    return Path("feeds.toml")


def missing_config(path: Path, given: bool) -> UsageError | None:
    """Return the error for a configuration file that is not there, naming where to point."""
    if path.exists() or path.is_symlink():
        return None
    where = Path(os.path.abspath(path.expanduser()))
    if given:
        return UsageError(f"no configuration file {where}; check the path given with -c")
    source = "$POSTER_CONFIG" if os.environ.get("POSTER_CONFIG") else "the default"
    return UsageError(
        f"no configuration file {where} ({source}); give one with -c PATH or set $POSTER_CONFIG"
    )


def default_state_dir() -> Path:
    """Return systemd's state directory when set, else ./state."""
    if directory := os.environ.get("STATE_DIRECTORY"):
        return Path(directory.split(":")[0])
    return Path("state")


def state_dir(args: argparse.Namespace) -> Path:
    """Return the state directory given on the command line, else the default one."""
    chosen: Path | None = getattr(args, "state_dir", None)
    return chosen or default_state_dir()


def select_feeds(config: Config, names: list[str] | None) -> list[FeedConfig]:
    """Return the named feeds, or every enabled feed; an unknown name is a usage error."""
    if not names:
        return [feed for feed in config.feeds if feed.enabled]
    for name in names:
        configured(config, name)
    return [feed for feed in config.feeds if feed.name in names]


def configured(config: Config, name: str) -> FeedConfig:
    """Return the feed called ``name``, or raise a usage error listing the feeds there are."""
    feed = config.feed(name)
    if feed is not None:
        return feed
    names = [f.name for f in config.feeds]
    message = f"no feed named {name!r} in {config.path}; feeds: {', '.join(names)}"
    suggestion = did_you_mean(name, names, "feeds")
    if suggestion.startswith("did you mean"):
        message += f" ({suggestion})"
    raise UsageError(message)


def add_command(
    commands: Any, name: str, summary: str, *, state: bool, description: str | None = None
) -> argparse.ArgumentParser:
    """Add a command with the shared options, its one-line summary and a description."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        parents=[shared_options(state=state, suppress=True)],
        help=summary,
        description=description or f"{summary[0].upper()}{summary[1:]}.",
    )
    return parser
