"""Test the event line format, journald priorities, idempotent setup, kv quoting and redaction."""

from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from poster import redaction
from poster.logs import (
    NOISY_LOGGERS,
    EventFormatter,
    EventHandler,
    SkippedRunFilter,
    kv,
    setup_logging,
    under_journald,
)
from poster.redaction import RedactingFilter, install_redaction

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
JOURNALD = {"JOURNAL_STREAM": "8:12345"}
NOON = 1795694400.25  # 2026-11-26T12:00:00.25Z
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def record(level: int, msg: str, created: float = NOON) -> logging.LogRecord:
    """Return a log record as a module logger would make it."""
    return logging.makeLogRecord(
        {"name": "poster.pipeline", "levelno": level, "levelname": logging.getLevelName(level)}
        | {"msg": msg, "created": created}
    )


def setup(level: str = "info", environ: dict[str, str] | None = None) -> io.StringIO:
    """Run setup_logging into a fresh string stream and return the stream."""
    stream = io.StringIO()
    setup_logging(level, environ={} if environ is None else environ, stream=stream)
    return stream


# --- the line format --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "name", "prio"),
    [
        (logging.DEBUG, "DEBUG", 7),
        (logging.INFO, "INFO", 6),
        (logging.WARNING, "WARNING", 4),
        (logging.ERROR, "ERROR", 3),
        (logging.CRITICAL, "CRITICAL", 2),
    ],
    ids=["debug", "info", "warning", "error", "critical"],
)
def test_level_becomes_a_name_or_a_syslog_priority(level: int, name: str, prio: int) -> None:
    event = record(level, "feed=news status=sent item=42")
    plain = EventFormatter(journald=False).format(event)
    journal = EventFormatter(journald=True).format(event)
    assert plain == f"2026-11-26T12:00:00Z {name} feed=news status=sent item=42"
    assert journal == f"<{prio}>feed=news status=sent item=42"


def test_terminal_line_has_utc_time_and_level_but_no_logger_name() -> None:
    stream = setup("info")
    logging.getLogger("poster.pipeline").info("feed=%s status=%s", "news", "sent")
    assert re.fullmatch(rf"{STAMP} INFO feed=news status=sent\n", stream.getvalue())


def test_journald_line_has_priority_and_no_time() -> None:
    stream = setup("info", JOURNALD)
    logging.getLogger("poster.pipeline").warning("feed=news status=error error=timeout")
    assert stream.getvalue() == "<4>feed=news status=error error=timeout\n"


def test_traceback_follows_as_continuation_lines_with_the_same_priority() -> None:
    stream = setup("info", JOURNALD)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("poster.daemon").exception("event=crashed")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "<3>event=crashed"
    assert lines[1] == "<3>  Traceback (most recent call last):"
    assert lines[-1] == "<3>  RuntimeError: boom"
    assert all(line.startswith("<3>  ") for line in lines[1:])


def test_multi_line_message_stays_indented_on_a_terminal() -> None:
    line = EventFormatter(journald=False).format(record(logging.ERROR, "event=config\n  - bad"))
    assert line == "2026-11-26T12:00:00Z ERROR event=config\n    - bad"


# --- journald detection -----------------------------------------------------------------------


def journal_stream_of(path: Path) -> str:
    """Return the $JOURNAL_STREAM value that names the file at ``path``."""
    info = os.stat(path)
    return f"{info.st_dev}:{info.st_ino}"


def test_journal_stream_matching_the_stream_means_journald(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    other = tmp_path / "elsewhere"
    other.touch()
    with path.open("w") as stream:
        assert under_journald({"JOURNAL_STREAM": journal_stream_of(path)}, stream)
        assert not under_journald({"JOURNAL_STREAM": journal_stream_of(other)}, stream)
        assert not under_journald({}, stream)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"JOURNAL_STREAM": ""}, False),
        (JOURNALD, True),
        ({"JOURNAL_STREAM": "x"}, True),
    ],
    ids=["unset", "empty", "set", "garbled"],
)
def test_without_a_file_descriptor_presence_decides(
    environ: dict[str, str], expected: bool
) -> None:
    assert under_journald(environ, io.StringIO()) is expected


