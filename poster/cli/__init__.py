"""Parse the command line, call the library, print; the only place errors become exit codes.

Exit codes: 0 all good, 1 something failed at run time (a feed, a post, the channel), 2 the
configuration or the command line is wrong, 3 the machine refuses what poster needs (state
files, permissions, a full disk, a port in use), 70 a bug in poster, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from importlib import import_module

from poster import __version__
from poster.cli.common import (
    EXIT_BUG,
    EXIT_CONFIG,
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PIPE,
    Formatter,
    Outline,
    command_named,
    default_config_path,
    missing_config,
    outline_parser,
    say_error,
    shared_options,
)

TYPE_CHECKING = False  # as typing's, without loading typing: --help never needs it

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import Any, NoReturn

__all__ = [
    "EXIT_BUG",
    "EXIT_CONFIG",
    "EXIT_ENVIRONMENT",
    "EXIT_FAILED",
    "EXIT_OK",
    "build_parser",
    "main",
]

COMMAND_MODULES = {
    **dict.fromkeys(("check", "preview"), "feeds"),
    **dict.fromkeys(("run", "sandbox"), "channel"),
    **dict.fromkeys(("account", "webhook"), "admin"),
    **dict.fromkeys(("status", "retry", "feed"), "operate"),
    "studio": "studio",
    "recipients": "recipients",
    "gateway": "gateway",
}
"""The module of ``poster.cli`` that adds each command, in the order help lists them: a
command line that names one of them loads only that module (``parse``)."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser for every command, or with only command ``only`` built out.

    With ``only``, the other commands are listed with their summaries but get no options:
    building every command's parser is most of what ``--help`` would cost.
    """
    return _parser(argparse.ArgumentParser, dict.fromkeys(COMMAND_MODULES.values()), only)


def _parser(
    kind: type[argparse.ArgumentParser], modules: Iterable[str], only: str | None, **options: Any
) -> argparse.ArgumentParser:
    """Return a parser of class ``kind`` for the commands ``modules`` add, ``only``'s built out."""
    parser = kind(
        prog="poster",
        description="Post new items from RSS, Atom, RDF and JSON feeds to Viber.",
        parents=[shared_options(state=True, suppress=False)],
        formatter_class=Formatter,
        **options,
    )
    parser.add_argument("--version", action="version", version=f"poster {__version__}")
    # argparse calls parser_class with each command's settings: any callable serves.
    outline: dict[str, Any] = {} if only is None else {"parser_class": outline_parser}
    action = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", title="commands", **outline
    )
    commands = action if only is None else Outline(action, only)
    for module in modules:
        import_module(f"poster.cli.{module}").add_commands(commands)
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line, building out only the command it names."""
    words = sys.argv[1:] if argv is None else list(argv)
    named = command_named(words)
    try:
        args, unknown = _command_parser(named).parse_known_args(words)
    except _Unread:
        args, unknown = argparse.Namespace(command=None), words
    if args.command != named or unknown:
        # The quick look at the words guessed wrong, or they are wrong: parse again with every
        # command built, for the result or the error the full parser gives.
        args = build_parser().parse_args(words)
    return args


def _command_parser(named: str) -> argparse.ArgumentParser:
    """Return a parser that reads the words of command ``named`` as the full parser does.

    It knows only the commands of the module that adds ``named``, so the other modules are not
    imported; it takes no ``--help`` before the command, and leaves errors to the full parser,
    so that what it cannot read, the full parser reads or says what is wrong with.
    """
    module = COMMAND_MODULES.get(named)
    if module is None:
        return build_parser(named)
    return _parser(_Tentative, [module], named, add_help=False)


class _Unread(Exception):
    """The words are not ones a ``_Tentative`` parser reads."""


class _Tentative(argparse.ArgumentParser):
    """A parser that raises ``_Unread`` where argparse would print an error and exit."""

    def error(self, message: str) -> NoReturn:
        """Raise ``_Unread``: the full parser says what is wrong."""
        raise _Unread(message)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code; no traceback reaches the person."""
    _streams_closed_at_start()
    _streams_write_any_text()
    try:
        args = parse(argv)
    except BrokenPipeError:  # --help read by `head -1`
        return _reader_gone()
    # Called as the program, a short-lived command runs without the cyclic collector, and a
    # single pass starts without it.
    if argv is None and (getattr(args, "short_lived", False) or getattr(args, "once", False)):
        return _without_collector(args)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command and return its exit code, turning errors into codes."""
    # The library loads only once the command line is read, so --help and usage errors are
    # instant and each command imports what it uses.
    from poster.errors import (
        ConfigError,
        HostError,
        PosterError,
        RetryLater,
        StateError,
        UsageError,
        WebhookError,
    )

    with _logging(args):
        try:
            return _dispatch(args)
        except (ConfigError, WebhookError, UsageError) as exc:
            return _fail(exc, EXIT_CONFIG)
        except (StateError, HostError) as exc:
            return _fail(exc, EXIT_ENVIRONMENT)
        except RetryLater as exc:
            from poster.cli.common import for_now

            return _fail(for_now(str(exc)), EXIT_FAILED)
        except PosterError as exc:
            return _fail(exc, EXIT_FAILED)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            return _reader_gone()
        except OSError as exc:
            from poster.eventlog import logger

            logger(__name__).debug("event=os-error", exc_info=True)
            what = f"{exc.filename}: " if exc.filename else ""
            return _fail(f"{what}{exc.strerror or exc}", EXIT_ENVIRONMENT)
        except Exception as exc:
            from poster.crash import report_bug

            print(f"poster: {report_bug(exc)}", file=sys.stderr)
            return EXIT_BUG


def _streams_closed_at_start() -> None:
    """Give a standard stream the process started without (``poster status >&-``) to nothing.

    Python leaves such a stream as None, and the first line written to it would be a bug.
    """
    if sys.stdout is None or sys.stderr is None:
        import os

        nowhere = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives to the end
        sys.stdout = sys.stdout or nowhere
        sys.stderr = sys.stderr or nowhere


def _streams_write_any_text() -> None:
    """Let standard output write what its encoding cannot (a feed's Cyrillic, a bullet) as
    escapes, on a terminal or pipe that is not UTF-8: better a ``\u2022`` than no output."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            reconfigure(errors="backslashreplace")


def _reader_gone() -> int:
    """End quietly when what read the output went away (``poster status | head -1``).

    The rest of the output goes nowhere, so that flushing it at exit fails no more, and the
    code is the one a shell gives a program that SIGPIPE ended.
    """
    import os

    try:
        nowhere = os.open(os.devnull, os.O_WRONLY)
        os.dup2(nowhere, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is no file: nothing is flushed to it at exit either
    return EXIT_PIPE


def _without_collector(args: argparse.Namespace) -> int:
    """Run a short-lived command with the cyclic collector off, and end without its walks.

    The collector walks every object alive, every module's functions and classes included,
    each time the state's JSON or the records made from it pass its thresholds (about 6 ms of
    status's 210), and again as Python finalizes (about 14 ms). A command that closes all it
    opens and makes few cycles loses nothing by it: memory goes back when the process ends,
    streams are still flushed and atexit handlers still run. ``run --once`` turns it back on
    once its state is open (``channel.collect_from_here``), for what the pass makes, after
    freezing what start-up made: it lives until the end, and the collector would walk it at
    each full collection (about 20 ms with 30,000 records) and as Python finalizes (about
    60 ms) and free none of it.
    """
    import gc

    gc.disable()
    try:
        return _run(args)
    finally:
        gc.freeze()


def _logging(args: argparse.Namespace) -> AbstractContextManager[None]:
    """Set logging up for the command: at once, or with its first event when it may log none."""
    from poster.eventlog import deferred_setup

    if args.log_level is None and getattr(args, "logs_rarely", False):
        return deferred_setup("warning")
    from contextlib import nullcontext

    from poster.logs import setup_logging

    setup_logging(args.log_level or "warning")
    return nullcontext()


def _dispatch(args: argparse.Namespace) -> int:
    """Load the configuration the command needs and run its handler."""
    if args.command == "sandbox" or getattr(args, "no_config", False):
        return int(args.handler(None, args))
    path = args.config or default_config_path()
    missing = missing_config(path, given=args.config is not None)
    if missing is not None:
        raise missing
    import os

    from poster.cachefiles import cache_dir
    from poster.config import load_config

    return int(args.handler(load_config(path, cache=cache_dir(os.environ)), args))


def _fail(error: Exception | str, code: int) -> int:
    """Print ``error`` on one line (a config error lists its problems below) and return ``code``.

    A secret loaded so far is masked, as an API may echo a key in the text of its error.
    """
    say_error(error)
    return code
