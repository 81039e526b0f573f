"""Test that the command line reads its words without loading the library it does not need."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path

import pytest
from feedserver import FeedServer

from poster import cli
from poster.cli import COMMAND_MODULES, build_parser, parse
from poster.cli.common import (
    SANDBOX_PORT,
    SANDBOX_TOKEN,
    STUDIO_LATEST,
    command_named,
    outline_parser,
)
from poster.destinations.viber.sandbox.rerender import LATEST
from poster.destinations.viber.sandbox.server import DEFAULT_CLI_PORT
from poster.destinations.viber.sandbox.session import SANDBOX_TOKEN as SESSION_TOKEN
from poster.store import Store

ROOT = Path(__file__).resolve().parents[1]

COMMAND_LINES = [
    ["status"],
    ["-c", "a.toml", "status", "--json"],
    ["--config=a.toml", "--log-level", "debug", "status"],
    ["--conf", "run", "check"],
    ["--state", "s", "--log", "info", "run", "--once", "--feed", "news"],
    ["-ca.toml", "preview", "--limit", "3", "--json"],
    ["webhook", "set", "https://example.org/hook"],
    ["-c", "x.toml", "webhook", "remove"],
    ["feed", "disable", "news"],
    ["retry", "news", "key-1"],
    ["recipients", "uncertain", "sms"],
    ["sandbox", "--port", "0", "--token", "t", "--token", "u"],
    ["studio", "--feed", "a", "--limit", "2"],
    ["account", "-c", "b.toml"],
]


@pytest.mark.parametrize("words", COMMAND_LINES, ids=" ".join)
def test_building_only_the_named_command_parses_as_the_full_parser_does(words: list[str]) -> None:
    assert parse(words) == build_parser().parse_args(words)


def test_help_with_no_command_built_reads_as_the_full_parsers() -> None:
    assert build_parser("").format_help() == build_parser().format_help()


@pytest.mark.parametrize(
    "words",
    [
        ["-h", "status"],
        ["--he", "status"],
        ["--log-level", "bad", "status"],
        ["-c", "", "status"],
        ["status", "extra"],
        ["feed", "bogus"],
        ["--version", "status"],
    ],
    ids=" ".join,
)
def test_help_and_errors_around_a_named_command_are_the_full_parsers(
    words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as ours:
        parse(words)
    said = capsys.readouterr()
    with pytest.raises(SystemExit) as full:
        build_parser().parse_args(words)
    assert (ours.value.code, said) == (full.value.code, capsys.readouterr())


def test_each_command_is_added_by_the_module_named_for_it_in_help_order() -> None:
    added: dict[str, str] = {}

    class Recorder:
        def __init__(self, module: str) -> None:
            self.module = module

        def add_parser(self, name: str, **_kwargs: object) -> object:
            added[name] = self.module
            return outline_parser()

    for module in dict.fromkeys(COMMAND_MODULES.values()):
        import_module(f"poster.cli.{module}").add_commands(Recorder(module))
    assert list(added.items()) == list(COMMAND_MODULES.items())


@pytest.mark.parametrize(
    ("words", "named"),
    [
        ([], ""),
        (["--help"], ""),
        (["status"], "status"),
        (["-c", "status", "check"], "check"),
        (["--config", "status", "check"], "check"),
        (["--config=status", "check"], "check"),
        (["--co", "run", "status"], "status"),
        (["-cstatus", "check"], "check"),
        (["--log-level", "info", "--state-dir", "run", "status"], "status"),
        (["--version"], ""),
        (["--", "status"], ""),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_the_command_is_found_past_the_options_and_their_values(
    words: list[str], named: str
) -> None:
    assert command_named(words) == named


def test_a_wrong_guess_still_parses_with_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "command_named", lambda _words: "check")
    assert parse(["status", "--json"]) == build_parser().parse_args(["status", "--json"])


HEAVY = ("httpx", "jinja2", "apscheduler", "tinydb", "feedparser", "tomllib", "poster.config")


def _loaded_after(
    code: str, heavy: tuple[str, ...] = HEAVY, env: dict[str, str] | None = None
) -> list[str]:
    """Run ``code`` in a fresh interpreter and return the ``heavy`` modules it loaded."""
    probe = (
        "import sys\nfrom poster.cli import main\n"
        f"try:\n    {code}\nexcept SystemExit:\n    pass\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith({heavy!r}))\n"
        "print('loaded:', *loaded, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    return done.stderr.splitlines()[-1].split()[1:]


@pytest.mark.parametrize(
    "words",
    [["--help"], ["status", "--help"], ["run", "--bogus"], ["--version"]],
    ids=" ".join,
)
def test_help_and_usage_errors_load_none_of_the_library(words: list[str]) -> None:
    assert _loaded_after(f"main({words!r})") == []


def test_help_loads_neither_typing_nor_threading() -> None:
    # Bare Python loads none of them; each costs --help a few milliseconds.
    unused = ("typing", "threading", "dataclasses", "inspect", "shutil")
    assert _loaded_after("main(['--help'])", unused) == []


def test_a_pass_to_the_channel_loads_no_sandbox_and_no_scheduler(tmp_path: Path) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text(
        f'templates = "{ROOT / "templates"}"\n[viber]\napi_url = "http://127.0.0.1:9/pa"\n'
        '[[feeds]]\nname = "off"\nurl = "http://127.0.0.1:9/feed.xml"\nenabled = false\n',
        encoding="utf-8",
    )
    words = _one_pass(config, tmp_path)
    env = _with_token()
    unused = ("poster.destinations.viber.sandbox", "poster.sandbox", "apscheduler", "asyncio")
    assert _loaded_after(f"main({words!r})", unused, env) == []


# What a pass that posts nothing never uses: the channel's message classes, receipts, account
# and webhook answers, the daemon's timing, the preview's words for what became of items, and the
# items themselves: their records, their selection and the sample item `check` renders.
UNUSED_BY_A_QUIET_PASS = (
    *("poster.destinations.viber.messages", "poster.destinations.viber.answers"),
    "poster.destinations.receipts",
    *("poster.daemon.schedule", "zoneinfo", "poster.ops.preview", "poster.store.memoryledger"),
    *("poster.items", "poster.select", "poster.render.sample"),
)

UNUSED_BY_AN_XML_PASS = (
    *("poster.parse.jsonfeed", "poster.parse.mapped", "poster.config.parts", "poster.fixed"),
    "decimal",  # only a location message's coordinates need it
)


def test_a_pass_where_no_feed_changed_loads_no_parser_and_no_media_code(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.keep_alive = True
    body = (ROOT / "tests" / "data" / "feeds" / "rss20_media.xml").read_bytes()
    feed_server.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, body)
    words = _one_pass(_one_feed(tmp_path, feed_server.url("/feed.xml")), tmp_path)
    env = _with_token()
    assert "poster.parse" in _loaded_after(f"main({words!r})", ("poster.parse",), env)
    unused = ("poster.parse", "poster.media", "feedparser", *UNUSED_BY_A_QUIET_PASS)
    assert _loaded_after(f"main({words!r})", unused, env) == []
    assert feed_server.requests[-1].headers.get("if-none-match")


def test_a_pass_posting_from_an_xml_feed_loads_no_json_reader_and_no_fixed_message(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    body = (ROOT / "tests" / "data" / "feeds" / "rss20_media.xml").read_bytes()
    feed_server.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, body)
    words = _one_pass(_one_feed(tmp_path, feed_server.url("/feed.xml")), tmp_path)
    env = _with_token()
    _loaded_after(f"main({words!r})", (), env)  # the first read holds the items back
    new = b"    <item><title>New</title><guid>tag:example.com,2024:new</guid></item>\n    <item>"
    changed = body.replace(b"    <item>", new, 1)
    feed_server.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, changed)
    composed = ("poster.destinations.viber.compose",)
    loaded = _loaded_after(f"main({words!r})", (*composed, *UNUSED_BY_AN_XML_PASS), env)
    assert loaded == list(composed)


def test_the_sandbox_defaults_in_help_are_the_sandboxs_own() -> None:
    assert (SANDBOX_PORT, SANDBOX_TOKEN, STUDIO_LATEST) == (DEFAULT_CLI_PORT, SESSION_TOKEN, LATEST)


HEAVY_FOR_STATUS = ("httpx", "jinja2", "apscheduler", "feedparser", "poster.pipeline.stages")
OTHER_COMMANDS = tuple(f"poster.cli.{name}" for name in set(COMMAND_MODULES.values()) - {"operate"})
UNUSED_BY_STATUS = (
    *("hashlib", "secrets", "tzlocal", "html.parser", "poster.store.recipient"),
    *("poster.destinations.viber.messages", "difflib", "zoneinfo", "shutil", "poster.push.plan"),
    *("poster.items", "poster.reads", "poster.select", "poster.ops.inbox", "poster.secrets"),
    *("logging", "traceback", "dataclasses", "inspect", "threading", "poster.pipeline.gatekeeper"),
    *("poster.store.prune", "poster.store.tracked", "poster.push.describe"),
    *("poster.config.feedvalues", "poster.config.itemrules", "fcntl", "pwd"),
    "poster.push.subscriptions",
    *("tinydb", "poster.store.journaldb"),
)
UNUSED_BY_CHECK = (
    *("httpx", "tinydb", "apscheduler", "feedparser", "poster.store.store"),
    *("poster.destinations.viber.messages", "poster.reads", "html.parser", "poster.store"),
)


@pytest.mark.parametrize(
    ("command", "unused"),
    [
        (
            ["status"],
            (*HEAVY_FOR_STATUS, *UNUSED_BY_STATUS, *OTHER_COMMANDS),
        ),
        (["check"], (*UNUSED_BY_CHECK, "difflib", "zoneinfo")),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else "",
)
def test_status_and_check_load_only_what_they_use(
    tmp_path: Path, command: list[str], unused: tuple[str, ...]
) -> None:
    config = _one_feed(tmp_path)
    words = ["-c", str(config), "--state-dir", str(tmp_path / "state"), *command]
    env = _with_token()
    assert _loaded_after(f"main({words!r})", unused, env) == []


def test_status_on_a_state_with_records_of_every_kind_loads_no_tinydb(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store(state) as store:
        store.mark_seen("news", ["old-1", "old-2"])
        store.record_fetches_ok(["news"], datetime.now(UTC))
        store.record_pending("news", "item-1", "viber")
        store.record_failed("news", "item-1", "viber", "refused")
        store.set_meta("sender viber", "someone")
    words = ["-c", str(_one_feed(tmp_path)), "--state-dir", str(state), "status"]
    assert _loaded_after(f"main({words!r})", ("tinydb",), _with_token()) == []


@pytest.mark.parametrize("command", ["status", "check"])
def test_a_command_on_an_unchanged_config_parses_no_toml(tmp_path: Path, command: str) -> None:
    config = _one_feed(tmp_path)
    words = ["-c", str(config), "--state-dir", str(tmp_path / "state"), command]
    env = _with_token()
    env |= {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert "tomllib" in _loaded_after(f"main({words!r})", ("tomllib",), env)
    assert _loaded_after(f"main({words!r})", ("tomllib",), env) == []
    config.write_text(config.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert "tomllib" in _loaded_after(f"main({words!r})", ("tomllib",), env)


@pytest.mark.parametrize("columns", ["50", "120"])
def test_help_is_as_wide_as_argparse_makes_it(
    monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    parser = build_parser()
    plain = argparse.ArgumentParser(
        prog="poster", description=parser.description, parents=[parser], add_help=False
    )
    assert parser.format_help() == plain.format_help()


def test_commands_load_no_shutil(tmp_path: Path) -> None:
    words = ["-c", str(tmp_path / "none.toml"), "status"]
    assert _loaded_after(f"main({words!r})", ("shutil",)) == []
    assert _loaded_after("main(['status', '--help'])", ("shutil",)) == []


def _one_feed(folder: Path, url: str = "http://127.0.0.1:9/feed.xml") -> Path:
    """Write a feeds.toml of one feed at ``url`` (never read, by default) into ``folder``."""
    config = folder / "feeds.toml"
    config.write_text(
        f'templates = "{ROOT / "templates"}"\n[viber]\napi_url = "http://127.0.0.1:9/pa"\n'
        f'[[feeds]]\nname = "news"\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return config


def _one_pass(config: Path, folder: Path) -> list[str]:
    """Return the words of one pass over ``config`` with its state in ``folder``."""
    return ["-c", str(config), "run", "--once", "--state-dir", str(folder / "state")]


def _with_token() -> dict[str, str]:
    """Return this process's environment with a channel token set."""
    return {**os.environ, "POSTER_VIBER_TOKEN": "a-token-for-the-test"}


