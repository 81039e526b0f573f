"""Render every template each feed may use, at each kind it goes to, against the sample item.

``poster check`` reports what fails; the daemon logs it at a reload, when a template that no
longer works would otherwise show only at the next post of a feed that uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from pathlib import Path

from poster.config import Config, FeedConfig
from poster.destinations import Kind, kind
from poster.frozen import fields
from poster.render import Renderer, unreadable
from poster.text import plural

Passed = Callable[[FeedConfig, str, bool], None]
"""Told a feed, the name of a kind its templates rendered at, and whether one read ``feed``."""


def template_errors(
    config: Config, compiled: Path | None = None, passed: Passed | None = None
) -> list[str]:
    """Render every feed's templates; return each distinct failure once with its feeds.

    ``compiled``, a folder, keeps the compiled templates for the next check. ``passed`` is
    told each feed and kind whose templates rendered, and whether one of them read ``feed``.
    """
    renderer = Renderer(config.templates_dir, fixed=True, compiled=compiled)
    feeds_by_error: dict[str, list[str]] = {}
    kinds = {spec.name: (spec.kind, kind(spec.kind)) for spec in config.destinations}
    known: dict[tuple[object, ...], tuple[str, ...]] = {}
    # A feed's settings but its name and url, which only a template that reads feed sees.
    settings = attrgetter(*(f.name for f in fields(FeedConfig) if f.name not in ("name", "url")))
    for feed in config.feeds:
        routed = dict.fromkeys(kinds[name] for name in config.routes(feed))
        found: dict[str, None] = {}
        for name, own in routed:
            reasons, shared = _feed_errors(renderer, feed, settings(feed), own, known)
            found.update(dict.fromkeys(reasons))
            if passed is not None and not reasons:
                passed(feed, name, not shared)
        for reason in found:
            feeds_by_error.setdefault(reason, []).append(feed.name)
    return [
        f"{config.path}: {reason} (used by {plural(len(names), 'feed')} {', '.join(names)})"
        for reason, names in feeds_by_error.items()
    ]


def _feed_errors(
    renderer: Renderer,
    feed: FeedConfig,
    settings: tuple[object, ...],
    own: Kind,
    known: dict[tuple[object, ...], tuple[str, ...]],
) -> tuple[tuple[str, ...], bool]:
    """Return every reason ``feed`` fails at ``own``, each once, and whether no template read
    ``feed``.

    ``known`` keeps the outcome of each kind and ``settings`` whose templates never read
    ``feed``: another feed that differs only in its name and url gets it without a render.
    """
    key = (own.name, *settings)
    if key in known:
        return known[key], True
    reasons, shared = _checked(renderer, feed, own)
    if shared:
        known[key] = reasons
    return reasons, shared


def _checked(renderer: Renderer, feed: FeedConfig, own: Kind) -> tuple[tuple[str, ...], bool]:
    """Check ``feed`` at ``own``: why it fails, each template's failure once, and whether no
    template reads ``feed``."""
    try:
        failures = renderer.failures(feed, own)
    except OSError as exc:
        return (unreadable(renderer.templates_dir, exc),), False
    reasons = tuple(
        str(exc).removeprefix(f"feed {exc.feed!r} item {exc.item!r}: ") for exc in failures
    )
    try:
        return reasons, not renderer.reads_feed(feed, own)
    except OSError:
        return reasons, False
