"""Check ``[destinations.NAME]`` sections and each feed's ``to``; each kind declares its keys.

Without any ``[destinations.*]`` a kind's shorthand section stands for one destination named as
the section; the two together are refused, since it would be unclear which one is meant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from poster.config import feedkeys as k
from poster.config import names as checks
from poster.config import values as v
from poster.config.settings import DestinationConfig
from poster.destinations import KINDS, kind


def destinations(
    raw: Mapping[str, object], shorthand: tuple[str, str] | None, ctx: v.Context
) -> tuple[list[DestinationConfig], list[v.Issue]]:
    """Return the checked destinations of ``[destinations]`` and the issues found.

    ``shorthand`` is the shorthand section the file also has, if any, and its kind.
    """
    if raw and shorthand:
        short, chosen = shorthand
        hint = (
            f'move the [{short}] keys into a [destinations.{short}] section with kind = "{chosen}"'
        )
        return [], [v.Issue(f"cannot be combined with [{short}]", hint, "destinations")]
    found: list[DestinationConfig] = []
    issues: list[v.Issue] = []
    owners: dict[str, str] = {}
    for name, section in raw.items():
        where = f"destinations.{name}."
        spec, problems = _destination(name, section, ctx)
        issues += [v.Issue(i.message, i.hint, where + i.sub) for i in problems]
        if spec is None:
            continue
        found.append(spec)
        # The token variable, credential and state folder are named from the name's letters:
        # two names that differ only in case, "-" or "." would share them, and one channel
        # would get every post twice.
        other = owners.setdefault(spec.token_env, name)
        if other != name:
            message = f"shares its token variable {spec.token_env} with destination {other!r}"
            hint = "rename one: names must differ in more than case, '-' and '.'"
            issues.append(v.Issue(message, hint, f"destinations.{name}"))
    return found, issues


def _destination(
    name: str, section: object, ctx: v.Context
) -> tuple[DestinationConfig | None, list[v.Issue]]:
    """Check one ``[destinations.NAME]`` section with the keys its kind declares."""
    if not isinstance(section, dict):
        return None, [v.Issue(f"expected a table, got {v.type_name(section)}", None, "")]
    try:
        checks.names([name], ctx)
    except v.Invalid as exc:
        return None, list(exc.issues)
    chosen = section.get("kind")
    if not isinstance(chosen, str) or chosen not in KINDS:
        hint = v.did_you_mean(str(chosen), KINDS, "known kinds") if chosen else None
        message = "is required" if chosen is None else f"{chosen!r} is not a kind of destination"
        return None, [v.Issue(message, hint or 'set kind = "viber"', "kind")]
    own = kind(chosen)
    table = k.read_table(section, {**k.COMMON_DESTINATION_KEYS, **own.keys}, ctx)
    if table.issues:
        return None, table.issues
    values: dict[str, Any] = {
        key: table.values.get(key, spec.default) for key, spec in own.keys.items()
    }
    common = {
        key: table.values.get(key, spec.default) for key, spec in k.COMMON_DESTINATION_KEYS.items()
    }
    gate, issues = k.gate(common)
    if issues:
        return None, issues
    settings = own.settings({**values, **common})
    spec = DestinationConfig(
        name, chosen, common["min_gap"], common["max_per_pass"], settings, gate
    )
    return spec, []


def check_routes(to: Sequence[str] | None, known: Sequence[str]) -> list[v.Issue]:
    """Refuse a feed's ``to`` naming a destination that is not configured."""
    if to is None:
        return []
    return [
        v.Issue(
            f"{name!r} is not a configured destination",
            v.did_you_mean(name, known, "destinations"),
            "to",
        )
        for name in to
        if name not in known
    ]
