"""The commands that only read: check and preview."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

from poster.cli.check import cmd_check
from poster.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    add_command,
    count,
    select_feeds,
    state_dir,
)

TYPE_CHECKING = False  # as typing's, without loading typing: --help never needs it

if TYPE_CHECKING:
    from typing import Any

    from poster.config import Config
    from poster.store import Store


def add_commands(commands: Any) -> None:
    """Register check and preview."""
    check = add_command(
        commands,
        "check",
        "validate feeds.toml, the token and every template; show cron run times",
        state=False,
    )
    # Check closes all it opens, so it runs without the cyclic collector (cli._without_collector).
    check.set_defaults(handler=cmd_check, logs_rarely=True, short_lived=True)
    show = add_command(
        commands,
        "preview",
        "show what would be posted; sends nothing",
        state=True,
        description="Show what would be posted; sends nothing and writes nothing.",
    )
    show.add_argument("--feed", action="append", metavar="NAME", help="only this feed (repeatable)")
    show.add_argument(
        "--limit", type=count, default=None, metavar="N", help="at most N newest items per feed"
    )
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=cmd_preview)


def cmd_preview(config: Config, args: argparse.Namespace) -> int:
    """Print what a run would post for the chosen feeds."""
    from poster.fetch.client import env_client
    from poster.fetch.feed import make_client
    from poster.media.setup import media_stage
    from poster.ops.preview import preview, render_json, render_text

    feeds = select_feeds(config, args.feed)
    if not feeds and not args.json:
        print(
            f"no feed of {config.path} is enabled (each has enabled = false); "
            "`poster preview --feed NAME` shows one anyway"
        )
        return EXIT_OK
    folder = state_dir(args)
    with _ledger(folder) as ledger, make_client() as client, env_client() as api:
        # Probes and conversions happen in memory: the preview writes nothing. Without a state
        # folder, it converts as a first run would.
        media = media_stage(config, folder, client, read_only=True)
        reports = preview(
            config, feeds, client, ledger=ledger, limit=args.limit, media=media, meta=ledger,
            http=api,
        )  # fmt: skip
    print(render_json(reports) if args.json else render_text(reports), end="")
    return EXIT_OK if all(report.ok for report in reports) else EXIT_FAILED


@contextlib.contextmanager
def _ledger(state_dir: Path) -> Iterator[Store | None]:
    """Open the state read-only when there is one (also beside a running daemon)."""
    from poster.store import Store
    from poster.store.store import SNAPSHOT_NAME

    if not (state_dir / SNAPSHOT_NAME).exists():
        yield None
        return
    with Store(state_dir, read_only=True) as store:
        yield store
