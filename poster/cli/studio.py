"""The studio command: a sandbox page that shows the feeds' newest items, re-rendered on save."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poster.cli.common import (
    EXIT_OK,
    SANDBOX_PORT,
    STUDIO_LATEST,
    add_command,
    select_feeds,
)

if TYPE_CHECKING:
    from poster.config import Config
    from poster.destinations.viber.sandbox.rerender import Render, Studio


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
        type=int,
        default=STUDIO_LATEST,
        metavar="N",
        help=f"the newest N items of each feed (default {STUDIO_LATEST})",
    )
    studio.add_argument(
        "--port",
        type=int,
        default=SANDBOX_PORT,
        metavar="PORT",
        help=f"the sandbox page's port (default {SANDBOX_PORT})",
    )
    studio.set_defaults(handler=cmd_studio)


def cmd_studio(config: Config, args: argparse.Namespace) -> int:
    """Serve the sandbox page and re-render onto it whenever a watched file changes."""
    import httpx

    from poster.destinations.viber.sandbox.rerender import Studio
    from poster.destinations.viber.sandbox.session import sandbox_session
    from poster.fetch.feed import make_client

    if args.log_level is None:
        import logging

        # Each render lists every item that failed; the pipeline's log lines would repeat them.
        logging.getLogger("poster.pipeline").setLevel(logging.CRITICAL)
    feeds = [feed.name for feed in select_feeds(config, args.feed)] if args.feed else []
    with (
        sandbox_session(config, port=args.port) as session,
        make_client() as client,
        httpx.Client() as api,
    ):
        studio = Studio(config.path, session, client, api, feeds=feeds, limit=args.limit)
        print(_welcome(studio, session.sandbox.url), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            studio.run(threading.Event(), _show)
    return EXIT_OK


def _welcome(studio: Studio, url: str) -> str:
    """Say where to look and what is watched."""
    templates = Path(studio.session.config.templates_dir)
    return (
        f"poster studio: open {url} to see the posts.\n"
        f"Watching {studio.config_path}, {templates}/ and the local feeds: every save renders "
        "the newest items again. Press Ctrl-C to stop."
    )


def _show(render: Render) -> None:
    """Print one render's summary and problems."""
    print("\n".join(render.lines()), file=sys.stdout, flush=True)
