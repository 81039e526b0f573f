"""Declare every key of ``feeds.toml`` once: its default, and the check that converts it."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import time, timedelta
from typing import TYPE_CHECKING, Any

from poster.config import names as checks
from poster.config import values as v
from poster.config.settings import Gate
from poster.destinations import fixed_limit
from poster.frozen import fields

if TYPE_CHECKING:
    from poster.config.parts import JsonMapping, QuietHours, Rule
    from poster.fixed import Contact, Location, Sticker

TYPES = ("auto", "text", "picture", "video", "file", "url", "location", "contact", "sticker")
FALLBACKS = ("text", "url")
FORMATS = ("auto", "xml", "jsonfeed", "json")
ITEM_KEYS = ("guid", "id", "link", "title")
FIXED_KEYS = {"location": "location", "contact": "contact", "sticker": "sticker_id"}
"""Which key holds the fixed message of each fixed-message type."""
QUIET_HINT = 'write the window as "HH:MM-HH:MM" in 24-hour time, such as "23:00-07:00"'
# As text: re compiles it on first use, and only a destination with quiet hours has one.
_WINDOW = r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*"


class Key:
    """One key of a table: its default, its check, and the hint shown when it is missing.

    ``feed_only`` keys may not appear in ``[defaults]``; ``hidden`` keys exist only to be refused
    with a clear message, so they are never suggested.
    """

    __slots__ = ("convert", "default", "feed_only", "hidden", "required")

    def __init__(
        self,
        default: object,
        convert: v.Convert,
        required: str | None = None,
        feed_only: bool = False,
        hidden: bool = False,
    ) -> None:
        self.default = default
        self.convert = convert
        self.required = required
        self.feed_only = feed_only
        self.hidden = hidden


class Table:
    """What ``read_table`` found: converted values, the keys that failed, and the issues."""

    __slots__ = ("bad", "issues", "values")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.bad: set[str] = set()
        self.issues: list[v.Issue] = []


def read_table(raw: Mapping[str, object], keys: Mapping[str, Key], ctx: v.Context) -> Table:
    """Convert every known key of ``raw``; report unknown, missing and invalid keys."""
    table = Table()
    for name, value in raw.items():
        spec = keys.get(name)
        if spec is None:
            known = (key for key, spec in keys.items() if not spec.hidden)
            table.issues.append(v.Issue("unknown key", v.did_you_mean(name, known), name))
            continue
        try:
            table.values[name] = spec.convert(value, ctx)
        except v.Invalid as exc:
            table.issues += [v.Issue(i.message, i.hint, name + i.sub) for i in exc.issues]
            table.bad.add(name)
    required = _REQUIRED.get(id(keys))
    if required is None:
        required = _required(keys)
    for name, hint in required:
        if name not in raw:
            table.issues.append(v.Issue("is required", hint, name))
            table.bad.add(name)
    return table


def _required(keys: Mapping[str, Key]) -> tuple[tuple[str, str], ...]:
    """Return each required key of ``keys`` with the hint shown when it is missing."""
    return tuple((name, spec.required) for name, spec in keys.items() if spec.required)


def nested(keys: Mapping[str, Key], what: str) -> v.Convert:
    """Return a check for a sub-table with its own keys, returning the converted values."""

    def convert(value: object, ctx: v.Context) -> dict[str, Any]:
        table = read_table(v.need(value, dict, what), keys, ctx)
        if table.issues:
            raise v.Invalid(*(v.Issue(i.message, i.hint, "." + i.sub) for i in table.issues))
        return table.values

    return convert


def _json_mapping(value: object, ctx: v.Context) -> JsonMapping:
    """Check a ``[feeds.json]`` table of dotted paths."""
    check, record = _json_table()
    return record(**check(value, ctx))


@functools.cache
def _json_table() -> tuple[v.Convert, type[JsonMapping]]:
    """Return the check of a ``[feeds.json]`` table and its record, made on first use."""
    # Here: only a feed of format = "json" has the table, so only it makes the record's class.
    from poster.config.parts import JsonMapping

    keys = {
        f.name: Key(None, checks.dotted_path(allow_empty=False))
        for f in fields(JsonMapping)
        if f.name != "items"
    }
    items = Key(None, checks.dotted_path(allow_empty=True), 'e.g. items = "data.posts"')
    return nested({"items": items} | keys, "a table of dotted paths"), JsonMapping


def _coordinate(limit: float) -> v.Convert:
    """Return a check for a latitude or longitude within ``±limit`` degrees."""

    def convert(value: object, _ctx: v.Context) -> float:
        degrees = v.number(value, "a number of degrees")
        if abs(degrees) > limit:
            raise v.fail(f"{degrees:g} is outside -{limit:g}..{limit:g}")
        return degrees

    return convert


def _bounded_text(key: str) -> v.Convert:
    """Return a check for a non-empty string within the limit the kinds put on ``key``."""

    def convert(value: object, ctx: v.Context) -> str:
        result = v.text(value, ctx)
        limit = fixed_limit(key)
        if limit is None:
            return result
        from poster.text import utf16_units  # here: only a fixed message's text is counted

        counted = utf16_units(result)  # as the API counts text
        if counted > limit.most:
            note = " (an emoji counts two)" if counted != len(result) else ""
            raise v.fail(f"is {counted} characters{note}; {limit.by} takes at most {limit.most}")
        return result

    return convert


def _interval(value: object, _ctx: v.Context) -> timedelta:
    """Check a feed's interval: a duration of a tenth of a second or more."""
    found = v.to_duration(value, positive=True)
    if found < MIN_INTERVAL:
        raise v.fail(
            "must be at least 0.1 s",
            'a feed read more often only floods its server and the log: "30s", "15m"',
        )
    return found


