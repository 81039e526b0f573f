"""Test loading and validating feeds.toml."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import regex

from poster.config import (
    Config,
    FeedConfig,
    JsonMapping,
    Rule,
    Schedule,
    ViberConfig,
    load_config,
    parse_duration,
)
from poster.config.itemrules import compile_rule
from poster.errors import ConfigError, ConfigProblem
from poster.models import Contact as ContactMessage
from poster.models import Location as LocationMessage
from poster.models import Sticker as StickerMessage

DATA = Path(__file__).parent / "data" / "config"
GOOD = DATA / "good"
BROKEN = DATA / "broken"
ENV = {"NEWS_API_KEY": "k-123"}


def problems_of(path: Path | str, environ: dict[str, str] | None = None) -> list[ConfigProblem]:
    """Load a config that must fail and return its problems."""
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENV if environ is None else environ)
    return caught.value.problems


def keyword(word: str) -> regex.Pattern[str]:
    """Compile a keyword rule the way the loader must."""
    return regex.compile(rf"(?<!\w){re.escape(word)}(?!\w)", regex.IGNORECASE)


# fixture, feed, key, fragments (split on "|") that str(problem), message and hint, must contain
BROKEN_CASES = [
    ("unknown-top-key", None, "template", 'did you mean "templates"'),
    ("unknown-feed-key", "a", "intervall", 'did you mean "interval"'),
    (
        "unknown-viber-key",
        None,
        "viber.sender",
        "known keys: api_url, from, max_per_day, max_per_pass, max_wait, min_gap, quiet,"
        " timezone, token_file)",
    ),
    ("unknown-json-key", "a", "json.titel", 'did you mean "title"'),
    ("backlog-negative", "news", "backlog", 'expected 0 or more, or "all"'),
    ("webhook-listen", None, "webhook.listen", "is not host:port|127.0.0.1:8080"),
    ("webhook-path", None, "webhook.path", "is not an absolute path"),
    (
        "webhook-path-websub",
        None,
        "webhook.path",
        "is under /websub/, where the listener takes the calls of WebSub hubs|/viber/webhook",
    ),
    ("webhook-path-space", None, "webhook.path", "holds a space, '?' or '#'"),
    ("webhook-path-healthz", None, "webhook.path", "is the listener's own page (healthz)"),
    ("viber-max-per-pass", None, "viber.max_per_pass", "must be a positive integer"),
    ("wrong-type-bool", "a", "enabled", "expected a boolean (true or false), got a string"),
    ("wrong-type-int", "a", "max_redirects", "expected an integer, got a float"),
    ("duplicate-name", "a", "name", "already used by feeds[0]"),
    ("missing-name", "feeds[0]", "name", "is required"),
    ("missing-url", "a", "url", "is required"),
    ("no-feeds", None, "feeds", "no feeds are configured"),
    ("feeds-not-array", None, "feeds", "[[feeds]], with double brackets"),
    ("feed-not-table", None, "feeds[0]", "expected a table, got a string"),
    ("bad-name", "feeds[0]", "name", "'-a' is not a valid feed name"),
    ("templates-dir-missing", None, "templates", "no-such-folder' does not exist"),
    ("templates-wrong-type", None, "templates", "expected a string, got an integer"),
    ("template-missing", "a", "template", 'not in \'/|did you mean "news.j2"'),
    ("template-outside", "a", "template", "not a file name inside the templates folder"),
    ("default-template-missing", None, "templates", "default.j2 is missing"),
    ("bad-duration", "a", "interval", "'15 minutes' is not a duration"),
    ("zero-interval", "a", "interval", "must be longer than zero"),
    ("negative-interval", "a", "interval", "-5 is not a duration"),
    ("interval-and-cron", "a", "cron", "cannot be combined with interval"),
    ("interval-and-cron-defaults", None, "defaults.cron", "cannot be combined with interval"),
    ("cron-out-of-range", "a", "cron", "higher than the maximum value (59)"),
    ("cron-field-count", "a", "cron", "Wrong number of fields; got 3"),
    ("cron-numeric-weekday", "a", "cron", "day-of-week '1-5' uses numbers"),
    ("jitter-over-interval", "a", "jitter", "120s is longer than the interval (60s)"),
    ("jitter-over-default-interval", None, "defaults.jitter", "longer than the interval (900s)"),
    ("bad-regex", "a", "include[1]", "bad regular expression: missing )"),
    ("regex-repeats-nested", "a", "include[1]", "spell out 1,000,000,000 steps, more than 100,000"),
    ("foreign-regex-flag", "a", "exclude[0]", "regex flag g is not supported"),
    ("upper-regex-flag", "a", "exclude[0]", "regex flags are lower case, not I|/council/i"),
    ("regex-empty-alternative", "a", "include[0]", "has an empty alternative (||"),
    ("rules-not-array", "a", "include", "expected an array of strings, got a string"),
    ("empty-rule", "a", "include[0]", "is an empty rule"),
    ("bad-type", "a", "type", "'photo' is not one of auto, text, picture"),
    ("bad-fallback", "a", "fallback", "'picture' is not one of text, url"),
    ("bad-format", "a", "format", "'rss' is not one of auto, xml, jsonfeed, json"),
    ("json-without-format", "a", "json", 'only applies to format = "json"'),
    ("json-format-without-mapping", "a", "json.items", 'is required with format = "json"'),
    ("json-mapping-without-items", "a", "json.items", "is required"),
    ("json-bad-path", "a", "json.items", "'data..posts' is not a dotted path"),
    ("bad-item-key", "a", "key", "'data.slug' is not one of guid, id, link, title"),
    ("location-missing", "a", "location", 'is required with type = "location"'),
    ("location-out-of-range", "a", "location.lat", "95 is outside -90..90"),
    ("location-nan", "a", "location.lat", "got nan, which is not a finite number"),
    ("location-not-table", "a", "location", "got a string"),
    ("contact-name-too-long", "a", "contact.name", "is 29 characters"),
    ("contact-phone-missing", "a", "contact.phone_number", "is required"),
    ("sticker-not-positive", "a", "sticker_id", "must be a positive integer, got 0"),
    ("fixed-without-type", "a", "sticker_id", 'only used with type = "sticker"'),
    ("url-scheme", "a", "url", "URL scheme 'ftp' is not supported"),
    ("url-path-missing", "a", "url", "broken/missing.xml' does not exist"),
    ("url-file-uri-missing", "a", "url", "'/nonexistent/poster/news.xml' does not exist"),
    ("url-directory", "a", "url", "broken/templates' is not a file"),
    ("url-no-host", "a", "url", "has no host name"),
    ("url-bad-ipv6", "a", "url", "'http://[::1/feed' is not a valid URL (Invalid IPv6 URL)"),
    ("header-bad-name", "a", "headers.X Api Key", "'X Api Key' is not a valid header name"),
    ("header-missing-variable", "a", "headers.Authorization", "POSTER_TEST_MISSING is not set"),
    ("header-value-type", "a", "headers.X-Retries", "expected a string, got an integer"),
    ("max-bytes-zero", "a", "max_bytes", "must be more than zero bytes"),
    ("max-bytes-unit", "a", "max_bytes", "'10 parsecs' is not a size"),
    ("timeout-zero", "a", "timeout", "must be longer than zero"),
    ("max-redirects-zero", "a", "max_redirects", "must be a positive integer, got 0"),
    ("defaults-feed-only-key", None, "defaults.url", "cannot be set in [defaults]"),
    ("defaults-not-table", None, "defaults", "expected a table, got an integer"),
    ("viber-token-literal", None, "viber.token", "POSTER_VIBER_TOKEN"),
    ("viber-api-url", None, "viber.api_url", "is not an http(s) URL"),
    ("viber-api-url-bad-port", None, "viber.api_url", "is not a valid URL (Port out of range"),
    ("viber-from-empty", None, "viber.from", "is empty"),
]


@pytest.mark.parametrize(
    ("fixture", "feed", "key", "fragment"), BROKEN_CASES, ids=[c[0] for c in BROKEN_CASES]
)
def test_broken_fixture_reports_exactly_its_problem(
    fixture: str, feed: str | None, key: str, fragment: str
) -> None:
    problems = problems_of(BROKEN / f"{fixture}.toml")

    assert [(p.feed, p.key) for p in problems] == [(feed, key)]
    assert all(part in str(problems[0]) for part in fragment.split("|"))
    assert problems[0].file == str(BROKEN / f"{fixture}.toml")


def test_every_broken_fixture_is_in_the_table() -> None:
    extra = {"many-problems", "syntax-error", "not-utf8"}
    on_disk = {p.stem for p in BROKEN.glob("*.toml")} - extra

    assert on_disk == {case[0] for case in BROKEN_CASES}


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as error:
        load_config(BROKEN / "many-problems.toml", environ={})

    assert [(p.feed, p.key) for p in error.value.problems] == [
        (None, "colour"),
        (None, "viber.token"),
        (None, "defaults.interval"),
        ("a", "url"),
        ("a", "include[0]"),
        ("a", "location"),
        ("feeds[1]", "cron"),
        ("feeds[1]", "name"),
        ("a", "headers.X Y"),
        ("a", "name"),
    ]
    assert str(error.value).startswith("10 problems in configuration:\n")


@pytest.mark.parametrize(
    "fixture", ["viber-token-literal", "many-problems"], ids=["alone", "among-others"]
)
def test_literal_token_is_refused_without_echoing_it(fixture: str) -> None:
    problems = problems_of(BROKEN / f"{fixture}.toml")
    error = ConfigError(problems)

    token = next(p for p in problems if p.key == "viber.token")
    assert "a literal token does not belong in feeds.toml" in token.message
    assert token.hint is not None and "token_file" in token.hint and "systemd" in token.hint
    for text in (str(error), repr(problems)):
        assert "s3cr3t" not in text
        assert "another-secret" not in text


def test_missing_header_variable_names_the_header_but_not_the_value() -> None:
    (problem,) = problems_of(BROKEN / "header-missing-variable.toml")

    assert problem.key == "headers.Authorization"
    assert "Bearer" not in str(problem)
    assert "do-not-echo" not in str(problem)


def test_full_config_round_trip() -> None:
    config = load_config(GOOD / "feeds.toml", environ=ENV)

    local = (GOOD / "local" / "news.xml").as_uri()
    defaults = {
        "schedule": Schedule(interval=timedelta(minutes=10), jitter=timedelta(seconds=30)),
        "exclude": (Rule("sponsored", keyword("sponsored")),),
        "headers": (("User-Agent", "poster-test"),),
        "timeout": 25.0,
        "max_bytes": 2 * 1024 * 1024,
        "max_redirects": 4,
    }
    assert config == Config(
        path=GOOD / "feeds.toml",
        templates_dir=GOOD / "templates",
        viber=ViberConfig(
            api_url="https://chatapi.viber.com/pa",
            sender="01234567890A=",
            token_file=GOOD / "secrets" / "viber-token",
        ),
        feeds=(
            FeedConfig(
                name="city-news",
                url=local,
                enabled=False,
                schedule=Schedule(
                    interval=timedelta(hours=1, minutes=30), jitter=timedelta(seconds=45)
                ),
                template="news.j2",
                type="picture",
                fallback="url",
                include=(
                    Rule("council", keyword("council")),
                    Rule("/road ?works/i", regex.compile("road ?works", regex.IGNORECASE)),
                ),
                exclude=(Rule("advert", keyword("advert")),),
                headers=(("X-Api-Key", "k-123"), ("Accept", "application/rss+xml")),
                key="link",
                format="xml",
                timeout=15.0,
                max_bytes=524288,
                max_redirects=2,
            ),
            FeedConfig(
                name="events-api",
                url="https://api.example.org/v1/events?city=minsk",
                key="meta.slug",
                format="json",
                json=JsonMapping(
                    items="data.events",
                    id="meta.slug",
                    title="headline",
                    link="url",
                    content="body_html",
                    text="body",
                    summary="lead",
                    image="cover.url",
                    published="date",
                    updated="modified",
                    author="author.name",
                    tags="tags",
                ),
                **{
                    **defaults,
                    "schedule": Schedule(
                        interval=None, cron="*/10 7-22 * * mon-fri", jitter=timedelta(seconds=30)
                    ),
                },
            ),
            FeedConfig(
                name="office-pin",
                url=local,
                type="location",
                fixed=LocationMessage(lat=53.9, lon=27.5667),
                **defaults,
            ),
            FeedConfig(
                name="help_desk",
                url=local,
                type="contact",
                fixed=ContactMessage(name="Help desk", phone_number="+375291234567"),
                **defaults,
            ),
            FeedConfig(
                name="hello.sticker",
                url="http://localhost:8080/feed",
                type="sticker",
                fixed=StickerMessage(sticker_id=46105),
                **defaults,
            ),
        ),
    )
    assert config.feed("help_desk") is config.feeds[3]


def test_a_feed_is_found_by_name_among_many() -> None:
    feeds = tuple(FeedConfig(name=f"feed-{i}", url=f"http://127.0.0.1/{i}") for i in range(500))
    twin = FeedConfig(name="feed-7", url="http://127.0.0.1/twin")
    config = Config(Path("feeds.toml"), Path("templates"), feeds=(*feeds, twin))

    assert [config.feed(f.name) for f in feeds] == list(feeds)
    assert config.feed("feed-7") is feeds[7]  # the first of a name, as written
    assert config.feed("feed-500") is None
    fewer = replace(config, feeds=feeds[:3])
    assert fewer.feed("feed-2") is feeds[2]
    assert fewer.feed("feed-3") is None
    assert config.feed("feed-3") is feeds[3]
    assert config == Config(Path("feeds.toml"), Path("templates"), feeds=(*feeds, twin))


def test_minimal_config_takes_the_record_defaults() -> None:
    config = load_config(GOOD / "minimal.toml", environ={})

    assert config.viber == ViberConfig()
    assert config.templates_dir == GOOD / "templates"
    assert config.feeds == (FeedConfig(name="only", url=(GOOD / "local" / "news.xml").as_uri()),)


def test_relative_paths_start_at_the_config_folder_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    given = os.path.relpath(GOOD / "feeds.toml", tmp_path)

    config = load_config(given, environ=ENV)

    assert not given.startswith("/")
    assert config.path == GOOD / "feeds.toml"
    assert config.templates_dir == GOOD / "templates"
    assert config.viber.token_file == GOOD / "secrets" / "viber-token"
    assert [f.url for f in config.feeds if f.url.startswith("file:")] == [
        (GOOD / "local" / "news.xml").as_uri()
    ] * 3


def test_problems_name_the_file_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    given = os.path.relpath(BROKEN / "url-path-missing.toml", tmp_path)

    (problem,) = problems_of(given)

    assert problem.file == given
    assert str(BROKEN / "missing.xml") in problem.message


@pytest.mark.parametrize(
    ("fixture", "schedules"),
    [
        (
            "precedence-interval",
            {
                "own-cron": Schedule(interval=None, cron="0 8 * * *", jitter=timedelta(minutes=1)),
                "inherits": Schedule(interval=timedelta(minutes=10), jitter=timedelta(minutes=1)),
                "own-interval": Schedule(
                    interval=timedelta(minutes=5), jitter=timedelta(minutes=1)
                ),
            },
        ),
        (
            "precedence-cron",
            {
                "own-interval": Schedule(interval=timedelta(hours=2)),
                "inherits": Schedule(interval=None, cron="*/30 * * * *"),
            },
        ),
    ],
    ids=["default-interval", "default-cron"],
)
def test_the_nearest_level_with_interval_or_cron_decides_the_schedule(
    fixture: str, schedules: dict[str, Schedule]
) -> None:
    config = load_config(GOOD / f"{fixture}.toml", environ={})

    assert {feed.name: feed.schedule for feed in config.feeds} == schedules


def test_type_templates_and_fixed_messages_need_no_default_template() -> None:
    config = load_config(GOOD / "typed-templates.toml", environ={})

    assert [(f.name, f.template, f.fixed) for f in config.feeds] == [
        ("photos", None, None),
        ("sticker", None, StickerMessage(1)),
    ]


def test_a_byte_order_mark_is_tolerated() -> None:
    (feed,) = load_config(GOOD / "bom.toml", environ={}).feeds

    assert feed.name == "bom"


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        (BROKEN / "does-not-exist.toml", "cannot read the file: No such file or directory"),
        (BROKEN / "templates", "cannot read the file: Is a directory"),
        (BROKEN / "syntax-error.toml", "TOML syntax error: Illegal character '\\n' (at line 5,"),
        (BROKEN / "not-utf8.toml", "is not UTF-8 text"),
    ],
    ids=["missing", "directory", "syntax", "encoding"],
)
def test_an_unreadable_file_is_one_problem(path: Path, fragment: str) -> None:
    problems = problems_of(path)

    assert len(problems) == 1
    assert (problems[0].file, problems[0].feed, problems[0].key) == (str(path), None, "")
    assert fragment in problems[0].message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("1.5h", timedelta(minutes=90)),
        ("0s", timedelta(0)),
        (45, timedelta(seconds=45)),
        (2.5, timedelta(seconds=2.5)),
    ],
    ids=str,
)
def test_parse_duration(text: str | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "15", "15 minutes", "1m1h", "h", "1.2.3s", "-5s", -5, float("nan"), float("inf")],
    ids=repr,
)
def test_parse_duration_refuses(text: str | float) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("rule", "text", "matches"),
    [
        ("council", "City Council meets today", True),
        ("council", "Councillors meet today", False),
        ("road works", "Road works on Main St", True),
        ("road works", "railroad works", False),
        ("c++", "Learn C++ today", True),
        ("/usr/bin", "see /usr/bin here", True),
        ("/road ?works/i", "ROADWORKS ahead", True),
        ("/road ?works/", "Roadworks ahead", False),
        ("/^night$/m", "day\nnight\n", True),
        ("/a.b/s", "a\nb", True),
        ("/ a b /x", "ab", True),
    ],
    ids=lambda value: repr(value) if isinstance(value, str) else None,
)
def test_rule_matching(rule: str, text: str, matches: bool) -> None:
    compiled = compile_rule(rule)

    assert compiled.source == rule
    assert bool(compiled.pattern.search(text)) is matches


def test_channel_pacing_and_webhook_listener(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    path = tmp_path / "feeds.toml"
    path.write_text(
        '[viber]\nmin_gap = "2s"\nmax_per_pass = 3\n'
        '[webhook]\nlisten = "[::1]:8443"\npath = "/hooks/viber"\n'
        '[[feeds]]\nname = "a"\nurl = "https://example.org/feed"\n'
    )
    config = load_config(path)
    assert (config.viber.min_gap, config.viber.max_per_pass) == (timedelta(seconds=2), 3)
    assert (config.webhook.listen, config.webhook.path) == (("::1", 8443), "/hooks/viber")


def test_each_feed_sharing_a_cron_expression_is_checked(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    path = tmp_path / "feeds.toml"
    crons = {"a": "*/10  7-22 * * mon-fri", "b": "61 * * * *", "c": "*/10 7-22 * * mon-fri"}
    crons |= {"d": "61 * * * *", "e": "0 8 * * 1", "f": "0 8 * * 1"}
    tables = (
        f'[[feeds]]\nname = "{n}"\nurl = "https://x.org/{n}"\ncron = "{c}"\n'
        for n, c in crons.items()
    )
    path.write_text("".join(tables))

    problems = problems_of(path, environ={})

    bad = "bad cron expression '61 * * * *': Error validating expression '61': the last value"
    bad += " (61) is higher than the maximum value (59)"
    numeric = "day-of-week '1' uses numbers"
    assert [(p.feed, p.key, p.message) for p in problems] == [
        ("b", "cron", bad),
        ("d", "cron", bad),
        ("e", "cron", numeric),
        ("f", "cron", numeric),
    ]


def write_feeds(folder: Path, defaults: str, feed: str) -> Path:
    """Write a feeds.toml with ``defaults`` and one feed with ``feed`` keys; return its path."""
    (folder / "templates").mkdir()
    (folder / "templates" / "default.j2").write_text("{{ item.title }}")
    path = folder / "feeds.toml"
    path.write_text(
        f'[defaults]\n{defaults}\n[[feeds]]\nname = "a"\nurl = "https://x.org/a"\n{feed}'
    )
    return path


@pytest.mark.parametrize(
    ("defaults", "own", "expected"),
    [
        ("", 'cron = "0 9 * * *"', None),
        ('timezone = "Europe/Minsk"', 'cron = "0 9 * * *"', "Europe/Minsk"),
        ('timezone = "Europe/Minsk"', 'cron = "0 9 * * *"\ntimezone = "UTC"', "UTC"),
    ],
    ids=["machine-zone", "from-defaults", "own-over-defaults"],
)
def test_timezone_is_inherited_like_jitter(
    tmp_path: Path, defaults: str, own: str, expected: str | None
) -> None:
    [feed] = load_config(write_feeds(tmp_path, defaults, own), environ={}).feeds
    assert feed.schedule.timezone == expected


@pytest.mark.parametrize(
    ("defaults", "own", "where", "hint"),
    [
        (
            'timezone = "Europe/Minks"',
            "",
            ("defaults.timezone", None),
            'did you mean "Europe/Minsk"?',
        ),
        ("", "timezone = 3", ("timezone", "a"), None),
        ("", 'timezone = "Mars/Olympus"', ("timezone", "a"), "IANA time zone name"),
    ],
    ids=["typo-in-defaults", "not-a-string", "unknown"],
)
def test_a_bad_timezone_names_file_feed_and_key(
    tmp_path: Path, defaults: str, own: str, where: tuple[str, str | None], hint: str | None
) -> None:
    path = write_feeds(tmp_path, defaults, own)
    [problem] = problems_of(path, environ={})
    assert (problem.file, problem.key, problem.feed) == (str(path), *where)
    assert hint is None or hint in (problem.hint or "")


def test_a_cross_key_problem_from_defaults_is_reported_on_each_feed_that_inherits_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    path = tmp_path / "feeds.toml"
    feeds = "".join(f'[[feeds]]\nname = "{n}"\nurl = "https://x.org/{n}"\n' for n in "abc")
    path.write_text('[defaults]\nformat = "json"\n' + feeds + 'format = "auto"\n')
    found = [(problem.feed, problem.key) for problem in problems_of(path, environ={})]
    assert found == [("a", "json.items"), ("b", "json.items")]


@pytest.mark.parametrize(
    "own", ["", 'interval = "5m"', 'type = "text"'], ids=["none", "when", "type"]
)
def test_a_feed_takes_what_it_sets_over_what_it_inherits(tmp_path: Path, own: str) -> None:
    defaults = 'interval = "2h"\njitter = "1m"\ntype = "url"\nbacklog = 3'
    [feed] = load_config(write_feeds(tmp_path, defaults, own), environ={}).feeds
    assert feed.backlog == 3 and feed.schedule.jitter == timedelta(minutes=1)
    assert feed.schedule.interval == timedelta(minutes=5 if "interval" in own else 120)
    assert feed.type == ("text" if "type" in own else "url")


def test_importing_the_config_leaves_the_scheduler_and_urllib_request_unloaded() -> None:
    # The cron trigger and urllib.request are imported only when a feed uses cron or a file: URL.
    heavy = ["apscheduler.triggers.cron", "urllib.request"]
    code = f"import sys, poster.config; print([m for m in {heavy!r} if m in sys.modules])"

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "url",
    ["https://reader:hunter2@/feed", "https://reader:hunter2@[::1/feed"],
    ids=["no-host", "bad-ipv6"],
)
def test_a_bad_url_is_told_without_its_password(tmp_path: Path, url: str) -> None:
    path = write_feeds(tmp_path, "", "")
    path.write_text(path.read_text().replace("https://x.org/a", url))
    [problem] = problems_of(path, environ={})
    assert problem.key == "url"
    assert "hunter2" not in str(problem)
    assert "https:///feed" in str(problem) or "https://[::1/feed" in str(problem)


def test_a_url_with_a_password_is_accepted_as_written(tmp_path: Path) -> None:
    path = write_feeds(tmp_path, "", "")
    path.write_text(path.read_text().replace("https://x.org/a", "https://u:p%40ss@x.org/a"))
    [feed] = load_config(path, environ={}).feeds
    assert feed.url == "https://u:p%40ss@x.org/a"


@pytest.mark.parametrize("listen", ["127.0.0.1:²", "127.0.0.1:٨٠", "127.0.0.1:0", "[::1]:65536"])
def test_a_listen_port_of_other_than_ascii_digits_in_range_is_a_problem(
    tmp_path: Path, listen: str
) -> None:
    path = write_feeds(tmp_path, "", "")
    path.write_text(f'[webhook]\nlisten = "{listen}"\n' + path.read_text())
    [problem] = problems_of(path, environ={})
    assert (problem.file, problem.key, problem.feed) == (str(path), "webhook.listen", None)
    assert "is not host:port" in problem.message


@pytest.mark.parametrize(
    "listen", ["256.1.1.1:80", "1.2.3:80", "[::1::2]:80", "-host:80", "a b:80", "x..y:80"]
)
def test_a_listen_host_that_is_no_address_or_name_is_a_problem(tmp_path: Path, listen: str) -> None:
    path = write_feeds(tmp_path, "", "")
    path.write_text(f'[webhook]\nlisten = "{listen}"\n' + path.read_text())
    [problem] = problems_of(path, environ={})
    assert problem.key == "webhook.listen"
    assert "is neither an IP address nor a host name" in problem.message


@pytest.mark.parametrize(
    "rule", ["/(?:.{0,1000}\\s){0,200}/", "/(?:[^<]{0,400}<){300}/", "/(?:a{1000}){0,1000}/"]
)
def test_a_regex_of_ranged_repeats_is_no_problem(tmp_path: Path, rule: str) -> None:
    path = write_feeds(tmp_path, "", f"include = [{json.dumps(rule)}]")
    [feed] = load_config(path, environ={}).feeds
    assert [r.source for r in feed.include] == [rule]


@pytest.mark.parametrize(
    "listen",
    [
        "0.0.0.0:80", "[::]:8080", "[fe80::1%eth0]:80", "localhost:80", "poster.example.:80",
        "my_service:8080",
    ],
)  # fmt: skip
def test_a_listen_host_may_be_an_address_or_a_name(tmp_path: Path, listen: str) -> None:
    path = write_feeds(tmp_path, "", "")
    path.write_text(f'[webhook]\nlisten = "{listen}"\n' + path.read_text())
    config = load_config(path, environ={})
    assert config.webhook.listen is not None
    assert config.webhook.listen[1] == int(listen.rpartition(":")[2])


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("9223372036854775807", "must be at most 1073741824 bytes"),
        ('"100GB"', "must be at most 1073741824 bytes"),
        ('"1GB"', None),
    ],
    ids=["huge-integer", "huge-text", "the-largest"],
)
def test_max_bytes_is_at_most_one_gigabyte(
    tmp_path: Path, value: str, fragment: str | None
) -> None:
    path = write_feeds(tmp_path, "", f"max_bytes = {value}")
    if fragment is None:
        [feed] = load_config(path, environ={}).feeds
        assert feed.max_bytes == 1024**3
        return
    [problem] = problems_of(path, environ={})
    assert (problem.file, problem.key, problem.feed) == (str(path), "max_bytes", "a")
    assert fragment in problem.message


def test_a_size_in_any_key_has_an_upper_bound(tmp_path: Path) -> None:
    path = write_feeds(tmp_path, "", "")
    path.write_text('[media]\nmax_store = "9999999GB"\n' + path.read_text())
    [problem] = problems_of(path, environ={})
    assert (problem.key, problem.feed) == ("media.max_store", None)
    assert "must be at most" in problem.message


def test_a_nul_in_a_path_is_a_problem(tmp_path: Path) -> None:
    path = write_feeds(tmp_path, "", "")
    path.write_text('templates = "temp\\u0000lates"\n' + path.read_text())
    [problem] = problems_of(path, environ={})
    assert (problem.file, problem.key) == (str(path), "templates")
    assert "NUL" in problem.message


def test_a_file_larger_than_the_cap_is_one_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poster.config import parsedtoml

    path = write_feeds(tmp_path, "", "")
    monkeypatch.setattr(parsedtoml, "MAX_FILE_BYTES", 16)
    [problem] = problems_of(path, environ={})
    assert (problem.file, problem.key) == (str(path), "")
    assert "is larger than 16 bytes" in problem.message


@pytest.mark.parametrize("device", ["/dev/zero", "fifo"])
def test_a_file_that_is_not_a_regular_file_is_one_problem(tmp_path: Path, device: str) -> None:
    if device == "fifo":
        os.mkfifo(tmp_path / "feeds.toml")
        device = str(tmp_path / "feeds.toml")
    [problem] = problems_of(device, environ={})
    assert (problem.file, problem.key) == (device, "")
    assert problem.message == "is not a regular file"


@pytest.mark.parametrize(
    ("own", "key", "words"),
    [
        ('interval = "3000000d"', "interval", "must be at most 3650 days"),
        ('timeout = "1000000d"', "timeout", "must be at most 3650 days"),
        ('interval = "0.0001s"', "interval", "must be at least 0.1 s"),
        ('cron = "0 0 30 feb *"', "cron", "never fires"),
        ('headers = { X-Key = "${ODD}" }', "headers.X-Key", "bytes that are not UTF-8"),
    ],
    ids=["interval-too-long", "timeout-too-long", "interval-too-short", "cron-never", "header"],
)
def test_values_a_run_could_not_use_are_refused_by_the_configuration(
    tmp_path: Path, own: str, key: str, words: str
) -> None:
    path = write_feeds(tmp_path, "", own)
    [problem] = problems_of(path, environ={"ODD": "caf\udce9"})
    assert (problem.key, problem.feed) == (key, "a")
    assert words in problem.message


def test_a_min_gap_past_ten_years_is_refused_and_ten_years_is_taken(tmp_path: Path) -> None:
    path = write_feeds(tmp_path, "", "")
    path.write_text('[viber]\nmin_gap = "3651d"\n' + path.read_text())
    [problem] = problems_of(path, environ={})
    assert (problem.key, problem.message) == ("viber.min_gap", "must be at most 3650 days")
    path.write_text(path.read_text().replace("3651d", "3650d"))
    assert load_config(path, environ={}).viber.min_gap == timedelta(days=3650)


def test_a_file_nested_past_what_the_toml_reader_can_follow_is_one_problem(tmp_path: Path) -> None:
    path = write_feeds(tmp_path, "", "include = " + "[" * 2000 + "]" * 2000)
    [problem] = problems_of(path, environ={})
    assert (problem.file, problem.key) == (str(path), "")
    assert problem.message == "arrays or tables are nested too deeply"


@pytest.mark.parametrize(
    "key",
    [".".join(["x"] * 10_000) + ".y = 1", "[" + ".".join(['"x"'] * 101) + "]"],
    ids=["dotted-key", "quoted-table-header"],
)
def test_a_key_of_thousands_of_dotted_parts_is_refused_before_parsing(
    tmp_path: Path, key: str
) -> None:
    path = write_feeds(tmp_path, "", "")
    path.write_text(path.read_text() + "\n[feeds.json]\n" + key + "\n")
    [problem] = problems_of(path, environ={})
    assert (problem.file, problem.key) == (str(path), "")
    assert problem.message == "has a key of more than 100 dotted parts"


def test_a_key_of_a_hundred_parts_is_still_read(tmp_path: Path) -> None:
    path = write_feeds(tmp_path, "", 'json = { items = "a" }')
    path.write_text(path.read_text() + "\n[x]\n" + ".".join(["p"] * 99) + " = 1\n")
    found = problems_of(path, environ={})  # [x] is no table poster knows, but it was read
    assert found and all(p.message != "has a key of more than 100 dotted parts" for p in found)


def test_more_rules_than_anyone_writes_by_hand_are_refused(tmp_path: Path) -> None:
    many = ", ".join(f'"word{n}"' for n in range(1001))
    path = write_feeds(tmp_path, "", f"include = [{many}]")
    [problem] = problems_of(path, environ={})
    assert (problem.key, problem.message) == ("include", "has 1,001 rules, more than 1,000")


def test_the_listeners_own_prefixes_are_those_its_handlers_take() -> None:
    from poster.config.values import LISTENER_PREFIXES
    from poster.daemon.callbacks import PREFIX as GATEWAYS
    from poster.push.service import PREFIX as HUBS

    assert LISTENER_PREFIXES == (HUBS, GATEWAYS)
