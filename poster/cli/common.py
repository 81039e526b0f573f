"""Share what every command needs: exit codes, shared options, paths and feed selection."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from pathlib import Path

TYPE_CHECKING = False  # as typing's, without loading typing: --help never needs it

if TYPE_CHECKING:
    from typing import Any

    from poster.config import Config, FeedConfig
    from poster.errors import UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_ENVIRONMENT = 3
"""The machine refuses what poster needs (permissions, a full or read-only disk, a port in use)."""
EXIT_BUG = 70
"""An unexpected error: a bug in poster (sysexits EX_SOFTWARE)."""
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141
"""What read the output went away (``poster status | head -1``): 128 + SIGPIPE, as a shell says."""

# The sandbox's defaults, repeated so that building the parser loads no server code; a test
# checks them against the sandbox's own.
SANDBOX_PORT = 8765
SANDBOX_TOKEN = "sandbox-token"
STUDIO_LATEST = 3

LOG_LEVELS = ("debug", "info", "warning", "error")
CONFIG_HELP = (
    "feeds.toml to use (default: $POSTER_CONFIG, else $CONFIGURATION_DIRECTORY/feeds.toml, "
    "else ./feeds.toml)"
)
STATE_HELP = "where poster keeps its state (default: $STATE_DIRECTORY, else ./state)"
LOG_HELP = "debug, info, warning or error (default: warning; info for the daemon)"


class Formatter(argparse.HelpFormatter):
    """Argparse's help layout, as wide as the terminal, found without loading ``shutil``.

    argparse makes a formatter for every option it adds and asks ``shutil`` for the width,
    which loads shutil and its compression modules (a few milliseconds) into every command.
    """

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or _columns() - 2)


def _columns() -> int:
    """Return the terminal's width as ``shutil.get_terminal_size`` finds it: $COLUMNS first."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    try:
        return (stdout and os.get_terminal_size(stdout.fileno()).columns) or 80
    except (ValueError, OSError):
        return 80


@functools.cache
def shared_options(*, state: bool, suppress: bool) -> argparse.ArgumentParser:
    """Return a parent parser with the options every command takes, and --state-dir if asked.

    The commands' copies default to ``argparse.SUPPRESS``, so a value given before the command
    name is kept when the option is not repeated after it. Children copy a parent's options, so
    one parent serves every command (building a parser is most of the cost of ``--help``).
    """
    default = argparse.SUPPRESS if suppress else None
    parent = argparse.ArgumentParser(add_help=False, formatter_class=Formatter)
    parent.add_argument(
        "-c", "--config", type=given_path, default=default, metavar="PATH", help=CONFIG_HELP
    )
    parent.add_argument(
        "--log-level", default=default, choices=LOG_LEVELS, metavar="LEVEL", help=LOG_HELP
    )
    if state:
        parent.add_argument(
            "--state-dir", type=given_path, default=default, metavar="DIR", help=STATE_HELP
        )
    return parent


def given_path(text: str) -> Path:
    """Return the path an option names; an empty one (an unset variable in a script) is refused."""
    if not text:
        raise argparse.ArgumentTypeError("is empty; name the path, or leave the option out")
    return Path(text)


# The options before the command name that take a value, as ``shared_options`` declares them.
_VALUED = ("-c", "--config", "--log-level", "--state-dir")


def command_named(words: Sequence[str]) -> str:
    """Return the command the words name, as argparse will find it, or "" when there is none."""
    taking_value = False
    for word in words:
        if taking_value:
            taking_value = False
        elif word == "--":
            return ""
        elif word in _VALUED[:1] or (
            word.startswith("--") and "=" not in word and _is_prefix(word, _VALUED[1:])
        ):
            taking_value = True
        elif not word.startswith("-"):
            return word
    return ""


def _is_prefix(word: str, options: Sequence[str]) -> bool:
    """Tell whether ``word`` abbreviates one of ``options``, as argparse allows."""
    return len(word) > 2 and any(option.startswith(word) for option in options)


class Outline:
    """Stand in for the commands' subparsers, building only the named command's parser.

    The others are registered with their summaries, so help and choices stay the same, and
    what their ``add_commands`` adds to them goes to a ``_Skipped`` that keeps nothing.
    """

    def __init__(self, commands: Any, only: str) -> None:
        self._commands = commands
        self._only = only

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        """Return the real parser for the named command, a ``_Skipped`` for any other."""
        if name == self._only:
            return self._commands.add_parser(name, built=True, **kwargs)
        return self._commands.add_parser(name, help=kwargs.get("help"))