MIN_INTERVAL = timedelta(seconds=0.1)


def _crontab(value: object, ctx: v.Context) -> str:
    """Check a ``cron`` expression (see ``feedvalues.crontab``)."""
    from poster.config.feedvalues import crontab  # here: most feeds are read at an interval

    return crontab(value, ctx)


def _headers(value: object, ctx: v.Context) -> tuple[tuple[str, str], ...]:
    """Check a feed's ``headers`` (see ``feedvalues.headers``)."""
    from poster.config.feedvalues import headers  # here: most feeds send no headers of their own

    return headers(value, ctx)


def _rules(value: object, ctx: v.Context) -> tuple[Rule, ...]:
    """Check an ``include`` or ``exclude`` list of rules (see ``itemrules.rules``)."""
    from poster.config.itemrules import rules  # here: most feeds filter no item

    return rules(value, ctx)


def _location(value: object, ctx: v.Context) -> Location:
    """Check a ``location = { lat, lon }`` table into a fixed location message."""
    from poster.fixed import Location  # here: most feeds post no fixed message

    return Location(**_LOCATION_TABLE(value, ctx))


def _contact(value: object, ctx: v.Context) -> Contact:
    """Check a ``contact = { name, phone_number }`` table into a fixed contact message."""
    from poster.fixed import Contact  # here: most feeds post no fixed message

    return Contact(**_CONTACT_TABLE(value, ctx))


def gate(values: Mapping[str, Any]) -> tuple[Gate, list[v.Issue]]:
    """Return the gate of a destination's checked keys; refuse keys that need another."""
    found = Gate(**{name: values.get(name) for name in GATE_KEYS})
    hint = 'set quiet = "23:00-07:00" or max_per_day = 20, or remove it'
    issues = [
        v.Issue("only applies with quiet or max_per_day", hint, name)
        for name in ("timezone", "max_wait")
        if values.get(name) is not None and not found.active
    ]
    return found, issues


def _sticker(value: object, ctx: v.Context) -> Sticker:
    """Check a positive sticker id into a fixed sticker message."""
    from poster.fixed import Sticker  # here: most feeds post no fixed message

    return Sticker(v.positive_int(value, ctx))


TIMEZONE_HINT = 'an IANA time zone name such as "Europe/Minsk" or "UTC"'