def _classes_made(words: list[str], env: dict[str, str]) -> set[str]:
    """Run poster with ``words`` in a fresh interpreter; return the records and dataclasses it
    made."""
    probe = (
        "import dataclasses, sys\nimport poster.frozen\nmade = []\n"
        "process, freeze = dataclasses._process_class, poster.frozen.frozen\n"
        "def note(cls, *args):\n"
        "    made.append(f'{cls.__module__}.{cls.__qualname__}')\n"
        "    return process(cls, *args)\n"
        "def noted(cls):\n"
        "    made.append(f'{cls.__module__}.{cls.__qualname__}')\n"
        "    return freeze(cls)\n"
        "dataclasses._process_class, poster.frozen.frozen = note, noted\n"
        "from poster.cli import main\n"
        f"try:\n    main({words!r})\nexcept SystemExit:\n    pass\n"
        "print('made:', *made, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    return set(done.stderr.splitlines()[-1].split()[1:])


# Each dataclass costs about a millisecond to make; these are records the commands never build,
# named without their module so that moving one back where it is made at once still fails.
NOT_MADE_BY_STATUS = {
    *("Receipt", "Opening", "Sender", "TokenSource", "Validators", "Location", "Rule"),
    *("QuietHours", "Delivery", "Recall", "ConfigProblem", "JsonMapping", "Hold", "Waiting"),
    *("Lock", "Subscription", "Holder", "Change"),
}
NOT_MADE_BY_CHECK = {
    *("Validators", "Location", "Contact", "Sticker", "Rule", "QuietHours", "JsonMapping"),
    *("Receipt", "Opening", "Sender", "Account", "NextPoll", "Change"),
}


@pytest.mark.parametrize(
    ("command", "unused"),
    [("status", NOT_MADE_BY_STATUS), ("check", NOT_MADE_BY_CHECK)],
)
def test_status_and_check_make_no_record_class_they_never_build(
    tmp_path: Path, command: str, unused: set[str]
) -> None:
    words = ["-c", str(_one_feed(tmp_path)), "--state-dir", str(tmp_path / "state"), command]
    made = _classes_made(words, _with_token())
    assert "poster.config.settings.Config" in made
    assert {name.rpartition(".")[2] for name in made}.isdisjoint(unused)


def test_status_loads_logging_for_its_first_event_and_logs_it_as_every_command_does(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with Store(state) as store:
        store.record_pending("news", "item-1", "viber")
    (state / "poster.journal").unlink()
    words = ["-c", str(_one_feed(tmp_path)), "--state-dir", str(state), "status"]
    probe = f"from poster.cli import main\nmain({words!r})"
    done = _run_python(probe)
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ WARNING state=journal-missing ", done.stderr)


@pytest.mark.parametrize(("command", "last_line"), [("status", "All good."), ("check", None)])
def test_status_and_check_run_without_the_cyclic_collector_and_lose_no_output(
    tmp_path: Path, command: str, last_line: str | None
) -> None:
    state = tmp_path / "state"
    with Store(state) as store:
        store.record_fetches_ok(["news"], datetime.now(UTC))
    words = ["-c", str(_one_feed(tmp_path)), "--state-dir", str(state), command]
    probe = (
        "import atexit, gc, sys\nfrom poster.cli import main\n"
        "atexit.register(lambda: print('frozen:', gc.get_freeze_count() > 0, gc.isenabled(),"
        " file=sys.stderr))\n"
        f"sys.argv = ['poster', *{words!r}]\nraise SystemExit(main())"
    )
    done = _run_python(probe)
    assert done.returncode == 0
    assert done.stderr.splitlines()[-1] == "frozen: True False"
    lines = done.stdout.splitlines()
    assert lines[-1] == last_line if last_line else "OK, 1 feed " in lines[0]
    # Called with its words, as by tests and other code, main leaves the collector alone.
    leaves = "import gc\nfrom poster.cli import main\nmain({!r})\n"
    leaves += "assert gc.get_freeze_count() == 0 and gc.isenabled()"
    assert _run_python(leaves.format(words)).returncode == 0


def test_a_single_pass_starts_without_the_collector_and_runs_the_pass_with_it(
    tmp_path: Path,
) -> None:
    words = ["-c", str(_one_feed(tmp_path)), "--state-dir", str(tmp_path / "state")]
    words += ["run", "--once"]
    probe = (
        "import atexit, gc, sys\nimport poster.cli.channel as channel\n"
        "from poster.cli import main\n"
        "def note():\n    seen.append((gc.isenabled(), gc.get_freeze_count() > 0))\n"
        "    opened()\n    seen.append((gc.isenabled(), gc.get_freeze_count()))\n"
        "seen, opened = [], channel.collect_from_here\nchannel.collect_from_here = note\n"
        "atexit.register(lambda: print('seen:', seen[0], seen[1][0], gc.isenabled(),"
        " gc.get_freeze_count() > seen[1][1], file=sys.stderr))\n"
        f"sys.argv = ['poster', *{words!r}]\nraise SystemExit(main())"
    )
    done = _run_python(probe)
    # The feed cannot be read: the pass runs, reports it, and ends as a failed pass does.
    assert done.returncode == 1
    assert "news: " in done.stdout
    # Off until the state was open, on for the pass, and everything frozen at the end.
    assert done.stderr.splitlines()[-1] == "seen: (False, False) True True True"
    # Called with its words, as by tests and other code, main leaves the collector alone.
    leaves = "import gc\nfrom poster.cli import main\nmain({!r})\n"
    leaves += "assert gc.get_freeze_count() == 0 and gc.isenabled()"
    assert _run_python(leaves.format(words)).returncode == 0


def test_status_on_a_compacted_state_makes_no_change_record(tmp_path: Path) -> None:
    with Store(tmp_path / "state") as store:
        store.record_pending("news", "item-1", "viber")
        store.compact()
    words = ["-c", str(_one_feed(tmp_path)), "--state-dir", str(tmp_path / "state"), "status"]
    made = _classes_made(words, _with_token())
    assert "poster.store.documents.DeliveryRecord" in made
    assert "Change" not in {name.rpartition(".")[2] for name in made}


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter from the project's folder, with a channel token set."""
    env = _with_token()
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )
