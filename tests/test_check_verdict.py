"""Test that `poster check` renders only what changed since a check that passed: nothing when
feeds.toml changed only in what no template sees, everything when a template or the code did."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from poster.config import FeedConfig, load_config
from poster.destinations import KINDS, kind
from poster.frozen import fields
from poster.ops.templateverdict import UNSEEN, Verdicts, read_templates
from poster.render import Renderer

ROOT = Path(__file__).resolve().parents[1]
HEAD = '[viber]\napi_url = "http://127.0.0.1:9/pa"\n'
FEED = '[[feeds]]\nname = "{name}"\nurl = "https://example.org/{name}.xml"\n'


def _project(folder: Path, feeds: str = FEED.format(name="news")) -> Path:
    """Write a feeds.toml and a copy of poster's templates into ``folder``; return its path."""
    (folder / "templates").mkdir(parents=True)
    for template in (ROOT / "templates").iterdir():
        (folder / "templates" / template.name).write_bytes(template.read_bytes())
    config = folder / "feeds.toml"
    config.write_text(HEAD + feeds, encoding="utf-8")
    return config


def _check(config: Path, env: dict[str, str] | None = None) -> tuple[int, str, str, bool]:
    """Run `poster check` in a fresh interpreter, its cache beside ``config``: its code,
    output and errors, and whether it loaded Jinja."""
    probe = (
        "import sys\nfrom poster.cli import main\n"
        f"code = main(['-c', {str(config)!r}, 'check'])\n"
        "print('jinja:', 'jinja2' in sys.modules, file=sys.stderr)\nraise SystemExit(code)"
    )
    cache = str(config.parent / "cache")
    env = {**os.environ, "XDG_CACHE_HOME": cache, "POSTER_VIBER_TOKEN": "a-token", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env
    )
    *errors, loaded = done.stderr.splitlines()
    return done.returncode, done.stdout, "\n".join(errors), loaded == "jinja: True"


def _append(config: Path, text: str) -> None:
    """Add ``text`` at the end of ``config``."""
    with config.open("a", encoding="utf-8") as file:
        file.write(text)


def test_a_second_check_of_the_same_inputs_renders_nothing_and_says_the_same(
    tmp_path: Path,
) -> None:
    config = _project(tmp_path)
    first = _check(config)
    second = _check(config)
    assert first[0] == 0 and "templates render" in first[1] and first[3]
    assert second[:3] == first[:3] and not second[3]


@pytest.mark.parametrize(
    "edit",
    [
        FEED.format(name="sport"),
        'interval = "5m"\n',
        'headers = { Authorization = "Bearer ${FEED_SECRET}" }\n',
    ],
    ids=["a feed like the others", "an interval", "headers"],
)
def test_an_edit_no_template_sees_renders_nothing(tmp_path: Path, edit: str) -> None:
    config = _project(tmp_path)
    assert _check(config)[0] == 0
    _append(config, edit)
    code, out, _, loaded = _check(config, {"FEED_SECRET": "s3cret-value"})
    assert code == 0 and "templates render" in out and not loaded
    for entry in (tmp_path / "cache" / "poster" / "checks").iterdir():
        assert b"s3cret-value" not in entry.read_bytes()


@pytest.mark.parametrize(
    "change",
    ["break a template", "add a template", "remove a template", "a feed's template", "type"],
)
def test_a_check_after_a_change_a_template_may_see_renders_again(
    tmp_path: Path, change: str
) -> None:
    config = _project(tmp_path)
    assert _check(config)[0] == 0
    templates = tmp_path / "templates"
    if change == "break a template":
        (templates / "text.j2").write_text("{{ item.title | no_such_filter }}\n", encoding="utf-8")
    elif change == "add a template":
        (templates / "viber").mkdir()  # the kind's own text.j2 comes before text.j2
        (templates / "viber" / "text.j2").write_text("{{ item.title ", encoding="utf-8")
    elif change == "remove a template":
        (templates / "text.j2").unlink()
    elif change == "a feed's template":
        (templates / "short.j2").write_text("{{ item.titel.upper() }}\n", encoding="utf-8")
        _append(config, 'template = "short.j2"\n')
    else:
        _append(config, 'type = "url"\n')
    code, _, errors, loaded = _check(config)
    assert loaded
    if change not in ("remove a template", "type"):
        assert code != 0 and errors


def test_a_feed_a_template_reads_is_its_own_unit(tmp_path: Path) -> None:
    secret = FEED.format(name="news").replace("https://", "https://reader:pa55word@")
    config = _project(tmp_path, secret)
    (tmp_path / "templates" / "text.j2").write_text("{{ feed.name }}: {{ item.title }}\n")
    assert _check(config)[3]
    assert not _check(config)[3]
    _append(config, FEED.format(name="sport"))
    assert _check(config)[3]
    assert not _check(config)[3]
    for entry in (tmp_path / "cache" / "poster" / "checks").iterdir():
        assert b"pa55word" not in entry.read_bytes()


def test_a_failed_check_is_not_kept(tmp_path: Path) -> None:
    config = _project(tmp_path)
    (tmp_path / "templates" / "text.j2").write_text("{% if %}\n", encoding="utf-8")
    assert _check(config)[0] != 0
    again = _check(config)
    assert again[0] != 0 and again[3]


@pytest.fixture
def loaded_code(tmp_path: Path) -> Iterator[Path]:
    """A module of poster's, loaded from a file of the test's own; its path."""
    path = tmp_path / "probe.py"
    path.write_text("VALUE = 1\n", encoding="utf-8")
    module = types.ModuleType("poster._verdict_probe")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    yield path
    del sys.modules[module.__name__]