def _timezone(value: object, _ctx: v.Context) -> str:
    """Check an IANA time zone name that zoneinfo knows."""
    # Here: zoneinfo reads the system's zone list, which only a feed with a time zone needs.
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    name = v.need(value, str, "a time zone name")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = v.close_match(name, available_timezones())
        hint = f'did you mean "{close}"?' if close is not None else TIMEZONE_HINT
        raise v.fail(f"unknown time zone {name!r}", hint) from None
    return name


def parse_quiet(text: str) -> QuietHours:
    """Read ``"HH:MM-HH:MM"``; raise ``ValueError`` saying what is wrong."""
    from poster.config.parts import QuietHours  # here: most destinations have no quiet hours

    match = re.fullmatch(_WINDOW, text)
    if match is None:
        raise ValueError(f"{text!r} is not a window of hours")
    numbers = [int(part) for part in match.groups()]
    for hour, minute in (numbers[:2], numbers[2:]):
        if hour > 23 or minute > 59:
            raise ValueError(f"{hour:02d}:{minute:02d} is not a time of day (00:00 to 23:59)")
    window = QuietHours(time(numbers[0], numbers[1]), time(numbers[2], numbers[3]))
    if window.start == window.end:
        raise ValueError(f"{text!r} starts and ends at the same time")
    return window


def _quiet(value: object, _ctx: v.Context) -> QuietHours:
    """Check a daily window of quiet hours such as ``"23:00-07:00"``."""
    text = v.need(value, str, 'a window such as "23:00-07:00"')
    try:
        return parse_quiet(text)
    except ValueError as exc:
        raise v.fail(str(exc), QUIET_HINT) from None


def _feed_only(_value: object, _ctx: v.Context) -> None:
    """Refuse a per-feed key in ``[defaults]``."""
    raise v.fail("cannot be set in [defaults]", "set it in each [[feeds]] table")


def _feed_tables(value: object, _ctx: v.Context) -> list[tuple[int, dict[str, Any]]]:
    """Check ``[[feeds]]``: an array of tables, each kept with its index."""
    if isinstance(value, dict):
        hint = "write each feed as [[feeds]], with double brackets"
        raise v.fail("expected an array of tables, got a table", hint)
    entries = v.need(value, list, "an array of tables ([[feeds]])")
    if all(type(entry) is dict for entry in entries):
        return list(enumerate(entries))
    tables = ((f"[{i}]", (i, entry)) for i, entry in enumerate(entries))
    return v.each(tables, _indexed_table)


def _indexed_table(pair: object) -> tuple[int, dict[str, Any]]:
    """Check one ``[[feeds]]`` entry is a table."""
    index, entry = v.need(pair, tuple, "a feed")
    return index, v.need(entry, dict, "a table")


_LOCATION_TABLE = nested(
    {
        "lat": Key(None, _coordinate(90), "latitude in degrees, -90..90"),
        "lon": Key(None, _coordinate(180), "longitude in degrees, -180..180"),
    },
    "a table { lat = ..., lon = ... }",
)
_CONTACT_TABLE = nested(
    {
        "name": Key(None, _bounded_text("contact.name"), "the name shown on the card"),
        "phone_number": Key(None, _bounded_text("contact.phone_number"), "e.g. +375291234567"),
    },
    "a table { name = ..., phone_number = ... }",
)

