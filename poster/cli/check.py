"""Check everything a run needs without running: the configuration, the token, the templates."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from poster.cli.common import EXIT_CONFIG, EXIT_OK, require_token

if TYPE_CHECKING:
    from datetime import datetime

    from poster.config import Config, FeedConfig

RUNS_SHOWN = 3


def cmd_check(config: Config, _args: argparse.Namespace) -> int:
    """Report what would stop a run; print OK, the token's state and each cron feed's next runs."""
    errors = [*_token_errors(config), *_template_errors(config)]
    for error in errors:
        print(f"poster: {error}", file=sys.stderr)
    if errors:
        return EXIT_CONFIG
    enabled = sum(feed.enabled for feed in config.feeds)
    print(f"{config.path}: OK, {len(config.feeds)} feeds ({enabled} enabled), templates render")
    _print_token_source(config)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    for feed in config.feeds:
        if feed.schedule.cron is not None:
            print(_cron_line(feed, now))
    return EXIT_OK


def _token_errors(config: Config) -> list[str]:
    """Return the problems of the token source a run would use; none when it is fine or unset."""
    from poster import secrets
    from poster.errors import ConfigError

    try:
        if secrets.find_token(config.viber) is not None:
            require_token(config)
    except ConfigError as exc:
        return [str(problem) for problem in exc.problems]
    return []


def _print_token_source(config: Config) -> None:
    """Say where the token comes from, or warn that only preview and the sandbox can work."""
    from poster import secrets
    from poster.config import TOKEN_ENV

    found = secrets.find_token(config.viber)
    if found is None:
        print(
            f"warning: no Viber token, so preview and `run --once --sandbox` work but posting "
            f"does not; set {TOKEN_ENV}, [viber] token_file, or the systemd credential "
            f"{secrets.CREDENTIAL_NAME}",
            file=sys.stderr,
        )
        return
    source = found[1]
    where = source.key if source.file == "environment" else f"{source.key} ({source.file})"
    print(f"token: from {where}")


def _template_errors(config: Config) -> list[str]:
    """Render every feed's templates; return each distinct failure once with its feeds."""
    from poster.destinations import kind
    from poster.errors import RenderError
    from poster.render import Renderer

    renderer = Renderer(config.templates_dir)
    feeds_by_error: dict[str, list[str]] = {}
    for feed in config.feeds:
        try:
            renderer.check(feed, kind("viber"))
        except RenderError as exc:
            reason = str(exc).removeprefix(f"feed {exc.feed!r} item {exc.item!r}: ")
            feeds_by_error.setdefault(reason, []).append(feed.name)
        except OSError as exc:
            reason = f"cannot read a template in {config.templates_dir}: {exc.strerror or exc}"
            reason += "; make the templates readable by the user poster runs as"
            feeds_by_error.setdefault(reason, []).append(feed.name)
    return [
        f"{config.path}: {reason} (used by {_plural(len(names))} {', '.join(names)})"
        for reason, names in feeds_by_error.items()
    ]


def _plural(count: int) -> str:
    """Return "feed" or "feeds" for ``count`` feeds."""
    return "feed" if count == 1 else "feeds"


def _cron_line(feed: FeedConfig, now: datetime) -> str:
    """Show a cron feed's schedule and its next runs in its own time zone."""
    from poster.schedule import next_runs, zone

    runs = ", ".join(run.strftime("%a %Y-%m-%d %H:%M") for run in next_runs(feed, now, RUNS_SHOWN))
    return f"  {feed.name}: cron {feed.schedule.cron!r} in {zone(feed)}; next: {runs}"
