"""The studio command: a sandbox page that shows the feeds' newest items, re-rendered on save."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from poster.cli.common import (
    EXIT_OK,
    SANDBOX_PORT,
    STUDIO_LATEST,
    add_command,
    count,
    port,
    select_feeds,
)

TYPE_CHECKING = False  # as typing's, without loading typing: --help never needs it

if TYPE_CHECKING:
    from typing import Any

    from poster.config import Config


def add_commands(commands: Any) -> None:
    """Register studio."""
    studio = add_command(
        commands,
        "studio",
        "show the feeds' newest items on a sandbox page, rendered again on every save",
        state=False,
    )
    studio.add_argument(
        "--feed", action="append", metavar="NAME", help="only this feed (repeatable)"
    )
    studio.add_argument(
        "--limit",
        type=count,
        default=STUDIO_LATEST,
        metavar="N",
        help=f"the newest N items of each feed (default {STUDIO_LATEST})",
    )
    studio.add_argument(
        "--port",
        type=port,
        default=None,
        metavar="PORT",
        help=f"the sandbox page's port (default: {SANDBOX_PORT}, else any free one)",
    )
    studio.set_defaults(handler=cmd_studio)


def cmd_studio(config: Config, args: argparse.Namespace) -> int:
    """Serve the sandbox page and re-render onto it whenever a watched file changes."""
    import logging

    pipeline = logging.getLogger("poster.pipeline")
    level = pipeline.level
    if args.log_level is None:
        # Each render lists every item that failed; the pipeline's log lines would repeat them.
        pipeline.setLevel(logging.CRITICAL)
    try:
        return _serve(config, args)
    finally:
        pipeline.setLevel(level)


def _serve(config: Config, args: argparse.Namespace) -> int:
    """Run the studio page until Ctrl-C."""
    from poster.destinations import sandbox_host

    feeds = [feed.name for feed in select_feeds(config, args.feed)] if args.feed else []
    chosen = SANDBOX_PORT if args.port is None else args.port
    studio = sandbox_host().studio(
        config, port=chosen, any_port=args.port is None, feeds=feeds, limit=args.limit
    )
    with studio as page:
        print(_welcome(config, page.url), flush=True)
        import threading

        with contextlib.suppress(KeyboardInterrupt):
            page.run(threading.Event(), _show)
    return EXIT_OK


def _welcome(config: Config, url: str) -> str:
    """Say where to look and what is watched."""
    templates = Path(config.templates_dir)
    return (
        f"poster studio: open {url} to see the posts.\n"
        f"Watching {config.path}, {templates}/ and the local feeds: every save renders "
        "the newest items again. Press Ctrl-C to stop."
    )


def _show(lines: list[str]) -> None:
    """Print one render's summary and problems."""
    print("\n".join(lines), file=sys.stdout, flush=True)
