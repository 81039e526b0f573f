"""Read ``feeds.toml`` and validate all of it into a ``Config``, or report every problem."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poster.config import feedkeys as k
from poster.config import parsedtoml
from poster.config import values as v
from poster.config.destinations import check_routes, destinations
from poster.config.feedchecks import (
    SCHEDULE_KEYS,
    Check,
    Levels,
    check_feed,
    check_schedule,
    run_checks,
    schedule_of,
)
from poster.config.settings import (
    Config,
    DaemonConfig,
    DestinationConfig,
    FeedConfig,
    MediaConfig,
    Schedule,
    ViberConfig,
    WebhookConfig,
    feed_config,
    feed_config_with,
)
from poster.destinations import ChecksKeys, NeedsCallbacks, kind, shorthand
from poster.errors import ConfigError
from poster.frozen import fields, replace

if TYPE_CHECKING:
    from poster.problems import ConfigProblem

_PLAIN_FIELDS = tuple(f.name for f in fields(FeedConfig) if f.name in k.FEED_KEYS)
_PLAIN_SET = frozenset(_PLAIN_FIELDS)
_NAME_URL = frozenset({"name", "url"})
"""The keys of the common feed, which sets nothing else and inherits the rest."""
_NAME_KEY, _URL_KEY = k.FEED_KEYS["name"], k.FEED_KEYS["url"]


def load_config(
    path: Path | str, *, environ: Mapping[str, str] | None = None, cache: Path | None = None
) -> Config:
    """Read and check ``path``; raise ``ConfigError`` listing every problem found.

    With ``cache``, a folder, what the file parsed to is kept there and used again while the
    file's bytes stay the same (see ``parsedtoml``); the checks run on every load.
    """
    file = str(path)
    config_path = Path(os.path.abspath(Path(path).expanduser()))
    report = _Report(file)
    ctx = v.Context(config_path.parent, None, os.environ if environ is None else environ)
    short = shorthand()
    sections = k.TOP_KEYS if short is None else {**k.TOP_KEYS, short[0]: k.SECTION}
    top = k.read_table(parsedtoml.read(config_path, file, cache), sections, ctx)
    report.add(top.issues)
    templates_dir = top.values.get("templates") or v.path_value(
        k.TOP_KEYS["templates"].default, ctx
    )
    if not templates_dir.is_dir() and "templates" not in top.bad:
        report.add([_missing_templates_dir(templates_dir)])
    ctx = v.Context(ctx.base_dir, templates_dir if templates_dir.is_dir() else None, ctx.environ)
    viber = ViberConfig() if short is None else _shorthand(*short, top.values, ctx, report)
    used = short if short is not None and short[0] in top.values else None
    wanted, issues = destinations(top.values.get("destinations", {}), used, ctx)
    report.add(issues)
    webhook = _webhook(top.values.get("webhook", {}), ctx, report)
    report.add(_callbacks_needed(wanted, webhook))
    report.add(_conflicts(wanted))
    daemon = _daemon(top.values.get("daemon", {}), ctx, report)
    media = _media(top.values.get("media", {}), ctx, report, webhook)
    defaults = _defaults(top.values.get("defaults", {}), ctx, report)
    feeds = _feeds(top.values.get("feeds", []), defaults, ctx, report)
    if not feeds and "feeds" not in top.bad:
        report.add(
            [v.Issue("no feeds are configured", "add a [[feeds]] table with name and url", "feeds")]
        )
    report.add(_check_default_template(feeds, ctx.templates_dir))
    names = list(top.values.get("destinations", {})) or ([] if short is None else [short[0]])
    for label, levels in feeds:
        if "to" not in levels.bad and (to := levels.get("to")) is not None:
            report.add(check_routes(to, names), feed=label)
    if report.problems:
        raise ConfigError(report.problems)
    built = _build_all(feeds, defaults)
    return Config(config_path, templates_dir, viber, built, webhook, daemon, tuple(wanted), media)


class _Report:
    """Collect problems for one file, turning issues into located ``ConfigProblem``s."""

    __slots__ = ("file", "problems")

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[ConfigProblem] = []

    def add(self, issues: Iterable[v.Issue], *, feed: str | None = None, prefix: str = "") -> None:
        """Record ``issues`` for ``feed`` with keys under ``prefix``."""
        for issue in issues:
            from poster.problems import ConfigProblem  # here: a sound file has no problem

            key = prefix + issue.sub
            self.problems.append(ConfigProblem(self.file, key, issue.message, feed, issue.hint))


def _missing_templates_dir(folder: Path) -> v.Issue:
    """Describe a templates folder that is not there."""
    hint = 'create it, or set templates = "..." (relative to the folder of feeds.toml)'
    return v.Issue(f"templates folder {str(folder)!r} does not exist", hint, "templates")


def _shorthand(
    section: str, name: str, top: Mapping[str, Any], ctx: v.Context, report: _Report
) -> Any:
    """Check the shorthand ``[section]`` with the keys of kind ``name``; return its settings."""
    keys = {**k.SHORTHAND_KEYS, **kind(name).keys}
    table = k.read_table(top.get(section, {}), keys, ctx)
    gate, issues = k.gate(table.values)
    report.add([*table.issues, *issues], prefix=f"{section}.")
    values = {key: table.values.get(key, spec.default) for key, spec in keys.items()}
    return replace(kind(name).settings(values), gate=gate)


def _daemon(raw: Mapping[str, object], ctx: v.Context, report: _Report) -> DaemonConfig:
    """Check ``[daemon]``."""
    table = k.read_table(raw, k.DAEMON_KEYS, ctx)
    report.add(table.issues, prefix="daemon.")
    values = {name: table.values.get(name, key.default) for name, key in k.DAEMON_KEYS.items()}
    return DaemonConfig(**values)


def _webhook(raw: Mapping[str, object], ctx: v.Context, report: _Report) -> WebhookConfig:
    """Check ``[webhook]``."""
    table = k.read_table(raw, k.WEBHOOK_KEYS, ctx)
    report.add(table.issues, prefix="webhook.")
    if "public_url" in table.values and "listen" not in raw:
        hint = 'set listen = "127.0.0.1:8080" and proxy public_url to it'
        issue = v.Issue("needs [webhook] listen, where the hubs' calls arrive", hint, "public_url")
        report.add([issue], prefix="webhook.")
    return WebhookConfig(
        listen=table.values.get("listen"),
        path=table.values.get("path", k.WEBHOOK_KEYS["path"].default),
        public_url=table.values.get("public_url"),
    )


def _callbacks_needed(wanted: Iterable[DestinationConfig], webhook: WebhookConfig) -> list[v.Issue]:
    """Refuse destinations that cannot send without a callback URL when none is public."""
    if webhook.public_url is not None:
        return []
    issues = []
    for spec in wanted:
        own = kind(spec.kind)
        needed = own.callbacks_needed(spec) if isinstance(own, NeedsCallbacks) else None
        if needed is not None:
            key, why = needed
            hint = (
                'set [webhook] listen = "127.0.0.1:8080" and public_url = "https://..." '
                f"(proxied to listen) and run the daemon, or remove {key}"
            )
            where = f"destinations.{spec.name}.{key}"
            issues.append(v.Issue(f"needs [webhook] public_url: {why}", hint, where))
    return issues


def _conflicts(wanted: Iterable[DestinationConfig]) -> list[v.Issue]:
    """Return the issues of destinations whose keys do not fit together, as opening finds them."""
    issues = []
    for spec in wanted:
        own = kind(spec.kind)
        for key, message, hint in own.conflicts(spec) if isinstance(own, ChecksKeys) else ():
            issues.append(v.Issue(message, hint, f"destinations.{spec.name}.{key}"))
    return issues


def _media(
    raw: Mapping[str, object], ctx: v.Context, report: _Report, webhook: WebhookConfig
) -> MediaConfig:
    """Check ``[media]``: converted images are served by the listener, so it needs one."""
    table = k.read_table(raw, k.MEDIA_KEYS, ctx)
    report.add(table.issues, prefix="media.")
    if "public_url" in table.values and webhook.listen is None:
        hint = 'set [webhook] listen = "127.0.0.1:8080" and proxy public_url to it'
        what = "needs [webhook] listen, which serves the converted images"
        issue = v.Issue(what, hint, "public_url")
        report.add([issue], prefix="media.")
    values = {name: table.values.get(name, key.default) for name, key in k.MEDIA_KEYS.items()}
    return MediaConfig(**values)


def _defaults(raw: Mapping[str, object], ctx: v.Context, report: _Report) -> Levels:
    """Check ``[defaults]`` and return what every feed inherits."""
    table = k.read_table(raw, k.DEFAULT_KEYS, ctx)
    levels = Levels(table.values, k.BUILT_IN, frozenset(table.bad))
    report.add(
        [*table.issues, *run_checks(levels, [(SCHEDULE_KEYS, check_schedule)])], prefix="defaults."
    )
    schedule = schedule_of(levels)
    resolved = {
        "interval": schedule.interval,
        "cron": schedule.cron,
        "jitter": schedule.jitter,
        "timezone": schedule.timezone,
    }
    return Levels({}, {**k.BUILT_IN, **table.values, **resolved}, levels.bad)


def _feeds(
    tables: list[tuple[int, dict[str, Any]]], defaults: Levels, ctx: v.Context, report: _Report
) -> list[tuple[str, Levels]]:
    """Check every ``[[feeds]]`` table; return each feed's label and levels."""
    feeds: list[tuple[str, Levels]] = []
    first_use: dict[str, int] = {}
    inherited: dict[Check | None, list[v.Issue]] = {}
    for index, raw in tables:
        own = _plain_feed(raw, ctx)
        found: list[v.Issue] = []
        bad = defaults.bad
        if own is None:
            table = k.read_table(raw, k.FEED_KEYS, ctx)
            own, found = table.values, table.issues
            bad = frozenset(table.bad) | defaults.bad if table.bad else defaults.bad
        label = own.get("name") or f"feeds[{index}]"
        levels = Levels(own, defaults.inherited, bad)
        issues = check_feed(levels, defaults, inherited)
        if found or issues:
            report.add([*found, *issues], feed=label)
        if label in first_use:
            hint = "feed names must be unique: poster keeps each feed's state under its name"
            message = f"is already used by feeds[{first_use[label]}]"
            report.add([v.Issue(message, hint, "name")], feed=label)
        first_use.setdefault(label, index)
        feeds.append((label, levels))
    return feeds