# --- setup ------------------------------------------------------------------------------------


def test_setup_twice_keeps_one_handler_and_writes_once() -> None:
    first = setup("info")
    second = setup("info", JOURNALD)
    logging.getLogger("poster.pipeline").info("feed=news status=sent")
    ours = [h for h in logging.getLogger().handlers if isinstance(h, EventHandler)]
    assert len(ours) == 1
    assert first.getvalue() == ""
    assert second.getvalue() == "<6>feed=news status=sent\n"


@pytest.mark.parametrize(
    ("level", "written"),
    [
        ("debug", ["<7>d", "<6>i", "<4>w", "<3>e"]),
        ("info", ["<6>i", "<4>w", "<3>e"]),
        ("WARNING", ["<4>w", "<3>e"]),
        ("error", ["<3>e"]),
    ],
    ids=["debug", "info", "warning-upper-case", "error"],
)
def test_level_filters_events(level: str, written: list[str]) -> None:
    stream = setup(level, JOURNALD)
    logger = logging.getLogger("poster.pipeline")
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    logger.error("e")
    assert stream.getvalue().splitlines() == written


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level 'loud'; use one of debug, info"):
        setup_logging("loud", environ={}, stream=io.StringIO())


@pytest.mark.parametrize("name", NOISY_LOGGERS)
def test_noisy_libraries_are_quiet_unless_debugging(name: str) -> None:
    stream = setup("info", JOURNALD)
    logging.getLogger(f"{name}.inner").info("chatter")
    logging.getLogger(f"{name}.inner").warning("trouble")
    assert stream.getvalue() == "<4>trouble\n"

    stream = setup("debug", JOURNALD)
    logging.getLogger(f"{name}.inner").debug("chatter")
    assert stream.getvalue() == "<7>chatter\n"


# --- redaction --------------------------------------------------------------------------------


def test_redaction_installed_after_setup_covers_our_handler(clean_redaction: None) -> None:
    stream = setup("info", JOURNALD)
    install_redaction(TOKEN)
    logging.getLogger("poster.destinations.viber.api").info("event=auth token=%s", TOKEN)
    assert stream.getvalue() == "<6>event=auth token=***\n"
    [handler] = [h for h in logging.getLogger().handlers if isinstance(h, EventHandler)]
    assert redaction._FILTER in handler.filters


def test_redaction_survives_a_second_setup(clean_redaction: None) -> None:
    setup("info")
    install_redaction(TOKEN)
    stream = setup("debug", JOURNALD)
    [handler] = [h for h in logging.getLogger().handlers if isinstance(h, EventHandler)]
    assert redaction._FILTER in handler.filters
    try:
        raise ValueError(f"bad header {TOKEN}")
    except ValueError:
        logging.getLogger("poster.destinations.viber.api").exception("event=post url=/%s", TOKEN)
    assert TOKEN not in stream.getvalue()
    assert stream.getvalue().startswith("<3>event=post url=/***\n")
    assert stream.getvalue().endswith("<3>  ValueError: bad header ***\n")


