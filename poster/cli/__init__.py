"""Parse the command line, call the library, print; the only place errors become exit codes.

Exit codes: 0 all good, 1 something failed at run time (a feed, a post, the channel), 2 the
configuration or the command line is wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from poster import __version__
from poster.cli import channel, feeds, operate, studio
from poster.cli.common import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, default_config_path
from poster.config import load_config
from poster.errors import ConfigError, PosterError, WebhookError
from poster.logs import setup_logging

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_OK", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="poster", description="Post new items from RSS, Atom, RDF and JSON feeds to Viber."
    )
    parser.add_argument("--version", action="version", version=f"poster {__version__}")
    parser.add_argument("-c", "--config", type=Path, default=None, help="path to feeds.toml")
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["debug", "info", "warning", "error"],
        help="default: warning, and info for the daemon",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    feeds.add_commands(commands)
    channel.add_commands(commands)
    operate.add_commands(commands)
    studio.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level or "warning")
    try:
        if args.command == "sandbox":
            return int(args.handler(None, args))
        config = load_config(args.config or default_config_path())
        return int(args.handler(config, args))
    except (ConfigError, WebhookError) as exc:
        print(f"poster: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except PosterError as exc:
        print(f"poster: {exc}", file=sys.stderr)
        return EXIT_FAILED