def _plain_feed(raw: dict[str, Any], ctx: v.Context) -> dict[str, Any] | None:
    """Return the values of a ``[[feeds]]`` table of only a sound name and url, else None.

    Such a table, most of them, needs no reading key by key.
    """
    if raw.keys() != _NAME_URL:
        return None
    try:
        return {
            "name": _NAME_KEY.convert(raw["name"], ctx),
            "url": _URL_KEY.convert(raw["url"], ctx),
        }
    except v.Invalid:
        return None  # the general reading words and locates the problem


def _check_default_template(feeds: list[tuple[str, Levels]], folder: Path | None) -> list[v.Issue]:
    """Require ``default.j2`` when a feed names no template and has no ``<type>.j2``."""
    if folder is None or (folder / "default.j2").is_file():
        return []
    typed = {kind for kind in k.TYPES if (folder / f"{kind}.j2").is_file()}
    needing = [label for label, levels in feeds if _needs_default_template(levels, typed)]
    if not needing:
        return []
    names = ", ".join(needing)
    message = f"default.j2 is missing from {str(folder)!r}; these feeds name no template: {names}"
    hint = 'add default.j2, or set template = "..." on those feeds or in [defaults]'
    return [v.Issue(message, hint, "templates")]


def _needs_default_template(levels: Levels, typed: set[str]) -> bool:
    """Tell whether a feed falls back to ``default.j2``, given the types that have a template."""
    kind = levels.get("type")
    if "template" in levels.bad or levels.get("template") or kind in k.FIXED_KEYS:
        return False
    return kind == "auto" or kind not in typed