# --- kv ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"feed": "news", "status": "sent"}, "feed=news status=sent"),
        ({"error": "HTTP 503 from https://x"}, 'error="HTTP 503 from https://x"'),
        ({"url": "https://x/?a=b"}, 'url="https://x/?a=b"'),
        ({"title": 'say "hi"'}, 'title="say \\"hi\\""'),
        ({"title": "a\nb\tc"}, 'title="a\\nb\\tc"'),
        ({"title": "Новини дня"}, 'title="Новини дня"'),
        ({"title": "Новини"}, "title=Новини"),
        ({"path": "C:\\x"}, "path=C:\\x"),
        ({"path": "C:\\x y"}, 'path="C:\\\\x y"'),
        ({"note": ""}, 'note=""'),
        (
            {"items": 3, "ratio": 0.5, "ok": True, "retry": None},
            "items=3 ratio=0.5 ok=true retry=None",
        ),
        ({}, ""),
    ],
    ids=[
        "plain",
        "spaces",
        "equals",
        "quotes",
        "control-characters",
        "cyrillic-with-space",
        "cyrillic",
        "backslash-alone",
        "backslash-quoted",
        "empty",
        "non-strings",
        "nothing",
    ],
)
def test_kv_quotes_only_what_would_break_the_line(fields: dict[str, object], expected: str) -> None:
    assert kv(**fields) == expected


def test_kv_output_parses_back_with_shell_like_rules() -> None:
    import shlex

    line = kv(feed="news", error="HTTP 503 from https://x", url="https://x/?a=b")
    pairs = dict(part.split("=", 1) for part in shlex.split(line))
    assert pairs == {"feed": "news", "error": "HTTP 503 from https://x", "url": "https://x/?a=b"}


def test_a_secret_in_a_query_string_is_redacted_as_encoded_there(clean_redaction: None) -> None:
    stream = setup("info", JOURNALD)
    key = "eyJpdiI6Ij/s+OFlFcXBmOUZE=="
    install_redaction(key)
    log = logging.getLogger("poster.destinations.smsby.api")
    log.info("GET https://app.sms.by/api/v1/statusBulkViber?token=%s&uuid=1", quote(key, safe=""))
    log.info("GET https://app.sms.by/?token=%s", quote_plus(key))
    assert stream.getvalue() == (
        "<6>GET https://app.sms.by/api/v1/statusBulkViber?token=***&uuid=1\n"
        "<6>GET https://app.sms.by/?token=***\n"
    )


class _Job:
    """What APScheduler passes for a job: its text changes with its next run, its id does not."""

    def __init__(self, job_id: str, runs: int) -> None:
        self.id = job_id
        self.runs = runs

    def __str__(self) -> str:
        return f"{self.id} (next run in {self.runs} s)"


def test_a_job_skipped_at_every_tick_is_told_once_a_minute() -> None:
    stream = io.StringIO()
    setup_logging("info", environ={}, stream=stream)
    scheduler = logging.getLogger("apscheduler.scheduler")
    now = [0.0]
    [installed] = [f for f in scheduler.filters if isinstance(f, SkippedRunFilter)]
    scheduler.removeFilter(installed)
    scheduler.addFilter(SkippedRunFilter(clock=lambda: now[0]))
    skipped = 'Execution of job "%s" skipped: maximum number of running instances reached (%d)'
    for tick in range(600):  # a minute at a tenth of a second, two feeds
        now[0] = tick / 10
        scheduler.warning(skipped, _Job("news", tick), 1)
        scheduler.warning(skipped, _Job("blog", tick), 1)
    scheduler.warning("Run time of job was missed")
    now[0] = 60.0
    scheduler.warning(skipped, _Job("news", 600), 1)
    lines = stream.getvalue().splitlines()
    assert [line.split('"')[1].split()[0] for line in lines if "skipped" in line] == [
        "news", "blog", "news"
    ]  # fmt: skip
    assert sum("was missed" in line for line in lines) == 1
    setup_logging("info", environ={}, stream=io.StringIO())
    assert sum(isinstance(f, SkippedRunFilter) for f in scheduler.filters) == 1


@pytest.mark.parametrize("secret", ["Key-9fZq2Lw7xPe4", "bar123"], ids=["long", "short"])
def test_a_secret_echoed_in_another_case_is_masked(secret: str) -> None:
    mask = RedactingFilter([secret])
    assert mask.redact(f"error: {secret.upper()} and {secret.lower()}") == "error: *** and ***"