def _kept(config_path: Path, kept: Path) -> Verdicts:
    """Keep that every feed of ``config_path`` rendered at viber; return the verdicts to recall."""
    config = load_config(config_path)
    verdicts = Verdicts(config, kept, read_templates(config.templates_dir))
    for feed in config.feeds:
        verdicts.passed(feed, "viber", reads_feed=False)
    verdicts.keep()
    return Verdicts(config, kept, read_templates(config.templates_dir))


def test_a_kept_check_holds_while_the_loaded_code_is_unchanged(
    tmp_path: Path, loaded_code: Path
) -> None:
    verdicts = _kept(_project(tmp_path), tmp_path / "kept")
    assert verdicts.recall()
    loaded_code.write_text("VALUE = 22\n", encoding="utf-8")
    assert not verdicts.recall()


def test_a_kept_check_is_for_its_own_templates_and_units(tmp_path: Path) -> None:
    config_path = _project(tmp_path)
    verdicts = _kept(config_path, tmp_path / "kept")
    config = verdicts.config
    assert verdicts.templates is not None
    assert ("text.j2", (ROOT / "templates" / "text.j2").read_bytes()) in verdicts.templates
    added = (*verdicts.templates, ("new.j2", b"{{ x }}"))
    assert not Verdicts(config, tmp_path / "kept", added).recall()
    assert not Verdicts(config, tmp_path / "kept", None).recall()
    _append(config_path, 'type = "url"\n')
    assert not Verdicts(load_config(config_path), tmp_path / "kept", verdicts.templates).recall()
    entry = next((tmp_path / "kept").iterdir())
    entry.write_bytes(entry.read_bytes()[:-40])
    assert not verdicts.recall()


def test_a_folder_too_big_is_never_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _project(tmp_path).parent / "templates"
    import poster.ops.templateverdict as verdict

    monkeypatch.setattr(verdict, "MAX_FILES", 3)
    assert read_templates(folder) is None
    monkeypatch.setattr(verdict, "MAX_FILES", 1000)
    monkeypatch.setattr(verdict, "MAX_BYTES", 100)
    assert read_templates(folder) is None
    assert read_templates(tmp_path / "no-such-folder") is None
    verdicts = Verdicts(load_config(tmp_path / "feeds.toml"), tmp_path / "kept", None)
    verdicts.keep()
    assert not (tmp_path / "kept").exists()


VARIANTS = (
    "",
    'template = "text.j2"\n',
    'type = "picture"\nfallback = "url"\n',
    'type = "url"\n',
    'type = "sticker"\nsticker_id = 40133\n',
)


@pytest.mark.parametrize("kind_name", sorted(KINDS))
def test_rendering_the_sample_reads_no_field_a_unit_leaves_out(
    tmp_path: Path, kind_name: str
) -> None:
    feeds = "".join(FEED.format(name=f"feed{n}") + more for n, more in enumerate(VARIANTS))
    config = load_config(_project(tmp_path, feeds))
    read: set[str] = set()

    class Watched(FeedConfig):
        """A feed that notes each field read."""

        def __getattribute__(self, name: str) -> Any:
            read.add(name)
            return object.__getattribute__(self, name)

    renderer = Renderer(config.templates_dir, fixed=True)
    own = kind(kind_name)
    for feed in config.feeds:
        watched = Watched(**{f.name: getattr(feed, f.name) for f in fields(FeedConfig)})
        read.clear()
        renderer.failures(watched, own)
        renderer.reads_feed(watched, own)
        assert read & set(UNSEEN) <= {"name", "url"}, feed.name


def test_a_fifo_in_the_templates_folder_is_never_opened(tmp_path: Path) -> None:
    config = _project(tmp_path)
    os.mkfifo(tmp_path / "templates" / "pipe")
    assert read_templates(tmp_path / "templates") is not None
    assert ("pipe", None) in (read_templates(tmp_path / "templates") or ())
    assert _check(config)[0] == 0
    assert not _check(config)[3]


def test_a_zone_a_template_names_is_looked_up_again(tmp_path: Path) -> None:
    zones = tmp_path / "zones"
    (zones / "Test").mkdir(parents=True)
    (zones / "Test" / "Zone").write_bytes(Path("/usr/share/zoneinfo/UTC").read_bytes())
    config = _project(tmp_path)
    dated = '{{ item.published | date("%d.%m.%Y", "Test/Zone") }} {{ item.title }}\n'
    for name in ("text.j2", "picture.j2"):
        (tmp_path / "templates" / name).write_text(dated, encoding="utf-8")
    env = {"PYTHONTZPATH": str(zones)}
    assert _check(config, env)[0] == 0
    assert not _check(config, env)[3]
    (zones / "Test" / "Zone").unlink()
    code, _, errors, loaded = _check(config, env)
    assert loaded and code != 0 and "unknown time zone 'Test/Zone'" in errors


def test_templates_edited_while_they_render_keep_nothing(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path))
    verdicts = Verdicts(config, tmp_path / "kept", read_templates(config.templates_dir))
    verdicts.passed(config.feeds[0], "viber", reads_feed=False)
    (tmp_path / "templates" / "text.j2").write_text("{{ 1 / 0 }}\n", encoding="utf-8")
    verdicts.keep()
    assert not (tmp_path / "kept").exists()


def test_a_check_kept_for_another_installation_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import poster.ops.templateverdict as verdict

    verdicts = _kept(_project(tmp_path), tmp_path / "kept")
    assert verdicts.recall()
    elsewhere = tuple((name, f"/elsewhere/{name}/__init__.py") for name in verdict.CODE)
    monkeypatch.setattr(verdict, "_origins", lambda: elsewhere)
    assert not verdicts.recall()
