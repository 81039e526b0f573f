"""The commands that show and manage destinations' accounts: account, webhook set and remove."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence

from poster.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    add_command,
    for_now,
    say_error,
    state_dir,
)

TYPE_CHECKING = False  # as typing's, without loading typing: --help never needs it

if TYPE_CHECKING:
    from typing import Any

    from poster.config import Config, DestinationConfig, WebhookConfig
    from poster.destinations import Admin

TO_HELP = "the destination to use (default: the only one with an account and a webhook)"
ACCOUNT_HELP = "the destination to show (default: every one with an account)"


def add_commands(commands: Any) -> None:
    """Register account and webhook."""
    account = add_command(
        commands, "account", "show each destination's account: admins, balance", state=True
    )
    account.add_argument("--to", metavar="NAME", help=ACCOUNT_HELP)
    account.set_defaults(handler=cmd_account)
    webhook = add_command(commands, "webhook", "set or remove a channel's webhook", state=False)
    actions = webhook.add_subparsers(
        dest="action", required=True, metavar="ACTION", title="actions"
    )
    set_ = add_command(actions, "set", "register URL as the webhook (https)", state=False)
    set_.add_argument("url", metavar="URL", help="the https address the channel calls")
    set_.add_argument("--to", metavar="NAME", help=TO_HELP)
    set_.set_defaults(handler=cmd_webhook_set)
    remove = add_command(actions, "remove", "remove the webhook", state=False)
    remove.add_argument("--to", metavar="NAME", help=TO_HELP)
    remove.set_defaults(handler=cmd_webhook_remove)


def cmd_account(config: Config, args: argparse.Namespace) -> int:
    """Print one block per destination with an account; one not read is a line on stderr.

    The exit code is the worst: 2 when a destination cannot be opened, 1 when its call failed.
    """
    from poster.errors import UsageError
    from poster.ops.accounts import accounts, with_account

    specs = with_account(config)
    if args.to is not None:
        specs = (named(config, args.to, specs, "account to show"),)
    elif not specs:
        raise UsageError(f"no destination in {config.path} has an account to show")
    from poster.terminal import terminal_safe  # an API names its admins and errors its way

    blocks, codes = [], {EXIT_OK}
    for shown in accounts(config, state_dir(args), specs):
        if shown.account is None:
            codes.add(EXIT_CONFIG if shown.unusable else EXIT_FAILED)
            say_error(f"{shown.name}: account not read: {for_now(str(shown.error))}")
            continue
        lines = "".join(f"\n  {line}" for line in shown.account.lines)
        blocks.append(f"{shown.name} ({shown.kind}){lines}")
        if shown.account.warning is not None:
            say_error(f"{shown.name}: {shown.account.warning}")
    if blocks:
        print(terminal_safe("\n\n".join(blocks)))
    return max(codes)


def cmd_webhook_set(config: Config, args: argparse.Namespace) -> int:
    """Register the webhook, serving the check call ourselves when the daemon is not running."""
    if not args.url.strip():
        from poster.errors import UsageError

        # set_webhook with an empty url is how Viber removes one: say so rather than do it.
        raise UsageError(
            "webhook set needs a URL; to remove the webhook, run `poster webhook remove`"
        )
    with (
        _admin(config, args) as admin,
        _receiver_for_check(config.webhook, admin.callback_token) as unserved,
    ):
        result = admin.set_webhook(args.url)
    from poster.redaction import redact  # the API's own words may quote the token

    print(redact(result.explanation))
    if not result.ok and config.webhook.listen is None:
        say_error(
            f"[webhook] listen is not set in {config.path}, so poster did not answer the check "
            "call: set it to the address your URL reaches (such as 127.0.0.1:8080 behind a "
            "proxy), then run this again"
        )
    elif not result.ok and unserved is not None:
        _say_unserved(config, args, unserved)
    return EXIT_OK if result.ok else EXIT_FAILED


def _say_unserved(config: Config, args: argparse.Namespace, error: OSError) -> None:
    """Say why poster could not answer the check call itself, when the daemon did not either."""
    import errno

    host, port = config.webhook.listen or ("", 0)
    if error.errno == errno.EADDRINUSE:
        if _daemon_runs(args):
            return  # the daemon serves the port: the check call reached it
        say_error(
            f"[webhook] listen {host}:{port} is taken by another program, not poster's daemon, "
            "so poster could not answer the check call: stop that program or set listen to a "
            f"free port in {config.path}, then run this again"
        )
        return
    say_error(
        f"poster cannot listen on {host}:{port} ([webhook] listen in {config.path}): "
        f"{error.strerror or error}; set listen to an address of this machine, then run this again"
    )


def _daemon_runs(args: argparse.Namespace) -> bool:
    """Tell whether poster's daemon holds the state, and so serves the webhook's port."""
    from poster.ops.waiting import holder_role
    from poster.store.place import DAEMON

    return holder_role(state_dir(args)) == DAEMON


def cmd_webhook_remove(config: Config, args: argparse.Namespace) -> int:
    """Remove the destination's webhook."""
    with _admin(config, args) as admin:
        result = admin.remove_webhook()
    from poster.redaction import redact  # the API's own words may quote the token

    print(redact(result.explanation))
    return EXIT_OK if result.ok else EXIT_FAILED


