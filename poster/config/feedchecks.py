"""Check what spans a feed's keys (schedule, JSON mapping, item key, fixed message).

Each check runs over a feed's ``Levels``: what it sets over what it inherits from ``[defaults]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from poster.config import feedkeys as k
from poster.config import values as v
from poster.config.settings import Schedule

WHEN_KEYS = frozenset({"interval", "cron"})
SCHEDULE_KEYS = WHEN_KEYS | {"jitter", "timezone"}


class Levels:
    """One feed's own values over what it inherits, and the keys known to be broken."""

    __slots__ = ("bad", "inherited", "own")

    def __init__(
        self,
        own: Mapping[str, Any],
        inherited: Mapping[str, Any],
        bad: frozenset[str] = frozenset(),
    ) -> None:
        self.own = own
        self.inherited = inherited
        self.bad = bad

    def get(self, name: str) -> Any:
        """Return the value in effect for ``name``: the feed's own, else the inherited one."""
        return self.own[name] if name in self.own else self.inherited.get(name)


Check = Callable[[Levels], list[v.Issue]]


def run_checks(levels: Levels, checks: Iterable[tuple[frozenset[str], Check]]) -> list[v.Issue]:
    """Run the checks that span keys, skipping those that involve a key already reported."""
    return [
        issue for keys, check in checks if levels.bad.isdisjoint(keys) for issue in check(levels)
    ]


def check_feed(
    levels: Levels, defaults: Levels, inherited: dict[Check | None, list[v.Issue]]
) -> list[v.Issue]:
    """Run ``_CHECKS`` on a feed; one that reads no key the feed sets runs once, on defaults.

    A check reads only its keys, so on a feed that sets none of them it finds what it finds
    in ``[defaults]``: ``inherited`` keeps that for every such feed, and under None what all
    of them find.
    """
    if levels.own.keys().isdisjoint(_CHECKED) and levels.bad.isdisjoint(_CHECKED):
        # Most feeds set only keys no check reads, such as name and url: every check then
        # finds what it finds in [defaults], for all of them alike.
        if None not in inherited:
            inherited[None] = [
                issue for _, check in _CHECKS for issue in _inherited(check, defaults, inherited)
            ]
        return inherited[None]
    issues: list[v.Issue] = []
    for keys, check in _CHECKS:
        if not levels.bad.isdisjoint(keys):
            continue
        if levels.own.keys().isdisjoint(keys):
            issues += _inherited(check, defaults, inherited)
        else:
            issues += check(levels)
    return issues


def _inherited(
    check: Check, defaults: Levels, inherited: dict[Check | None, list[v.Issue]]
) -> list[v.Issue]:
    """Return what ``check`` finds in ``[defaults]``, running it only the first time."""
    if check not in inherited:
        inherited[check] = check(defaults)
    return inherited[check]


def schedule_of(levels: Levels) -> Schedule:
    """Return the schedule in effect; a level that sets interval or cron replaces both."""
    source = levels.inherited if levels.own.keys().isdisjoint(WHEN_KEYS) else levels.own
    cron = source.get("cron")
    interval = None if cron else source.get("interval", k.BUILT_IN["interval"])
    return Schedule(
        interval=interval, cron=cron, jitter=levels.get("jitter"), timezone=levels.get("timezone")
    )


def check_schedule(levels: Levels) -> list[v.Issue]:
    """Refuse interval with cron on one level, and jitter longer than the interval."""
    if levels.own.keys().isdisjoint(SCHEDULE_KEYS):
        return []
    issues = []
    if "interval" in levels.own and "cron" in levels.own:
        hint = "keep one: interval polls every so often, cron at set times"
        issues.append(v.Issue("cannot be combined with interval on the same level", hint, "cron"))
    schedule = schedule_of(levels)
    if schedule.interval and schedule.jitter > schedule.interval:
        jitter, interval = schedule.jitter.total_seconds(), schedule.interval.total_seconds()
        message = f"{jitter:g}s is longer than the interval ({interval:g}s)"
        issues.append(v.Issue(message, "make jitter at most the interval", "jitter"))
    return issues


def _check_json(levels: Levels) -> list[v.Issue]:
    """Tie the ``[feeds.json]`` mapping to ``format = "json"`` both ways."""
    fmt, mapping = levels.get("format"), levels.get("json")
    if mapping is not None and fmt != "json":
        hint = 'set format = "json", or remove the [feeds.json] table'
        return [v.Issue(f'only applies to format = "json" (format is "{fmt}")', hint, "json")]
    if fmt == "json" and mapping is None:
        hint = 'add [feeds.json] with items = "path.to.list" ("" when the document is the list)'
        return [v.Issue('is required with format = "json"', hint, "json.items")]
    return []


def _check_key(levels: Levels) -> list[v.Issue]:
    """Allow a dotted item key only for mapped JSON."""
    key = levels.get("key")
    if key is None or levels.get("format") == "json" or key in k.ITEM_KEYS:
        return []
    hint = 'dotted JSON paths are for format = "json"'
    return [v.Issue(f"{key!r} is not one of {', '.join(k.ITEM_KEYS)}", hint, "key")]


_FIXED_HINTS = {
    "location": "add location = { lat = 53.9, lon = 27.56 }",
    "contact": 'add contact = { name = "Help desk", phone_number = "+375291234567" }',
    "sticker_id": "add sticker_id = 46105",
}


def _check_fixed(levels: Levels) -> list[v.Issue]:
    """Require the fixed message of a fixed type, and refuse one that the type does not use."""
    kind = levels.get("type")
    needed = k.FIXED_KEYS.get(kind)
    issues = [
        v.Issue(f'is only used with type = "{other}"', f'set type = "{other}" or remove it', key)
        for other, key in k.FIXED_KEYS.items()
        if key in levels.own and key != needed
    ]
    if needed and levels.get(needed) is None:
        message = f'is required with type = "{kind}"'
        issues.append(v.Issue(message, _FIXED_HINTS[needed], needed))
    return issues


_CHECKS: tuple[tuple[frozenset[str], Check], ...] = (
    (SCHEDULE_KEYS, check_schedule),
    (frozenset({"format", "json"}), _check_json),
    (frozenset({"format", "key"}), _check_key),
    (frozenset({"type", *k.FIXED_KEYS.values()}), _check_fixed),
)
_CHECKED = frozenset().union(*(keys for keys, _ in _CHECKS))
"""Every key some check that spans keys reads."""
