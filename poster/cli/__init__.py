"""Parse the command line, call the library, print; the only place errors become exit codes.

Exit codes: 0 all good, 1 something failed at run time (a feed, a post, the channel), 2 the
configuration or the command line is wrong, 3 the machine refuses what poster needs (state
files, permissions, a full disk, a port in use), 70 a bug in poster, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from poster import __version__
from poster.cli import admin, channel, feeds, gateway, operate, recipients, studio
from poster.cli.common import (
    EXIT_BUG,
    EXIT_CONFIG,
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    default_config_path,
    missing_config,
    shared_options,
)
from poster.cli.crash import report_bug
from poster.config import load_config
from poster.errors import (
    ConfigError,
    HostError,
    PosterError,
    StateError,
    UsageError,
    WebhookError,
)
from poster.logs import setup_logging

__all__ = [
    "EXIT_BUG",
    "EXIT_CONFIG",
    "EXIT_ENVIRONMENT",
    "EXIT_FAILED",
    "EXIT_OK",
    "build_parser",
    "main",
]

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="poster",
        description="Post new items from RSS, Atom, RDF and JSON feeds to Viber.",
        parents=[shared_options(state=True, suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"poster {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", title="commands"
    )
    feeds.add_commands(commands)
    channel.add_commands(commands)
    admin.add_commands(commands)
    operate.add_commands(commands)
    studio.add_commands(commands)
    recipients.add_commands(commands)
    gateway.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code; no traceback reaches the person."""
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level or "warning")
    try:
        return _dispatch(args)
    except (ConfigError, WebhookError, UsageError) as exc:
        return _fail(exc, EXIT_CONFIG)
    except (StateError, HostError) as exc:
        return _fail(exc, EXIT_ENVIRONMENT)
    except PosterError as exc:
        return _fail(exc, EXIT_FAILED)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except OSError as exc:
        log.debug("event=os-error", exc_info=True)
        what = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{what}{exc.strerror or exc}", EXIT_ENVIRONMENT)
    except Exception as exc:
        print(f"poster: {report_bug(exc)}", file=sys.stderr)
        return EXIT_BUG


def _dispatch(args: argparse.Namespace) -> int:
    """Load the configuration the command needs and run its handler."""
    if args.command == "sandbox" or getattr(args, "no_config", False):
        return int(args.handler(None, args))
    path = args.config or default_config_path()
    missing = missing_config(path, given=args.config is not None)
    if missing is not None:
        raise missing
    return int(args.handler(load_config(path), args))


def _fail(error: Exception | str, code: int) -> int:
    """Print ``error`` on one line (a config error lists its problems below) and return ``code``."""
    print(f"poster: {error}", file=sys.stderr)
    return code
