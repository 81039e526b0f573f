"""Write one ``key=value`` line per log event, to a terminal or to journald.

On a terminal each line starts with a UTC timestamp and the level name. Under journald the
journal adds its own timestamp, so a line starts with a syslog priority prefix instead (``<6>``,
sd-daemon(3)), which journald turns into the entry's PRIORITY field. A traceback follows its event
as indented continuation lines that carry the same prefix, so ``journalctl -p`` keeps them together.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import IO

LEVELS = ("debug", "info", "warning", "error")
NOISY_LOGGERS = ("httpx", "httpcore", "apscheduler")


def kv(**fields: object) -> str:
    """Return ``fields`` as space-separated ``key=value`` pairs, quoting values that need it."""
    return " ".join(f"{key}={_value(value)}" for key, value in fields.items())


def _value(value: object) -> str:
    """Return ``value`` as text, double-quoted and escaped when it would break the line apart."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if text and not any(ch in '="' or ch.isspace() or not ch.isprintable() for ch in text):
        return text
    # JSON string syntax escapes quotes, backslashes and control characters, as logfmt does.
    return json.dumps(text, ensure_ascii=False)


def priority(levelno: int) -> int:
    """Return the syslog priority (sd-daemon(3) SD_CRIT … SD_DEBUG) for a logging level."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


class EventFormatter(logging.Formatter):
    """Format a record as one event line, for a terminal or for journald."""

    def __init__(self, journald: bool) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        """Return the event line, then any traceback as indented continuation lines."""
        lines = record.getMessage().splitlines() or [""]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for extra in (record.exc_text, record.stack_info):
            if extra:
                lines.extend(extra.splitlines())
        if self.journald:
            prefix = f"<{priority(record.levelno)}>"
            head = prefix
        else:
            prefix = ""
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
            head = f"{stamp} {record.levelname} "
        return "\n".join([head + lines[0], *(f"{prefix}  {line}" for line in lines[1:])])


class EventHandler(logging.StreamHandler[IO[str]]):
    """Mark the one handler that setup_logging owns on the root logger."""


def setup_logging(
    level: str = "info",
    *,
    environ: Mapping[str, str] | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Send log events at ``level`` or above to ``stream`` (stderr), replacing an earlier setup."""
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}")
    numeric = getattr(logging, level.upper())
    out = sys.stderr if stream is None else stream
    env = os.environ if environ is None else environ
    handler = EventHandler(out)
    handler.setFormatter(EventFormatter(journald=under_journald(env, out)))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, EventHandler)]:
        # Keep filters added to the old handler, such as the token redaction.
        for kept in old.filters:
            handler.addFilter(kept)
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    quiet = logging.NOTSET if numeric <= logging.DEBUG else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    scheduler = logging.getLogger("apscheduler.scheduler")
    for old_filter in [f for f in scheduler.filters if isinstance(f, SkippedRunFilter)]:
        scheduler.removeFilter(old_filter)
    scheduler.addFilter(SkippedRunFilter())


def under_journald(environ: Mapping[str, str], stream: IO[str]) -> bool:
    """Return whether ``stream`` is the journal stream that systemd named in $JOURNAL_STREAM."""
    value = environ.get("JOURNAL_STREAM", "")
    if not value:
        return False
    # systemd.exec(5): compare "device:inode" with the stream's own, since a child process
    # may inherit the variable while writing elsewhere. Without a file descriptor to check,
    # the variable's presence is the best evidence there is.
    try:
        device, inode = (int(part) for part in value.split(":"))
        info = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return True
    return (info.st_dev, info.st_ino) == (device, inode)


class SkippedRunFilter(logging.Filter):
    """Let through one "skipped: maximum number of running instances" line per job a minute.

    APScheduler warns at every tick at which a job's last run has not ended: a feed whose reads
    take longer than its interval would write a line each time, ten a second at the shortest
    interval.
    """

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._every = every
        self._clock = clock
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """Tell whether ``record`` is logged: always, unless it repeats a skip within a minute."""
        if "maximum number of running instances" not in str(record.msg):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        job = str(getattr(args[0], "id", args[0])) if args else ""
        now, last = self._clock(), self._last.get(job)
        if last is not None and now - last < self._every:
            return False
        self._last[job] = now
        return True
