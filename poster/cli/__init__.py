"""Parse the command line, call the library, print; the only place errors become exit codes.

Exit codes: 0 all good, 1 something failed at run time (a feed, a post), 2 the configuration or
the command line is wrong.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from poster import __version__
from poster.config import Config, FeedConfig, load_config
from poster.errors import ConfigError, ConfigProblem, PosterError, RenderError
from poster.fetch import make_client
from poster.preview import preview, render_json, render_text
from poster.render import Renderer

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

log = logging.getLogger("poster")


def default_config_path() -> Path:
    """Return $POSTER_CONFIG, else systemd's configuration directory, else ./feeds.toml."""
    if explicit := os.environ.get("POSTER_CONFIG"):
        return Path(explicit)
    if directory := os.environ.get("CONFIGURATION_DIRECTORY"):
        return Path(directory.split(":")[0]) / "feeds.toml"
    return Path("feeds.toml")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="poster", description="Post new items from RSS, Atom, RDF and JSON feeds to Viber."
    )
    parser.add_argument("--version", action="version", version=f"poster {__version__}")
    parser.add_argument("-c", "--config", type=Path, default=None, help="path to feeds.toml")
    parser.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"]
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("check", help="validate feeds.toml and render every template")
    show = commands.add_parser("preview", help="show what would be posted; sends nothing")
    show.add_argument("--feed", action="append", help="only this feed (repeatable)")
    show.add_argument("--limit", type=int, default=None, help="at most N newest items per feed")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    path = args.config or default_config_path()
    try:
        config = load_config(path)
        if args.command == "check":
            return cmd_check(config)
        return cmd_preview(config, args)
    except ConfigError as exc:
        print(f"poster: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except PosterError as exc:
        print(f"poster: {exc}", file=sys.stderr)
        return EXIT_FAILED


def cmd_check(config: Config) -> int:
    """Render every feed's template against a sample item and report what fails."""
    renderer = Renderer(config.templates_dir)
    failures: list[RenderError] = []
    for feed in config.feeds:
        try:
            renderer.check(feed)
        except RenderError as exc:
            failures.append(exc)
    for failure in failures:
        print(f"poster: {config.path}: {failure}", file=sys.stderr)
    if failures:
        return EXIT_CONFIG
    enabled = sum(feed.enabled for feed in config.feeds)
    print(f"{config.path}: OK, {len(config.feeds)} feeds ({enabled} enabled), templates render")
    return EXIT_OK


def cmd_preview(config: Config, args: argparse.Namespace) -> int:
    """Print what a run would post for the chosen feeds."""
    feeds = select_feeds(config, args.feed)
    with make_client() as client:
        reports = preview(config, feeds, client, limit=args.limit)
    print(render_json(reports) if args.json else render_text(reports), end="")
    return EXIT_OK if all(report.ok for report in reports) else EXIT_FAILED


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
