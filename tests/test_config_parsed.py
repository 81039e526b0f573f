"""Test that what feeds.toml parsed to is kept and used again only while the file is unchanged."""

from __future__ import annotations

import marshal
import os
import stat
import sys
import tomllib
from pathlib import Path

import pytest

from poster.cachefiles import cache_dir
from poster.config import load_config, parsedtoml
from poster.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CONFIG = (
    f'templates = "{ROOT / "templates"}"\n[viber]\napi_url = "http://127.0.0.1:9/pa"\n'
    '[[feeds]]\nname = "news"\nurl = "http://127.0.0.1:9/feed.xml"\n'
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Write a small feeds.toml."""
    path = tmp_path / "feeds.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _entry(cache: Path, config: Path) -> Path:
    return parsedtoml.entry_path(cache, Path(os.path.abspath(config)))


def test_an_unchanged_file_is_not_parsed_again(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = load_config(config, cache=cache)
    monkeypatch.setattr(tomllib, "loads", lambda _text: pytest.fail("parsed again"))
    assert load_config(config, cache=cache) == first


def test_a_changed_file_is_parsed_again(config: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_config(config, cache=cache)
    config.write_text(CONFIG.replace('"news"', '"sport"'), encoding="utf-8")
    assert [feed.name for feed in load_config(config, cache=cache).feeds] == ["sport"]


@pytest.mark.parametrize(
    "section",
    ["[viber]\n", '[destinations.news]\nkind = "viber"\n'],
    ids=["viber", "destination"],
)
def test_a_file_holding_a_literal_token_is_refused_and_never_kept(
    config: Path, tmp_path: Path, section: str
) -> None:
    literal = f'{section}token = "SECRETMARK-0123-4567"\n'
    config.write_text(CONFIG.replace("[viber]\n", literal), encoding="utf-8")
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError, match="a literal token does not belong"):
        load_config(config, cache=cache)
    kept = [path.read_bytes() for path in cache.iterdir()] if cache.exists() else []
    assert not [entry for entry in kept if b"SECRETMARK" in entry]


def test_an_entry_an_earlier_release_kept_of_a_file_holding_a_token_is_deleted(
    config: Path, tmp_path: Path
) -> None:
    config.write_text(CONFIG.replace("[viber]\n", '[viber]\ntoken = "SECRETMARK-0123"\n'))
    cache = tmp_path / "cache"
    parsedtoml.remember(cache, config.absolute(), config.read_bytes(), {"viber": {"token": "x"}})
    assert _entry(cache, config).exists()
    with pytest.raises(ConfigError, match="a literal token does not belong"):
        load_config(config, cache=cache)
    assert not _entry(cache, config).exists()


def test_the_entry_is_private_to_the_user(config: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_config(config, cache=cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(_entry(cache, config).stat().st_mode) == 0o600
    assert [p.name for p in cache.iterdir()] == [_entry(cache, config).name]


@pytest.mark.parametrize(
    "damage",
    [b"", b"not marshal at all", marshal.dumps(("other", 1)), marshal.dumps([1, 2, 3])],
    ids=["empty", "garbage", "other tuple", "list"],
)
def test_a_damaged_entry_is_ignored_and_replaced(
    config: Path, tmp_path: Path, damage: bytes
) -> None:
    cache = tmp_path / "cache"
    load_config(config, cache=cache)
    _entry(cache, config).write_bytes(damage)
    assert [feed.name for feed in load_config(config, cache=cache).feeds] == ["news"]
    assert _entry(cache, config).read_bytes() != damage


def test_an_entry_others_may_write_is_never_read(config: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_config(config, cache=cache)
    entry = _entry(cache, config)
    form, version, where, source, parsed = marshal.loads(entry.read_bytes())
    parsed["feeds"][0]["name"] = "planted"
    entry.write_bytes(marshal.dumps((form, version, where, source, parsed)))
    entry.chmod(0o666)
    assert [feed.name for feed in load_config(config, cache=cache).feeds] == ["news"]


def test_a_bad_file_is_reported_alike_and_leaves_no_entry(config: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    config.write_text(CONFIG + "[[feeds]\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(ConfigError, match="TOML syntax error"):
            load_config(config, cache=cache)
    assert not _entry(cache, config).exists()


def test_environment_values_are_resolved_on_each_load_and_never_kept(
    config: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    config.write_text(
        CONFIG + '[feeds.headers]\nAuthorization = "Bearer ${FEED_KEY}"\n', encoding="utf-8"
    )
    first = load_config(config, cache=cache, environ={"FEED_KEY": "first-secret"})
    second = load_config(config, cache=cache, environ={"FEED_KEY": "second-secret"})
    assert first.feeds[0].headers == (("Authorization", "Bearer first-secret"),)
    assert second.feeds[0].headers == (("Authorization", "Bearer second-secret"),)
    assert b"secret" not in _entry(cache, config).read_bytes()


def test_what_marshal_cannot_hold_is_parsed_each_time(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    data = b"when = 2026-01-02T03:04:05Z\n"
    parsedtoml.remember(cache, tmp_path / "feeds.toml", data, tomllib.loads(data.decode()))
    assert parsedtoml.recall(cache, tmp_path / "feeds.toml", data) is None


def test_an_entry_from_another_python_is_not_used(config: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_config(config, cache=cache)
    entry = _entry(cache, config)
    form, _version, where, source, parsed = marshal.loads(entry.read_bytes())
    entry.write_bytes(marshal.dumps((form, "2.7.18", where, source, parsed)))
    data = config.read_bytes()
    assert parsedtoml.recall(cache, Path(os.path.abspath(config)), data) is None


def test_a_folder_that_cannot_be_written_only_costs_the_parse(config: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert [feed.name for feed in load_config(config, cache=blocker / "cache").feeds] == ["news"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"CACHE_DIRECTORY": "/var/cache/poster:/x", "XDG_CACHE_HOME": "/c"}, "/var/cache/poster"),
        ({"XDG_CACHE_HOME": "/c", "HOME": "/home/u"}, "/c/poster"),
        ({"XDG_CACHE_HOME": "relative", "HOME": "/home/u"}, "/home/u/.cache/poster"),
        ({"HOME": "/home/u"}, "/home/u/.cache/poster"),
        ({}, None),
    ],
    ids=["systemd", "xdg", "relative xdg ignored", "home", "none"],
)
def test_the_cache_folder(environ: dict[str, str], expected: str | None) -> None:
    found = cache_dir(environ)
    assert (None if found is None else str(found)) == expected


def test_the_entry_names_the_python_it_was_made_by(config: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_config(config, cache=cache)
    form, version, where, source, _ = marshal.loads(_entry(cache, config).read_bytes())
    assert (form, version, where, source) == (
        parsedtoml.FORMAT,
        sys.version,
        os.path.abspath(config),
        config.read_bytes(),
    )
