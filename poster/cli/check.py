"""Check everything a run needs without running: the configuration, tokens, the templates."""

from __future__ import annotations

import argparse
import os
import sys

from poster.cli.common import EXIT_CONFIG, EXIT_OK, say_error

TYPE_CHECKING = False  # as typing's, without loading typing: --help never needs it

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path
    from typing import Any, TypeVar

    from poster.config import Config, DestinationConfig, FeedConfig
    from poster.destinations import TokenSource
    from poster.ops.templatecheck import Passed

    TokenLine = tuple[str, TokenSource]
    _T = TypeVar("_T")

RUNS_SHOWN = 3


def cmd_check(config: Config, _args: argparse.Namespace) -> int:
    """Report what would stop a run; print OK, each token's source, cron feeds' next runs."""
    sources, token_errors = _token_sources(config)
    counts, recipient_errors = _recipients(config)
    errors = [*token_errors, *recipient_errors, *_template_errors(config)]
    for error in errors:
        say_error(error)
    if errors:
        return EXIT_CONFIG
    enabled = sum(feed.enabled for feed in config.feeds)
    from poster.text import plural

    count = len(config.feeds)
    print(
        f"{config.path}: OK, {count} {plural(count, 'feed')} ({enabled} enabled), templates render"
    )
    _print_token_sources(config, sources)
    several = len(config.destinations) > 1
    for name, count in counts:
        print(f"recipients{f' of {name}' if several else ''}: {count:,} {plural(count, 'number')}")
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    for feed in config.feeds:
        if feed.schedule.cron is not None:
            print(_cron_line(feed, now))
    return EXIT_OK


def _token_sources(config: Config) -> tuple[list[TokenLine], list[str]]:
    """Return where each destination's token comes from, and the problems of those set."""
    from poster.destinations import NeedsToken

    path = str(config.path)
    return _asked(config, NeedsToken, lambda own, spec: own.token_source(spec, path))


def _recipients(config: Config) -> tuple[list[tuple[str, int]], list[str]]:
    """Read each destination's recipients file as a send would: its numbers, or its problems."""
    from poster.destinations import ReadsRecipients

    path = str(config.path)
    found, errors = _asked(config, ReadsRecipients, lambda own, spec: own.recipients(spec, path))
    return [(name, len(numbers)) for name, numbers in found if numbers is not None], errors


def _asked(
    config: Config, protocol: type, ask: Callable[[Any, DestinationConfig], _T]
) -> tuple[list[tuple[str, _T]], list[str]]:
    """Ask each destination whose kind follows ``protocol``: each answer, or its problems."""
    from poster.destinations import kind
    from poster.errors import ConfigError

    found: list[tuple[str, _T]] = []
    errors: list[str] = []
    for spec in config.destinations:
        own = kind(spec.kind)
        if not isinstance(own, protocol):
            continue
        try:
            found.append((spec.name, ask(own, spec)))
        except ConfigError as exc:
            errors += [str(problem) for problem in exc.problems]
    return found, errors


def _print_token_sources(config: Config, sources: list[TokenLine]) -> None:
    """Say where each token comes from, or warn that only preview and the sandbox can work."""
    several = len(config.destinations) > 1
    for name, source in sources:
        if source.where is None:
            print(
                f"warning: {source.missing}, so preview and `run --once --sandbox` work but "
                f"posting does not; {source.hint}",
                file=sys.stderr,
            )
        else:
            print(f"token{f' of {name}' if several else ''}: from {source.where}")
        if source.warning:
            print(f"warning: {source.warning}", file=sys.stderr)


def _template_errors(config: Config) -> list[str]:
    """Render every feed's templates; return each distinct failure once with its feeds.

    What a check found sound before is not rendered again (``templateverdict``).
    """
    from poster.cachefiles import cache_dir, compiled_templates
    from poster.ops.templateverdict import Verdicts, read_templates

    folder = cache_dir(os.environ)
    if folder is None:
        return _rendered(config, None)
    verdicts = Verdicts(config, folder / "checks", read_templates(config.templates_dir))
    if verdicts.recall():
        return []
    errors = _rendered(config, compiled_templates(os.environ), verdicts.passed)
    if not errors:
        verdicts.keep()
    return errors


def _rendered(config: Config, compiled: Path | None, passed: Passed | None = None) -> list[str]:
    """Render every feed's templates, keeping the compiled ones in ``compiled``."""
    from poster.ops.templatecheck import template_errors

    return template_errors(config, compiled, passed)


def _cron_line(feed: FeedConfig, now: datetime) -> str:
    """Show a cron feed's schedule and its next runs in its own time zone."""
    from poster.daemon.schedule import next_runs, zone

    runs = ", ".join(run.strftime("%a %Y-%m-%d %H:%M") for run in next_runs(feed, now, RUNS_SHOWN))
    return f"  {feed.name}: cron {feed.schedule.cron!r} in {zone(feed)}; next: {runs}"
