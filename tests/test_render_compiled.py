"""Test that compiled templates are kept for the next process, and used only while still right."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import Environment
from jinja2.bccache import bc_magic

from poster.app import renderer_for
from poster.cachefiles import compiled_templates
from poster.config import FeedConfig, load_config
from poster.destinations.viber.kind import KIND as VIBER
from poster.models import FeedMeta
from poster.render import SAMPLE_ITEM, limits, undefined
from poster.render.compiled import bytecode_cache, code_sources, digest
from poster.render.engine import Templates

NOW = datetime(2024, 5, 14, 8, 0, tzinfo=UTC)
FEED = FeedConfig(name="news", url="https://example.com/feed")
META = FeedMeta(name="news", title="News", link="https://example.com/", url=FEED.url)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """Return a templates folder holding default.j2 and an empty folder for compiled ones."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}!\n", encoding="utf-8")
    return tmp_path / "templates", tmp_path / "compiled"


def render(templates: Path, compiled: Path | None) -> str:
    """Render the sample item with a fresh set of templates, as a new process would."""
    fresh = Templates(templates, lambda: NOW, compiled=compiled)
    return fresh.render(SAMPLE_ITEM, FEED, META, "text", "viber", 1000)


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the names of the templates Jinja compiles from here on."""
    names: list[str] = []
    original = Environment.compile

    def counted(self: Environment, source: str, name: str | None = None, *args: object) -> object:
        names.append(str(name))
        return original(self, source, name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Environment, "compile", counted)
    return names


def test_a_template_is_compiled_once_for_every_process(
    folders: tuple[Path, Path], compiles: list[str]
) -> None:
    templates, compiled = folders
    first = render(templates, compiled)
    assert render(templates, compiled) == first
    assert compiles == ["default.j2"]


def test_a_changed_template_is_compiled_again(
    folders: tuple[Path, Path], compiles: list[str]
) -> None:
    templates, compiled = folders
    render(templates, compiled)
    (templates / "default.j2").write_text("{{ item.title }}?\n", encoding="utf-8")
    assert render(templates, compiled).endswith("?")
    assert compiles == ["default.j2", "default.j2"]


def test_compiled_templates_are_private(folders: tuple[Path, Path]) -> None:
    templates, compiled = folders
    render(templates, compiled)
    [entry] = compiled.iterdir()
    assert stat.S_IMODE(compiled.stat().st_mode) == 0o700
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_an_entry_others_may_write_is_never_read(
    folders: tuple[Path, Path], compiles: list[str]
) -> None:
    templates, compiled = folders
    render(templates, compiled)
    [entry] = compiled.iterdir()
    entry.chmod(0o666)
    render(templates, compiled)
    assert compiles == ["default.j2", "default.j2"]


@pytest.mark.parametrize("cut", [False, True], ids=["other bytes", "cut in the checksum"])
def test_a_damaged_entry_is_compiled_again(
    folders: tuple[Path, Path], compiles: list[str], cut: bool
) -> None:
    templates, compiled = folders
    first = render(templates, compiled)
    [entry] = compiled.iterdir()
    damaged = entry.read_bytes()[: len(bc_magic) + 3] if cut else b"j2 but not really"
    entry.write_bytes(damaged)
    assert render(templates, compiled) == first
    assert compiles == ["default.j2", "default.j2"]


def test_a_folder_that_cannot_be_written_only_costs_the_compile(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    templates, _ = folders
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert render(templates, blocker / "compiled") == render(templates, None)


def test_entries_name_the_code_generator_and_the_options_they_were_made_with() -> None:
    plain = Environment()
    assert digest(plain, b"one") == digest(Environment(), b"one")
    assert digest(plain, b"one") != digest(plain, b"two")
    assert digest(plain, b"one") != digest(Environment(trim_blocks=True), b"one")
    with_filter = Environment()
    with_filter.filters["shout"] = str.upper
    assert digest(plain, b"one") != digest(with_filter, b"one")


def test_entries_follow_the_modules_that_define_the_environment_and_its_generator() -> None:
    env = limits.BoundedEnvironment()
    assert code_sources(env) == [limits.__file__]

    class Elsewhere(limits.BoundedCodeGenerator):
        """Generate code from a module of its own."""

    Elsewhere.__module__ = undefined.__name__
    env.code_generator_class = Elsewhere
    assert code_sources(env) == sorted([limits.__file__, undefined.__file__])


def test_without_a_folder_nothing_is_kept() -> None:
    assert bytecode_cache(None, Environment()) is None


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the names of the templates Jinja parses from here on."""
    names: list[str] = []
    original = Environment.parse

    def counted(self: Environment, source: str, name: str | None = None, *args: object) -> object:
        names.append(str(name))
        return original(self, source, name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Environment, "parse", counted)
    return names


def reads_feed(templates: Path, compiled: Path) -> bool:
    """Ask a fresh set of fixed templates whether default.j2 may read ``feed``."""
    return Templates(templates, lambda: NOW, fixed=True, compiled=compiled).reads_feed(
        FEED, "text", "viber"
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"default.j2": "{{ item.title }}"}, False),
        ({"default.j2": "{{ feed.name }}"}, True),
        ({"default.j2": "{% include 'part.j2' %}", "part.j2": "{{ feed.title }}"}, True),
        ({"default.j2": "{% include 'part.j2' %}", "part.j2": "{{ item.link }}"}, False),
        ({"default.j2": "{% include item.title %}"}, True),
    ],
    ids=["item only", "feed", "included feed", "included item", "named at run time"],
)
def test_whether_a_template_reads_feed_is_parsed_out_once(
    folders: tuple[Path, Path], parses: list[str], files: dict[str, str], expected: bool
) -> None:
    templates, compiled = folders
    for name, source in files.items():
        (templates / name).write_text(source, encoding="utf-8")
    assert reads_feed(templates, compiled) is expected
    parsed = len(parses)
    assert parsed >= 1
    assert reads_feed(templates, compiled) is expected
    assert len(parses) == parsed


def test_a_changed_template_is_parsed_again(folders: tuple[Path, Path], parses: list[str]) -> None:
    templates, compiled = folders
    assert reads_feed(templates, compiled) is False
    (templates / "default.j2").write_text("{{ feed.title }}", encoding="utf-8")
    assert reads_feed(templates, compiled) is True
    assert parses == ["default.j2", "default.j2"]


def test_a_run_keeps_its_compiled_templates_where_check_does(
    folders: tuple[Path, Path], compiles: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    templates, cache = folders
    config_file = templates.parent / "feeds.toml"
    config_file.write_text(
        f'templates = "{templates}"\n\n[[feeds]]\nname = "news"\nurl = "{FEED.url}"\n',
        encoding="utf-8",
    )
    config = load_config(config_file, environ={})
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    posts = [renderer_for(config).render(SAMPLE_ITEM, FEED, META, VIBER) for _ in range(2)]
    assert posts[0] == posts[1]
    assert compiles == ["default.j2"]  # the second process's renderer loaded what the first kept
    assert compiled_templates(os.environ) == cache / "poster" / "templates"
    assert list((cache / "poster" / "templates").glob("*.jinja"))
