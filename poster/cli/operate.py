"""The commands an operator uses on a running poster: status, retry, feed enable and disable.

They work while the daemon runs: ``status`` reads the state without taking the lock, and a
change the daemon's lock keeps us from writing is queued in the state directory's inbox, which
the daemon applies within seconds. While a one-shot run holds the lock, a change waits a few
seconds for it to end and is refused if it does not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from poster.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    add_command,
    configured,
    say_error,
    state_dir,
)

TYPE_CHECKING = False  # as typing's, without loading typing: --help never needs it

if TYPE_CHECKING:
    from typing import Any

    from poster.config import Config
    from poster.ops.inbox import Request

RETRY_USAGE = (
    "give FEED KEY for one item, or --failed, --uncertain and/or --skipped (optionally --feed NAME)"
)
FEED_SWITCH_NOTE = (
    "`enabled = false` in feeds.toml is the permanent switch; these commands pause and resume "
    "a feed at run time, also while poster runs, and a pause lasts across restarts."
)


def add_commands(commands: Any) -> None:
    """Register status, retry and feed."""
    status = add_command(
        commands,
        "status",
        "show feeds, the channel and what needs a person",
        state=True,
        description="Show feeds, the channel and what needs a person; exit 1 when something does.",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    # Status on a sound state logs nothing: logging loads with its first event, if any; it
    # closes all it opens, so it runs without the cyclic collector (cli._without_collector).
    status.set_defaults(handler=cmd_status, logs_rarely=True, short_lived=True)
    retry = add_command(
        commands,
        "retry",
        "send failed or uncertain items again on the next pass",
        state=True,
        description=f"Send failed or uncertain items again on the next pass: {RETRY_USAGE}.",
    )
    retry.add_argument("item_feed", nargs="?", metavar="FEED", help="the item's feed")
    retry.add_argument("key", nargs="?", metavar="KEY", help="the item's key, as `status` shows")
    retry.add_argument("--failed", action="store_true", help="every failed item")
    retry.add_argument("--uncertain", action="store_true", help="every uncertain item")
    retry.add_argument("--skipped", action="store_true", help="every item skipped as stale")
    retry.add_argument("--feed", dest="only_feed", metavar="NAME", help="only items of this feed")
    retry.set_defaults(handler=cmd_retry)
    feed = add_command(
        commands,
        "feed",
        "pause or resume a feed at run time",
        state=True,
        description=FEED_SWITCH_NOTE,
    )
    actions = feed.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    for action, verb in (("enable", "resume"), ("disable", "pause")):
        summary = f"{verb} a feed at run time"
        switch = add_command(actions, action, summary, state=True, description=FEED_SWITCH_NOTE)
        switch.add_argument("name", metavar="NAME", help="a feed named in feeds.toml")
        switch.set_defaults(handler=cmd_feed, kind=f"feed-{action}")


def cmd_status(config: Config, args: argparse.Namespace) -> int:
    """Print the status; exit 1 when anything needs a person, so monitoring can use it."""
    import json
    from datetime import UTC, datetime

    from poster.ops import waiting
    from poster.ops.status import format_status, status_view
    from poster.store import Store
    from poster.store.place import DAEMON

    folder = state_dir(args)
    role = waiting.holder_role(folder)
    with Store(folder, read_only=True) as store:
        view = status_view(
            config, store, datetime.now(UTC), waiting.waiting(folder),
            daemon_running=role == DAEMON, stopped=role is None,
        )  # fmt: skip
    if args.json:
        from poster.ops.statusjson import status_json

        print(json.dumps(status_json(view), indent=2, ensure_ascii=False))
    else:
        print(format_status(view), end="")
    return EXIT_FAILED if view.attention else EXIT_OK


def cmd_retry(config: Config, args: argparse.Namespace) -> int:
    """Release one item, or every item in the chosen states, for the next pass."""
    from poster.ops.inbox import Request
    from poster.store.ledger import FAILED, SKIPPED, UNCERTAIN

    chosen = ((FAILED, args.failed), (UNCERTAIN, args.uncertain), (SKIPPED, args.skipped))
    states = tuple(state for state, on in chosen if on)
    one_item = args.item_feed is not None and args.key is not None
    if (
        one_item == bool(states)
        or (one_item and args.only_feed)
        or (args.item_feed and not one_item)
    ):
        print(f"poster retry: {RETRY_USAGE}", file=sys.stderr)
        return EXIT_CONFIG
    if one_item:
        configured(config, args.item_feed)
        request = Request("retry", args.item_feed, args.key)
    else:
        if args.only_feed is not None:
            configured(config, args.only_feed)
        request = Request("retry-states", args.only_feed, states=states)
    return _change(state_dir(args), request)


def cmd_feed(config: Config, args: argparse.Namespace) -> int:
    """Pause or resume a configured feed at run time."""
    from poster.ops.inbox import Request

    feed = configured(config, args.name)
    code = _change(state_dir(args), Request(args.kind, feed.name))
    if args.kind == "feed-enable" and not feed.enabled:
        print(
            f"note: feeds.toml sets enabled = false for {feed.name!r}, so it stays off "
            "until you change that",
            file=sys.stderr,
        )
    return code


def _change(state_dir: Path, request: Request) -> int:
    """Apply ``request`` to the state, or queue it for the daemon that holds the lock."""
    from poster.errors import StateError
    from poster.ops import inbox
    from poster.store.store import SNAPSHOT_NAME

    if not (state_dir / SNAPSHOT_NAME).exists():
        print(
            f"poster: no poster state in {state_dir}; give --state-dir where poster keeps it",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        store = inbox.open_for_change(state_dir)
    except StateError as exc:
        if not inbox.is_locked(exc, state_dir):
            raise
        # A run that ends soon is not an environment problem: say so and let them retry.
        say_error(exc)
        return EXIT_FAILED
    if store is None:
        return _queue(state_dir, request)
    with store:
        # Requests queued for a daemon that stopped before applying them go first, in order.
        for line in inbox.drain(state_dir, store):
            print(f"applied a request queued earlier: {line}")
        applied = inbox.apply(store, request)
    if not applied.ok:
        say_error(applied.text)
        return EXIT_FAILED
    print(f"{request}: {applied.text}")
    return EXIT_OK


def _queue(state_dir: Path, request: Request) -> int:
    """Check what can be checked without the lock, then leave the request for the daemon."""
    from poster.ops import inbox
    from poster.ops.commands import retry_problem
    from poster.store import Store

    if request.kind == "retry":
        assert request.feed is not None and request.key is not None
        with Store(state_dir, read_only=True) as store:
            problem = retry_problem(store, request.feed, request.key)
        if problem is not None:
            say_error(problem)
            return EXIT_FAILED
    inbox.submit(state_dir, request)
    print(
        f"queued for the running daemon: {request} (it applies it within seconds; "
        "`poster status` shows the result)"
    )
    return EXIT_OK
