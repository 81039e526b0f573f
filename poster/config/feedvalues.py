"""Check the feed keys that reach past poster: a cron schedule, and headers sent with a read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache

from poster.config.values import Context, each, fail, need

CRON_HINT = 'five fields: minute hour day-of-month month day-of-week, e.g. "*/10 7-22 * * *"'


def crontab(value: object, _ctx: Context) -> str:
    """Check a 5-field crontab expression the scheduler accepts, and return it normalised."""
    return _checked_crontab(" ".join(need(value, str, "a string").split()))


# Many feeds share a few expressions, and the answer depends on the expression alone, so each
# distinct one is checked once; a refused one raises again every time and is not kept.
@lru_cache(maxsize=256)
def _checked_crontab(expression: str) -> str:
    """Check a normalised crontab expression; return it unchanged."""
    # Imported here, not at the top: the cron trigger pulls in the scheduler, its time zone
    # support and asyncio, a cost only a config that uses cron should pay.
    from apscheduler.triggers.cron import CronTrigger

    try:
        trigger = CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as exc:
        raise fail(f"bad cron expression {expression!r}: {exc}", CRON_HINT) from None
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        raise fail(
            f"cron expression {expression!r} never fires",
            "no date has that day in that month (30 feb, 31 apr); check the day and month",
        )
    # APScheduler 3 counts weekday 0 as Monday where crontab counts it as Sunday (its
    # from_crontab docs), so a number would silently fire on the wrong day; names cannot.
    weekday = re.sub(r"/\d+", "", expression.split()[4])
    if any(char.isdigit() for char in weekday):
        raise fail(
            f"day-of-week {expression.split()[4]!r} uses numbers",
            "write weekdays as names (mon-fri, sat,sun): numbers are ambiguous here",
        )
    return expression


# RFC 9110 §5.6.2: a field name is a token of these characters.
# As text: re compiles them on first use, and only a feed with headers has any.
_HEADER_NAME = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_VARIABLE = r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}"


def headers(value: object, ctx: Context) -> tuple[tuple[str, str], ...]:
    """Check a table of HTTP headers and expand ``${VAR}`` in the values from the environment."""
    table = need(value, dict, "a table of header names to strings")
    entries = ((f".{name}", (name, raw)) for name, raw in table.items())
    return tuple(each(entries, lambda pair: _header(pair, ctx.environ)))


def _header(pair: object, environ: Mapping[str, str]) -> tuple[str, str]:
    """Check one header; messages never include the value, which may be a secret."""
    name, raw = need(pair, tuple, "a header")
    if not re.fullmatch(_HEADER_NAME, name):
        raise fail(f"{name!r} is not a valid header name", "use letters, digits and - only")
    template = need(raw, str, "a string")
    missing = sorted({var for var in re.findall(_VARIABLE, template) if var not in environ})
    if missing:
        raise fail(
            f"environment variable {', '.join(missing)} is not set",
            "set it in poster's environment (under systemd: Environment= or EnvironmentFile=)",
        )
    result = re.sub(_VARIABLE, lambda m: environ[m.group(1)], template)
    if any(char in result for char in "\r\n\0"):
        raise fail("the value contains a line break or NUL", "header values must be one line")
    try:
        result.encode("utf-8")
    except UnicodeEncodeError:
        # An environment value that is not UTF-8 reaches Python as lone surrogates.
        raise fail(
            "the value holds bytes that are not UTF-8 text",
            "set the environment variable to UTF-8 text (a token is usually ASCII)",
        ) from None
    return name, result
