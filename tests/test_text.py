"""Tests for HTML to plain text and word-boundary truncation."""

from __future__ import annotations

import pytest

import poster.text
from poster.htmltext import html_to_text
from poster.text import truncate, when


@pytest.mark.parametrize(
    ("markup", "links", "expected"),
    [
        pytest.param("", False, "", id="empty"),
        pytest.param("Tom &amp; Jerry", False, "Tom & Jerry", id="plain-text-entities"),
        pytest.param(
            "<p>Hello <b>world</b></p><p>Second&nbsp;para</p>",
            False,
            "Hello world\n\nSecond para",
            id="paragraphs",
        ),
        pytest.param(
            "<ul><li>one</li><li>two</li></ul><p>after</p>",
            False,
            "• one\n• two\n\nafter",
            id="bullets",
        ),
        pytest.param("<ol><li>a<li>b</ol>", False, "1. a\n2. b", id="numbered"),
        pytest.param("<p>a<br>b<br/>c</p>", False, "a\nb\nc", id="line-breaks"),
        pytest.param("<script>x()</script><style>p{}</style>shown", False, "shown", id="skipped"),
        pytest.param("<h2>Head</h2>Body", False, "Head\n\nBody", id="heading"),
        pytest.param(
            '<p>See <a href="https://x.org/a">the docs</a>.</p>',
            True,
            "See the docs (https://x.org/a).",
            id="link-target-shown",
        ),
        pytest.param(
            '<p>See <a href="https://x.org/a">the docs</a>.</p>',
            False,
            "See the docs.",
            id="links-off",
        ),
        pytest.param(
            '<a href="https://x.org/">https://x.org/</a>',
            True,
            "https://x.org/",
            id="link-is-label",
        ),
        pytest.param('<a href="/local">here</a>', True, "here", id="relative-link-hidden"),
        pytest.param(
            "<p>Привет,\n   мир</p>\n\n\n<p>ещё</p>", False, "Привет, мир\n\nещё", id="cyrillic"
        ),
        pytest.param("<p>x</p><p></p><p></p><p>y</p>", False, "x\n\ny", id="blank-runs"),
    ],
)
def test_html_to_text(markup: str, links: bool, expected: str) -> None:
    assert html_to_text(markup, links=links) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        pytest.param("short", 10, "short", id="fits"),
        pytest.param("exactly ten", 11, "exactly ten", id="exact"),
        pytest.param("anything", 0, "", id="zero"),
        pytest.param("Hello brave new world", 12, "Hello brave…", id="word-boundary"),
        pytest.param("Hello, world. More text", 14, "Hello, world…", id="ends-on-boundary"),
        pytest.param("Hello, world and more", 9, "Hello…", id="punctuation-trimmed"),
        pytest.param("Привет мир как дела", 12, "Привет мир…", id="cyrillic-counts-characters"),
        pytest.param("a" * 20, 10, "a" * 9 + "…", id="one-long-word"),
        pytest.param("ab cdefghijklmnop", 10, "ab cdefgh…", id="early-space-ignored"),
        pytest.param("abcdef", 1, "a", id="no-room-for-ellipsis"),
        pytest.param("👍🏽👍🏽👍🏽", 4, "👍🏽…", id="skin-tone-kept"),
        pytest.param("🇺🇦🇺🇦🇺🇦", 4, "🇺🇦…", id="flag-kept"),
        pytest.param("e\u0301e\u0301e\u0301", 4, "e\u0301…", id="accent-kept"),
        pytest.param("👨\u200d👩\u200d👧 family", 4, "…", id="zwj-sequence-whole-or-nothing"),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    result = truncate(text, limit)
    assert result == expected
    assert len(result) <= limit


def test_truncate_custom_ellipsis() -> None:
    assert truncate("one two three four", 12, " [more]") == "one [more]"


def test_html_to_text_still_reads_from_poster_text() -> None:
    assert poster.text.html_to_text is html_to_text
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = poster.text.nothing  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (None, "later"),
        (0, "in 0s"),
        (30, "in 30s"),
        (90, "in 90s"),
        (600, "in 10min"),
        (7200, "in 2h"),
        (3 * 86400, "in 3d"),
        (2**31, "in over a year"),  # a Retry-After far off, as parse_retry_after caps it
    ],
)
def test_a_wait_is_said_in_its_largest_unit(seconds: float | None, said: str) -> None:
    assert when(seconds) == said
