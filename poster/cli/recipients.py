"""The recipients commands: check a recipients file, list opt-outs and open batches, release or
settle one.

They read a destination's recipient ledger without taking its lock, so they work while poster
runs; ``release`` and ``settle`` write, and wait for no one: they are refused while poster holds
the ledger. ``release`` also offers the batch's item to the destination again
(``poster.ops.release``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from poster.cli.common import EXIT_FAILED, EXIT_OK, add_command, say_error, state_dir

TYPE_CHECKING = False  # as typing's, without loading typing: --help never needs it

if TYPE_CHECKING:
    from typing import Any

    from poster.store.recipientledger import RecipientLedger

DEST_HELP = "the destination's name, as in feeds.toml"


def add_commands(commands: Any) -> None:
    """Register ``recipients`` and its actions."""
    group = add_command(commands, "recipients", "check recipients, list opt-outs", state=True)
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    check = add_command(
        actions, "check", "check a recipients file and count its numbers", state=False
    )
    check.add_argument("file", type=Path, metavar="FILE", help="a file of phone numbers")
    check.set_defaults(handler=cmd_check, no_config=True)
    for name, summary, handler in (
        ("optouts", "list the numbers a gateway reported as opted out", cmd_optouts),
        ("uncertain", "list batches whose answer is not in or was lost", cmd_uncertain),
        ("release", "let an uncertain batch's recipients be sent the item again", cmd_release),
        ("settle", "record that an uncertain batch's recipients got the item", cmd_settle),
    ):
        action = add_command(actions, name, summary, state=True)
        action.add_argument("destination", metavar="DEST", help=DEST_HELP)
        if name in ("release", "settle"):
            action.add_argument("batch", metavar="BATCH", help="a batch id, as `uncertain` shows")
        action.set_defaults(handler=handler, no_config=True)


def cmd_check(_config: object, args: argparse.Namespace) -> int:
    """Print how many numbers the file holds and its version; repeats are logged as warnings."""
    from poster.errors import ConfigError
    from poster.recipients import load_recipients

    try:
        recipients = load_recipients(args.file)
    except ConfigError as exc:  # the file alone is checked, not the configuration
        raise ConfigError(exc.problems, where=str(args.file)) from None
    count = len(recipients)
    print(f"{args.file}: {count} number{'s' if count != 1 else ''}, version {recipients.version}")
    return EXIT_OK


def cmd_optouts(_config: object, args: argparse.Namespace) -> int:
    """Print one line per suppressed number: number, since when, reason."""
    from poster.terminal import terminal_safe  # the reason is the gateway's words

    with _open(args, read_only=True) as ledger:
        optouts = ledger.opted_out()
        for optout in optouts:
            since = optout.since.isoformat(timespec="seconds")
            print(terminal_safe(f"{optout.phone}\t{since}\t{optout.reason}"))
    if not optouts:
        print(f"no number opted out at {args.destination}", file=sys.stderr)
    return EXIT_OK


def cmd_uncertain(_config: object, args: argparse.Namespace) -> int:
    """Print one line per open batch: id, item, size, state, why."""
    from poster.terminal import terminal_safe

    with _open(args, read_only=True) as ledger:
        for batch in ledger.open_batches():
            why = f"\t{batch.why}" if batch.why else ""
            line = f"{batch.batch_id}\t{batch.item}\t{batch.size}\t{batch.state}{why}"
            print(terminal_safe(line))
    return EXIT_OK


def cmd_release(_config: object, args: argparse.Namespace) -> int:
    """Release one uncertain batch and offer its item to the destination again."""

    from poster.ops.release import release_batch

    released = release_batch(state_dir(args), args.destination, args.batch)
    *before, last = released.lines
    for line in before:
        print(line)
    if not released.ok:
        say_error(last)
        return EXIT_FAILED
    print(last)
    return EXIT_OK


def cmd_settle(_config: object, args: argparse.Namespace) -> int:
    """Record one uncertain batch as received: nobody in it is sent its item again."""
    with _open(args, read_only=False) as ledger:
        item = next((b.item for b in ledger.open_batches() if b.batch_id == args.batch), None)
        ledger.settle(args.batch)
        left = ledger.outcome(item) if item is not None else None
    feed, _, key = (item or "").partition(" ")
    print(f"settled batch {args.batch} of item {key!r} of feed {feed!r}: its numbers count as "
          "accepted, and none of them is sent it again")  # fmt: skip
    if item is not None and left is not None and not (left.uncertain or left.pending):
        from poster.ops.release import settle_item

        if done := settle_item(state_dir(args), args.destination, item):
            print(done)
    return EXIT_OK


def _open(args: argparse.Namespace, *, read_only: bool) -> RecipientLedger:
    """Open the destination's ledger, or say that it has none."""
    import math

    from poster.store.recipientledger import RecipientLedger, ledger_path, no_ledger

    path = ledger_path(state_dir(args), args.destination)
    if not path.exists():
        raise no_ledger(state_dir(args), args.destination)
    # No retention here: these commands read no feeds.toml, so items are pruned only by runs,
    # which know the configured one.
    return RecipientLedger(path, read_only=read_only, retention_days=math.inf)
