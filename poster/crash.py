"""Keep the traceback of an unexpected error where an operator can find it, not on the screen."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback

from poster import redaction
from poster.eventlog import logger
from poster.logs import under_journald

log = logger(__name__)


def report_bug(exc: BaseException) -> str:
    """Record the traceback of ``exc`` and return the one line to show the person."""
    summary = redaction.redact(f"{type(exc).__name__}: {exc}".splitlines()[0])
    if under_journald(os.environ, sys.stderr):
        log.error("event=bug error=%s", summary, exc_info=exc)
        where = "the journal (journalctl -u poster)"
    else:
        log.debug("event=bug", exc_info=exc)
        where = _write_traceback(exc)
    return f"unexpected error, a bug in poster: {summary}; the details are in {where}"


def _write_traceback(exc: BaseException) -> str:
    """Write the redacted traceback to a new file in the temporary folder; return its path."""
    text = redaction.redact("".join(traceback.format_exception(exc)))
    try:
        fd, path = tempfile.mkstemp(prefix="poster-bug-", suffix=".txt", text=True)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError:
        return "the debug log (run again with --log-level debug)"
    return path