def _build_all(feeds: list[tuple[str, Levels]], defaults: Levels) -> tuple[FeedConfig, ...]:
    """Assemble every checked feed's ``FeedConfig``, looking up what they inherit once."""
    inherited = {name: defaults.inherited.get(name) for name in _PLAIN_FIELDS}
    schedule = schedule_of(defaults)
    # What a feed that sets only its name and url takes: the fields of one that sets nothing.
    common = feed_config(_plain(Levels({}, defaults.inherited), inherited, schedule))
    return tuple(
        feed_config_with(common, levels.own)
        if levels.own.keys() == _NAME_URL
        else feed_config(_plain(levels, inherited, schedule))
        for _, levels in feeds
    )


def _plain(levels: Levels, inherited: Mapping[str, Any], schedule: Schedule) -> dict[str, Any]:
    """Return a checked feed's fields over the plain values and schedule inherited."""
    own = {name: value for name, value in levels.own.items() if name in _PLAIN_SET}
    plain = {**inherited, **own}
    if not levels.own.keys().isdisjoint(SCHEDULE_KEYS):
        schedule = schedule_of(levels)
    fixed_key = k.FIXED_KEYS.get(plain["type"])
    plain["fixed"] = levels.get(fixed_key) if fixed_key else None
    plain["schedule"] = schedule
    return plain
