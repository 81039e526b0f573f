"""Check that every render is bounded in time and size, and that template errors read plainly."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from poster.config import FeedConfig
from poster.destinations.viber.compose import text_limit
from poster.destinations.viber.kind import KIND
from poster.errors import RenderError
from poster.models import FeedMeta
from poster.render import SAMPLE_ITEM, Renderer
from poster.render import limits as limits_module
from poster.render.engine import Templates
from poster.render.filters import FILTERS
from poster.render.limits import Limits

META = FeedMeta("news")
NOW = datetime(2024, 5, 14, 8, 0, tzinfo=UTC)
SHIPPED = Path(__file__).resolve().parents[1] / "templates"

HOSTILE = {
    "repeat": ("{{ 'x' * 10**9 }}", "line 1: refused: '*' would make 1,000,000,000"),
    "power": ("{{ 9**(9**9) }}", "line 1: refused: '**' would make"),
    "nested-range": (
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "line 1: stopped: over the 1 s time limit",
    ),
    "nested-list": (
        "{% set r = range(100000)|list %}\n"
        "{% for a in r %}{% for b in r %}{% endfor %}{% endfor %}",
        "line 2: stopped: over the 1 s time limit",
    ),
    "recursive-macro": (
        "{% macro m(n) %}{% if n %}{{ m(n-1) }}{{ m(n-1) }}{% endif %}.{% endmacro %}{{ m(60) }}",
        "stopped: over the 1 s time limit",
    ),
    "center": ("{{ 'x'|center(10**9) }}", "refused: center would make 1,000,000,000"),
    "ljust": ("{{ 'x'.ljust(10**9) }}", "refused: str.ljust would make 1,000,000,000"),
    "str-format": ("{{ '{:>999999999}'.format(1) }}", "refused: the format would make"),
    "percent-format": ("{{ '%999999999d' % 1 }}", "refused: the format would make"),
    "doubling-concat": (
        "{% set ns = namespace(x='x') %}{% for i in range(40) %}"
        "{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
        "refused: '~' would make 524,288",
    ),
    "doubling-plus": (
        "{% set ns = namespace(x='x') %}{% for i in range(40) %}"
        "{% set ns.x = ns.x + ns.x %}{% endfor %}",
        "refused: '+' would make 524,288",
    ),
    "doubling-set-block": (
        "{% set ns = namespace(x='x') %}{% for i in range(40) %}"
        "{% set ns.x %}{{ ns.x }}{{ ns.x }}{% endset %}{% endfor %}",
        "stopped: wrote over 1,048,576 characters in all",
    ),
    "replace": ("{% set s = 'a' * 1000 %}{{ s.replace('a', s) }}", "refused: replace would make"),
    "join": ("{{ ('x' * 100000).join(range(100000)) }}", "refused: join would make"),
    "indent": ("{{ ('\\n' * 200000)|indent('xxxxxxxxxx') }}", "refused: indent would make"),
    "lipsum": ("{{ lipsum(10**6) }}", "refused: lipsum would make 1,200,000,000"),
    "lipsum-words": (
        "{{ lipsum(1, min=10**7, max=10**7 + 1) }}",
        "refused: lipsum would make 120,000,012",
    ),
    "bytes-repeat": (
        "{{ ('x'.encode() * 3000000000)|length }}",
        "refused: '*' would make 3,000,000,000",
    ),
    "translate": (
        "{% set s = 'x' * 200000 %}{{ s.translate({120: s})|length }}",
        "refused: translate would make 40,000,000,000",
    ),
    "translate-list": (
        "{% set s = 'x' * 100000 %}{{ s.translate([s] * 200)|length }}",
        "refused: translate would make 10,000,000,000",
    ),
    "bytes-method": ("{{ 'x'.encode().ljust(10**9)|length }}", "refused: bytes.ljust would"),
    "long-output": (
        "{% for i in range(150) %}{{ 'x' * 2000 }}{% endfor %}",
        "stopped: output over the 262,144-character limit",
    ),
}


class Ticks:
    """A clock that moves on by a fixed step each time it is read, so deadlines need no sleep."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """Return a template directory holding each hostile template and a normal one."""
    for name, (source, _) in HOSTILE.items():
        (tmp_path / f"{name}.j2").write_text(source)
    (tmp_path / "normal.j2").write_text(
        "{{ item.title|bold }}\n{% for tag in item.tags %}{{ tag }} {% endfor %}\n"
        "{{ item.content_text|truncate(200) }}\n{{ item.link }}"
    )
    return tmp_path


def render(renderer: Renderer, template: str) -> str:
    """Render the sample item with one template as a text message; return its text."""
    feed = FeedConfig(name="news", url="", template=template, type="text")
    message = KIND.compose(renderer.render(SAMPLE_ITEM, feed, META, KIND))
    return str(getattr(message, "text", ""))


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_template_fails_quickly_with_the_limit_it_hit(templates: Path, name: str) -> None:
    # Each read of the clock is a millisecond: the deadline falls after 1,000 checks. The work
    # they cost is counted in CPU time, which other processes on a busy machine do not stretch.
    renderer = Renderer(templates, limits=Limits(timer=Ticks(0.001)))
    started = time.process_time()
    with pytest.raises(RenderError) as caught:
        render(renderer, f"{name}.j2")
    assert time.process_time() - started < 0.5
    assert f"template '{name}.j2'" in str(caught.value)
    assert HOSTILE[name][1] in str(caught.value)
    assert render(renderer, "normal.j2").startswith("*Riverside Park reopens")


def test_a_render_that_keeps_building_what_each_step_allows_is_stopped_by_its_memory(
    templates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits_module, "MEMORY", 64 * 1024 * 1024)
    (templates / "hoard.j2").write_text(
        "{% set kept = [] %}{% for i in range(100000) %}"
        "{% set _ = kept.append(('x' * 200000) ~ i) %}{% endfor %}{{ kept|length }}"
    )
    renderer = Renderer(templates)
    with pytest.raises(RenderError, match="stopped: over the 64 MiB memory limit"):
        render(renderer, "hoard.j2")
    assert render(renderer, "normal.j2").startswith("*Riverside Park reopens")


def test_memory_running_out_in_a_render_fails_that_item_alone(
    templates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exhausted(*_: object) -> None:
        raise MemoryError

    (templates / "greedy.j2").write_text("{{ item.title.upper() }}")
    renderer = Renderer(templates)
    monkeypatch.setattr(limits_module, "check_call", exhausted)
    with pytest.raises(RenderError, match="MemoryError"):
        render(renderer, "greedy.j2")
    monkeypatch.undo()
    assert render(renderer, "normal.j2").startswith("*Riverside Park reopens")


def test_limits_apply_to_each_render_not_to_the_renderer(templates: Path) -> None:
    renderer = Renderer(templates, limits=Limits(timer=Ticks(0.001)))
    for _ in range(50):  # far more checks in all than one render's deadline allows
        assert render(renderer, "normal.j2").startswith("*Riverside Park reopens")


def test_a_hostile_template_in_a_real_render_returns_within_the_limit(templates: Path) -> None:
    # The real clock, as the daemon renders: a stop signal is answered within 2 s.
    renderer = Renderer(templates)
    started = time.monotonic()
    with pytest.raises(RenderError, match="over the 1 s time limit"):
        render(renderer, "nested-list.j2")
    assert time.monotonic() - started < 1.5


def test_check_fails_for_a_hostile_template(templates: Path) -> None:
    renderer = Renderer(templates, limits=Limits(timer=Ticks(0.001)))
    feed = FeedConfig(name="news", url="", template="repeat.j2", type="text")
    with pytest.raises(RenderError, match=r"repeat\.j2' line 1: refused"):
        renderer.check(feed, KIND)


@pytest.mark.parametrize("kind", ["text", "picture", "url", "video", "file"])
def test_shipped_templates_render_as_jinja_renders_them_unbounded(kind: str) -> None:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(SHIPPED),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    context = {"item": SAMPLE_ITEM, "feed": META, "message_type": kind, "now": NOW}
    context["limit"] = text_limit(kind)
    expected = env.select_template([f"{kind}.j2", "default.j2"]).render(context)
    templates = Templates(SHIPPED, lambda: NOW)
    feed = FeedConfig(name="news", url="")
    actual = templates.render(SAMPLE_ITEM, feed, META, kind, KIND.name, text_limit(kind))
    assert actual == expected


def test_a_render_stays_within_the_limit_of_every_shipped_template() -> None:
    renderer = Renderer(SHIPPED, limits=Limits(seconds=0.05))
    for type in ("text", "picture", "url"):
        renderer.check(FeedConfig(name="news", url="", type=type), KIND)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "{{ item.title }}\n{{ item.titel }}",
            "line 2: item.titel is undefined (did you mean item.title?)",
        ),
        ("{{ feed.titl }}", "line 1: feed.titl is undefined (did you mean feed.title?)"),
        ("{{ itme.title }}", "line 1: itme is undefined (did you mean item?)"),
        ("{{ item.image.urll }}", "line 1: media.urll is undefined (did you mean media.url?)"),
        (
            "{{ item.published.yeer }}",
            "line 1: datetime.yeer is undefined (did you mean datetime.year?)",
        ),
        ("{{ item.xyzzy }}", "line 1: item.xyzzy is undefined"),
        (
            "{{ item.tags[7] }}",
            "line 1: [7] of a list of 3 items is undefined (the first is [0], the last [-1])",
        ),
    ],
    ids=["item-field", "feed-field", "variable", "media-field", "date-field", "no-guess", "index"],
)
def test_an_undefined_name_is_reported_as_the_template_wrote_it(
    tmp_path: Path, source: str, expected: str
) -> None:
    (tmp_path / "typo.j2").write_text(source)
    with pytest.raises(RenderError) as caught:
        render(Renderer(tmp_path), "typo.j2")
    assert str(caught.value).endswith(f"template 'typo.j2' {expected}")


def test_a_date_at_the_end_of_year_9999_is_shown_in_utc_where_the_zone_has_no_such_day() -> None:
    last = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    shown = FILTERS["date"](last, "%d.%m.%Y %H:%M", tz="Pacific/Kiritimati")
    assert shown == "31.12.9999 23:59"
    assert FILTERS["date"](last, "%H:%M", tz="America/New_York") == "18:59"