def outline_parser(*, built: bool = False, **kwargs: Any) -> Any:
    """Make a command's parser for an ``Outline``: a real one if ``built``, else a ``_Skipped``.

    Each real parser costs about a millisecond, most of what ``--help`` would take.
    """
    return argparse.ArgumentParser(**kwargs) if built else _Skipped()


class _Skipped:
    """Take a command's options and subcommands and keep none of them."""

    def parse_known_args(
        self, args: Sequence[str], _namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Read none of the words: they come back unknown, so the full parser reads them."""
        return argparse.Namespace(), list(args)

    def add_argument(self, *_args: Any, **_kwargs: Any) -> None:
        """Keep nothing."""

    def set_defaults(self, **_kwargs: Any) -> None:
        """Keep nothing."""

    def add_subparsers(self, **_kwargs: Any) -> _Skipped:
        """Return another ``_Skipped`` for the subcommands."""
        return self

    def add_parser(self, _name: str, **_kwargs: Any) -> _Skipped:
        """Return another ``_Skipped`` for a subcommand."""
        return self


def port(text: str) -> int:
    """Convert a ``--port`` argument: a TCP port, 0 to take any free one."""
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535; 0: any free one)")
    return int(text)


def count(text: str) -> int:
    """Convert a ``--limit`` argument: a whole number of items, 0 or more."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of items (0 or more)")
    return int(text)


def default_config_path() -> Path:
    """Return $POSTER_CONFIG, else systemd's configuration directory, else ./feeds.toml."""
    if explicit := os.environ.get("POSTER_CONFIG"):
        return Path(explicit)
    if directory := os.environ.get("CONFIGURATION_DIRECTORY"):
        return Path(directory.split(":")[0]) / "feeds.toml"
    return Path("feeds.toml")


def missing_config(path: Path, given: bool) -> UsageError | None:
    """Return the error for a configuration file that is not there, naming where to point."""
    from poster.errors import UsageError

    if path.exists() or path.is_symlink():
        return None
    where = Path(os.path.abspath(path.expanduser()))
    if given:
        return UsageError(f"no configuration file {where}; check the path given with -c")
    source = "$POSTER_CONFIG" if os.environ.get("POSTER_CONFIG") else "the default"
    return UsageError(
        f"no configuration file {where} ({source}); give one with -c PATH or set $POSTER_CONFIG"
    )


def default_state_dir() -> Path:
    """Return systemd's state directory when set, else ./state."""
    if directory := os.environ.get("STATE_DIRECTORY"):
        return Path(directory.split(":")[0])
    return Path("state")


def state_dir(args: argparse.Namespace) -> Path:
    """Return the state directory given on the command line, else the default one."""
    chosen: Path | None = getattr(args, "state_dir", None)
    return chosen or default_state_dir()


def select_feeds(config: Config, names: list[str] | None) -> list[FeedConfig]:
    """Return the named feeds, or every enabled feed; an unknown name is a usage error."""
    if not names:
        return [feed for feed in config.feeds if feed.enabled]
    for name in names:
        configured(config, name)
    return [feed for feed in config.feeds if feed.name in names]


def configured(config: Config, name: str) -> FeedConfig:
    """Return the feed called ``name``, or raise a usage error listing the feeds there are."""
    from poster.errors import UsageError

    feed = config.feed(name)
    if feed is not None:
        return feed
    from poster.config.values import did_you_mean

    names = [f.name for f in config.feeds]
    message = f"no feed named {name!r} in {config.path}; feeds: {', '.join(names)}"
    suggestion = did_you_mean(name, names, "feeds")
    if suggestion.startswith("did you mean"):
        message += f" ({suggestion})"
    raise UsageError(message)


def add_command(
    commands: Any, name: str, summary: str, *, state: bool, description: str | None = None
) -> argparse.ArgumentParser:
    """Add a command with the shared options, its one-line summary and a description."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        formatter_class=Formatter,
        parents=[shared_options(state=state, suppress=True)],
        help=summary,
        description=description or f"{summary[0].upper()}{summary[1:]}.",
    )
    return parser


def for_now(text: str) -> str:
    """Say a command's "will retry later" as what to do: the command ends, nothing retries."""
    import re

    promise = r"(?:will retry|poster tries again)( later| in [^;()]+)?"
    return re.sub(promise, lambda found: "try again" + (found.group(1) or " later"), text)


def say_error(text: object) -> None:
    """Print ``text`` as one ``poster:`` line on stderr, secrets masked and control characters
    escaped: an API may echo a key, and a feed or an API's words may hold escape sequences."""
    from poster.redaction import redact
    from poster.terminal import terminal_safe

    print(f"poster: {terminal_safe(redact(str(text)))}", file=sys.stderr)