def named(
    config: Config, to: str, able: Sequence[DestinationConfig], what: str
) -> DestinationConfig:
    """Return the destination ``--to`` names if it is among ``able``, else explain."""
    from poster.config.values import did_you_mean
    from poster.errors import UsageError

    spec = config.destination(to)
    if spec is None:
        every = [s.name for s in config.destinations]
        hint = did_you_mean(to, every, "destinations")
        raise UsageError(f"--to: no destination named {to!r} in {config.path}; {hint}")
    if spec not in able:
        names = ", ".join(s.name for s in able) or "none"
        raise UsageError(
            f"--to: destination {to!r} ({spec.kind}) has no {what}; these have: {names}"
        )
    return spec


def chosen(config: Config, to: str | None) -> DestinationConfig:
    """Return the destination ``--to`` names, else the only one with a webhook; else explain.

    A gateway has an account (``poster account``) but no webhook: its answers come to the
    callback URL its section says.
    """
    from poster.destinations import Administered, kind
    from poster.errors import UsageError

    able = [spec for spec in config.destinations if isinstance(kind(spec.kind), Administered)]
    if to is not None:
        return named(config, to, able, "webhook to set")
    if len(able) == 1:
        return able[0]
    if not able:
        raise UsageError(f"no destination in {config.path} has a webhook to set")
    names = ", ".join(spec.name for spec in able)
    raise UsageError(f"several destinations have a webhook ({names}); add --to NAME")


@contextlib.contextmanager
def _admin(config: Config, args: argparse.Namespace) -> Iterator[Admin]:
    """Open the chosen destination alone (only its token is loaded) and yield its calls."""
    from poster.app import connect
    from poster.destinations import Administered, kind

    spec = chosen(config, args.to)
    found = kind(spec.kind)
    assert isinstance(found, Administered), "chosen among the kinds with an account"
    with connect(config, state_dir(args), specs=(spec,)) as opened:
        yield found.admin(opened[spec.name])


@contextlib.contextmanager
def _receiver_for_check(webhook: WebhookConfig, token: str) -> Iterator[OSError | None]:
    """Serve ``[webhook] listen`` during the call unless something (the daemon) already does;
    yield why this could not listen, None when it does or nothing is to be served."""
    from poster.daemon.listener import WebhookReceiver

    if webhook.listen is None:
        yield None
        return
    host, port = webhook.listen
    receiver = WebhookReceiver(token, host, port, webhook.path)
    failed: OSError | None = None
    try:
        receiver.start()
    except OSError as exc:
        failed = exc  # the port is taken: the daemon is most likely serving the webhook there
    try:
        yield failed
    finally:
        if failed is None:
            receiver.stop()