SECTION = Key({}, lambda value, _ctx: v.need(value, dict, "a table"))
"""A top-level table whose own keys are checked on their own."""
TOP_KEYS: dict[str, Key] = {
    "templates": Key("templates", v.path_value),
    "webhook": SECTION,
    "daemon": SECTION,
    "media": SECTION,
    "defaults": SECTION,
    "destinations": Key({}, lambda value, _ctx: v.need(value, dict, "a table of tables")),
    "feeds": Key([], _feed_tables),
}
GATE_KEYS: dict[str, Key] = {
    "quiet": Key(None, _quiet),
    "timezone": Key(None, _timezone),
    "max_per_day": Key(None, v.positive_int),
    "max_wait": Key(None, v.duration(positive=True)),
}
"""When a destination may post: quiet hours and a daily cap in its zone, and how long to wait."""
COMMON_DESTINATION_KEYS: dict[str, Key] = {
    "kind": Key(None, v.text, 'name its kind: kind = "viber"'),
    "min_gap": Key(timedelta(seconds=10), v.duration(positive=False)),
    "max_per_pass": Key(10, v.positive_int),
    **GATE_KEYS,
}
"""The keys of every ``[destinations.NAME]`` section; each kind declares the rest."""
SHORTHAND_KEYS: dict[str, Key] = {
    name: key for name, key in COMMON_DESTINATION_KEYS.items() if name != "kind"
}
"""The common keys of a shorthand section, which is named after its kind; the kind adds its own."""
DAEMON_KEYS: dict[str, Key] = {
    "max_fetches": Key(4, v.positive_int),
    "disable_after": Key(10, v.positive_int),
    "backoff_max": Key(timedelta(hours=6), v.duration(positive=True)),
    "reprobe": Key(timedelta(hours=6), v.duration(positive=True)),
    "retention": Key(timedelta(days=90), v.duration(positive=True)),
    "push_poll": Key(timedelta(hours=1), v.duration(positive=True)),
    "hints_max": Key(timedelta(hours=24), v.duration(positive=True)),
}
WEBHOOK_KEYS: dict[str, Key] = {
    "listen": Key(None, v.listen_address),
    "path": Key("/viber/webhook", v.webhook_path),
    "public_url": Key(None, v.http_url),
}
MEDIA_KEYS: dict[str, Key] = {
    "public_url": Key(None, v.http_url),
    "max_store": Key(200_000_000, v.size),
    "retention": Key(timedelta(days=30), v.duration(positive=True)),
}
FEED_KEYS: dict[str, Key] = {
    "name": Key(None, checks.feed_name, 'give the feed a unique name = "..."', feed_only=True),
    "url": Key(None, v.feed_url, "an https:// URL, a file: URL or a local path", feed_only=True),
    "key": Key(None, checks.dotted_path(allow_empty=False)),
    "format": Key("auto", v.choice(*FORMATS)),
    "json": Key(None, _json_mapping, feed_only=True),
    "location": Key(None, _location, feed_only=True),
    "contact": Key(None, _contact, feed_only=True),
    "sticker_id": Key(None, _sticker, feed_only=True),
    "enabled": Key(True, v.boolean),
    "interval": Key(timedelta(minutes=15), _interval),
    "cron": Key(None, _crontab),
    "jitter": Key(timedelta(0), v.duration(positive=False)),
    "timezone": Key(None, _timezone),
    "template": Key(None, checks.template_name),
    "type": Key("auto", v.choice(*TYPES)),
    "fallback": Key("text", v.choice(*FALLBACKS)),
    "include": Key((), _rules),
    "exclude": Key((), _rules),
    "headers": Key((), _headers),
    "timeout": Key(20.0, v.seconds),
    "max_bytes": Key(10 * 1024 * 1024, v.size_up_to(1024**3)),
    "max_redirects": Key(5, v.positive_int),
    "deadline": Key(None, v.seconds),
    "allow_private": Key(False, v.boolean),
    "backlog": Key(0, v.backlog),
    "uncertain": Key("hold", v.choice("hold", "resend")),
    "hints": Key(True, v.boolean),
    "to": Key(None, checks.names),
}
DEFAULT_KEYS: dict[str, Key] = {
    name: Key(None, _feed_only, hidden=True) if spec.feed_only else spec
    for name, spec in FEED_KEYS.items()
}
BUILT_IN: dict[str, Any] = {name: spec.default for name, spec in FEED_KEYS.items()}
"""The value of every per-feed key that neither the feed nor ``[defaults]`` sets."""
_REQUIRED = {id(keys): _required(keys) for keys in (TOP_KEYS, FEED_KEYS, DEFAULT_KEYS)}
"""The required keys of the tables read most often (each feed's), found once: the tables live
as long as the module, so their ids stay theirs."""
