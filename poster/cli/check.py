"""Check everything a run needs without running: the configuration, tokens, the templates."""

from __future__ import annotations

import argparse
import sys

from poster.cli.common import EXIT_CONFIG, EXIT_OK

TYPE_CHECKING = False  # as typing's, without loading typing: --help never needs it

if TYPE_CHECKING:
    from datetime import datetime

    from poster.config import Config, FeedConfig
    from poster.destinations import TokenSource

    TokenLine = tuple[str, TokenSource]

RUNS_SHOWN = 3


def cmd_check(config: Config, _args: argparse.Namespace) -> int:
    """Report what would stop a run; print OK, each token's source, cron feeds' next runs."""
    sources, token_errors = _token_sources(config)
    errors = [*token_errors, *_template_errors(config)]
    for error in errors:
        print(f"poster: {error}", file=sys.stderr)
    if errors:
        return EXIT_CONFIG
    enabled = sum(feed.enabled for feed in config.feeds)
    print(f"{config.path}: OK, {len(config.feeds)} feeds ({enabled} enabled), templates render")
    _print_token_sources(config, sources)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    for feed in config.feeds:
        if feed.schedule.cron is not None:
            print(_cron_line(feed, now))
    return EXIT_OK


def _token_sources(config: Config) -> tuple[list[TokenLine], list[str]]:
    """Return where each destination's token comes from, and the problems of those set."""
    from poster.destinations import NeedsToken, kind
    from poster.errors import ConfigError

    found: list[TokenLine] = []
    errors: list[str] = []
    for spec in config.destinations:
        own = kind(spec.kind)
        if not isinstance(own, NeedsToken):
            continue
        try:
            found.append((spec.name, own.token_source(spec, str(config.path))))
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


def _template_errors(config: Config) -> list[str]:
    """Render every feed's templates; return each distinct failure once with its feeds."""
    from poster.destinations import kind
    from poster.errors import RenderError
    from poster.render import Renderer

    renderer = Renderer(config.templates_dir, fixed=True)
    feeds_by_error: dict[str, list[str]] = {}
    kinds = {spec.name: kind(spec.kind) for spec in config.destinations}
    for feed in config.feeds:
        try:
            for own in dict.fromkeys(kinds[name] for name in config.routes(feed)):
                renderer.check(feed, own)
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
    from poster.daemon.schedule import next_runs, zone

    runs = ", ".join(run.strftime("%a %Y-%m-%d %H:%M") for run in next_runs(feed, now, RUNS_SHOWN))
    return f"  {feed.name}: cron {feed.schedule.cron!r} in {zone(feed)}; next: {runs}"
