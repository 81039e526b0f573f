"""Test that the shortcuts loading many feeds takes give what the full checks give."""

from __future__ import annotations

import random
from dataclasses import fields, replace
from pathlib import Path

import pytest

from poster.config import FeedConfig, Schedule, load_config
from poster.config import values as v
from poster.config.settings import feed_config
from poster.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CTX = v.Context(ROOT, None, {})

URLS = [
    "http://127.0.0.1:9/rss/feed-0000.xml",
    "https://example.com",
    "HTTPS://Example.COM/Path?q=1&r=%20",
    "http://a:0/",
    "http://a:00080/x",
    "http://a:65535",
    "http://a:65536/",
    "http://a:99999/",
    "http://a:/x",
    "http://:80/x",
    "http:///x",
    "http://user@host/x",
    "http://host/x#fragment",
    "http://[::1]:8080/x",
    "http://[::1/x",
    "http://-/",
    "http://a/b c",
    "ftp://example.com/x",
    "https://exämple.com/",
    "http://host/päth",
]


def _outcome(check: object, raw: str) -> str:
    """Return what ``check`` makes of ``raw``: its value, or its error's message and hint."""
    try:
        return f"ok {check(raw, CTX)}"  # type: ignore[operator]
    except v.Invalid as exc:
        return f"invalid {[(i.message, i.hint) for i in exc.issues]}"


def _by_splitting(raw: str, ctx: v.Context) -> str:
    return v.split_feed_url(raw.strip(), ctx)


@pytest.mark.parametrize("raw", URLS)
def test_a_feed_url_is_judged_as_splitting_it_judges_it(raw: str) -> None:
    assert _outcome(v.feed_url, raw) == _outcome(_by_splitting, raw)


def test_random_http_urls_are_judged_as_splitting_them_judges_them() -> None:
    rng = random.Random(20260312)
    alphabet = "aZ09.-_~:/?#@[]%!$&'()*+,;= \t\\\"<>^`{|}ä"
    for _ in range(3000):
        scheme = rng.choice(["http://", "https://", "HtTp://", "http:/", "http:", ""])
        raw = scheme + "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        if raw.strip():
            assert _outcome(v.feed_url, raw) == _outcome(_by_splitting, raw), raw


def test_a_feed_filled_at_once_equals_one_built_field_by_field() -> None:
    built = FeedConfig(name="news", url="https://example.com/feed", schedule=Schedule())
    values = {f.name: getattr(built, f.name) for f in fields(FeedConfig)}
    filled = feed_config(values)
    assert filled == built
    assert hash(filled) == hash(built)
    assert repr(filled) == repr(built)
    with pytest.raises(AttributeError):
        filled.name = "other"  # type: ignore[misc]


def test_values_that_do_not_name_every_field_go_through_the_constructor() -> None:
    with pytest.raises(TypeError):
        feed_config({"name": "news", "url": "https://example.com/feed", "colour": "blue"})


def test_checks_on_defaults_are_reported_for_each_feed_that_inherits_them(tmp_path: Path) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text(
        f'templates = "{ROOT / "templates"}"\n[viber]\n'
        '[defaults]\ninterval = "1m"\njitter = "2m"\nformat = "json"\n'
        '[[feeds]]\nname = "a"\nurl = "https://example.com/a"\n'
        '[[feeds]]\nname = "b"\nurl = "https://example.com/b"\nformat = "xml"\n'
        '[[feeds]]\nname = "c"\nurl = "https://example.com/c"\nformat = 5\n'
        '[[feeds]]\nname = "d"\nurl = "https://example.com/d"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    found = [(p.feed, p.key, p.message) for p in caught.value.problems]
    json = 'is required with format = "json"'
    assert found == [
        (None, "defaults.jitter", "120s is longer than the interval (60s)"),
        ("a", "json.items", json),
        ("c", "format", "expected a string, got an integer"),
        ("d", "json.items", json),
    ]


@pytest.mark.parametrize("key", ["url", "template_folder"])
def test_a_path_in_the_home_of_an_unknown_user_is_a_problem_not_a_crash(
    tmp_path: Path, key: str
) -> None:
    config = tmp_path / "feeds.toml"
    folder = "~no-such-user-here/templates" if key == "template_folder" else ROOT / "templates"
    url = "~no-such-user-here/feed.xml" if key == "url" else "https://example.com/a"
    config.write_text(
        f'templates = "{folder}"\n[viber]\n[[feeds]]\nname = "a"\nurl = "{url}"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    [problem] = caught.value.problems
    assert problem.key == ("url" if key == "url" else "templates")
    assert "starts with '~no-such-user-here', but that user has no home folder" in problem.message


@pytest.mark.parametrize(
    "defaults",
    [
        "",
        'interval = "10m"\njitter = "1m"\ntype = "text"\ntemplate = "default.j2"',
        'cron = "0 9 * * *"\ntimezone = "Europe/Minsk"\nbacklog = 3\nenabled = false',
        'type = "picture"\nformat = "xml"\nkey = "link"\nfallback = "url"',
    ],
    ids=["none", "interval-and-type", "cron", "format-and-key"],
)
def test_a_feed_of_only_name_and_url_is_built_as_one_read_key_by_key(
    tmp_path: Path, defaults: str
) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text(
        f'templates = "{ROOT / "templates"}"\n[viber]\n[defaults]\n{defaults}\n'
        '[[feeds]]\nname = "a"\nurl = "https://example.com/a"\n'
        '[[feeds]]\nname = "b"\nurl = "https://example.com/a"\ntimeout = 20\n',
        encoding="utf-8",
    )
    short, full = load_config(config).feeds
    assert short == replace(full, name="a")


@pytest.mark.parametrize(
    ("name", "url"),
    [("a b", "https://example.com/a"), ("a", "ftp://example.com/a"), ("", " "), ("a", 5)],
)
def test_a_feed_of_a_bad_name_or_url_alone_is_reported_as_one_read_key_by_key(
    tmp_path: Path, name: str, url: object
) -> None:
    config = tmp_path / "feeds.toml"
    url_value = f'"{url}"' if isinstance(url, str) else str(url)
    config.write_text(
        f'templates = "{ROOT / "templates"}"\n[viber]\n'
        f'[[feeds]]\nname = "{name}"\nurl = {url_value}\n'
        f'[[feeds]]\nname = "{name}"\nurl = {url_value}\ntimeout = 20\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    found = [(p.key, p.message, p.hint) for p in caught.value.problems]
    short, full = found[: len(found) // 2], found[len(found) // 2 :]
    assert short and short == [f for f in full if f[0] != "name" or "already used" not in f[1]]
