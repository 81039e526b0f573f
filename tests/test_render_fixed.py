"""Test that templates taken as fixed run once for every feed when the feed cannot matter."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader

from poster.config import FeedConfig
from poster.errors import RenderError
from poster.models import FeedMeta
from poster.render import SAMPLE_ITEM
from poster.render.engine import Templates

NOW = datetime(2024, 5, 14, 8, 0, tzinfo=UTC)
FEEDS = ("a", "b", "c")


class Clock:
    """Count the renders that ran: each asks for the time once."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return NOW


def templates(folder: Path, files: dict[str, str], *, fixed: bool) -> tuple[Templates, Clock]:
    """Write ``files`` into ``folder`` and return templates over them with a counting clock."""
    for name, source in files.items():
        (folder / name).write_text(source, encoding="utf-8")
    clock = Clock()
    return Templates(folder, clock, fixed=fixed), clock


def render_each(found: Templates) -> list[str]:
    """Render the sample item for every feed; return each text or error."""
    outcomes = []
    for name in FEEDS:
        feed = FeedConfig(name=name, url=f"https://example.org/{name}.xml")
        meta = FeedMeta(name=name, url=feed.url)
        try:
            outcomes.append(found.render(SAMPLE_ITEM, feed, meta, "text", "viber", 100))
        except RenderError as exc:
            outcomes.append(str(exc))
    return outcomes


NO_FEED = {"default.j2": "{% include 'part.j2' %} {{ now.year }}", "part.j2": "{{ item.title }}"}
READS_FEED = {
    "own": {"default.j2": "{{ item.title }} {{ feed.name }}"},
    "included": {"default.j2": "{% include 'part.j2' %}", "part.j2": "{{ feed.name }}"},
    "imported": {
        "default.j2": "{% import 'm.j2' as m with context %}{{ m.name() }}",
        "m.j2": "{% macro name() %}{{ feed.name }}{% endmacro %}",
    },
    "named-at-run-time": {"default.j2": "{% include item.title[:0] ~ 'part.j2' %}", "part.j2": "x"},
}


def test_a_template_that_never_reads_the_feed_runs_once_for_every_feed(tmp_path: Path) -> None:
    fixed, clock = templates(tmp_path, NO_FEED, fixed=True)
    assert render_each(fixed) == [f"{SAMPLE_ITEM.title} 2024"] * len(FEEDS)
    assert clock.calls == 1


def test_templates_that_may_change_run_for_every_feed(tmp_path: Path) -> None:
    found, clock = templates(tmp_path, NO_FEED, fixed=False)
    assert render_each(found) == [f"{SAMPLE_ITEM.title} 2024"] * len(FEEDS)
    assert clock.calls == len(FEEDS)


@pytest.mark.parametrize("files", READS_FEED.values(), ids=READS_FEED.keys())
def test_a_template_that_may_read_the_feed_runs_for_each_feed(
    tmp_path: Path, files: dict[str, str]
) -> None:
    fixed, clock = templates(tmp_path, files, fixed=True)
    changing = Templates(tmp_path, Clock(), fixed=False)
    assert render_each(fixed) == render_each(changing)
    assert clock.calls == len(FEEDS)


def test_a_shared_failure_names_each_feed(tmp_path: Path) -> None:
    fixed, clock = templates(tmp_path, {"default.j2": "{{ item.titel }}"}, fixed=True)
    outcomes = render_each(fixed)
    assert clock.calls == 1
    for name, outcome in zip(FEEDS, outcomes, strict=True):
        assert outcome.startswith(f"feed {name!r} item ") and "item.titel is undefined" in outcome


def test_a_missing_template_is_not_looked_up_again_for_each_feed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    get_source = FileSystemLoader.get_source

    def counted(loader: FileSystemLoader, env: Environment, name: str) -> Any:
        looked_up.append(name)
        return get_source(loader, env, name)

    monkeypatch.setattr(FileSystemLoader, "get_source", counted)
    fixed, _ = templates(tmp_path, {}, fixed=True)
    outcomes = render_each(fixed)
    assert all("none of the templates" in outcome for outcome in outcomes)
    once = len(looked_up)
    render_each(fixed)
    assert len(looked_up) == once
