"""Check the small pure helpers of poster.parse: dates, media, paths and text fields."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime

import pytest

from poster.models import Media
from poster.parse import fields, paths
from poster.parse.dates import from_struct, parse_date
from poster.parse.itemmedia import (
    absolute,
    absolutize,
    choose_image,
    content_images,
    is_image,
    parse_duration,
    parse_length,
    unique_media,
)
from poster.parse.paths import MISSING, lookup

DATES = [
    ("2024-03-07T09:15:00+02:00", datetime(2024, 3, 7, 7, 15, tzinfo=UTC)),
    ("2024-03-07t09:15:00z", datetime(2024, 3, 7, 9, 15, tzinfo=UTC)),
    ("2024-03-07T09:15:00", datetime(2024, 3, 7, 9, 15, tzinfo=UTC)),
    ("2024-03-07", datetime(2024, 3, 7, tzinfo=UTC)),
    ("Tue, 05 Mar 2024 10:30:00 +0300", datetime(2024, 3, 5, 7, 30, tzinfo=UTC)),
    (1709800000, datetime(2024, 3, 7, 8, 26, 40, tzinfo=UTC)),
    (1709800000.5, datetime(2024, 3, 7, 8, 26, 40, 500000, tzinfo=UTC)),
    ("1709800000", datetime(2024, 3, 7, 8, 26, 40, tzinfo=UTC)),
    (1709800000123, datetime(2024, 3, 7, 8, 26, 40, 123000, tzinfo=UTC)),
    ("yesterday", None),
    ("", None),
    (None, None),
    (True, None),
    ([2024], None),
    (1e30, None),
    (10**400, None),
    ("1" + "0" * 400, None),
]


@pytest.mark.parametrize(("value", "expected"), DATES, ids=[repr(v)[:40] for v, _ in DATES])
def test_parse_date(value: object, expected: datetime | None) -> None:
    assert parse_date(value) == expected


def test_from_struct_is_utc_and_rejects_garbage() -> None:
    parsed = time.strptime("2024-03-05 07:30:00", "%Y-%m-%d %H:%M:%S")
    assert from_struct(parsed) == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)
    assert from_struct("2024-03-05") is None
    assert from_struct(None) is None


DURATIONS = [
    ("01:02:03", 3723),
    ("5:07", 307),
    ("95", 95),
    ("95.6", 96),
    (1800.4, 1800),
    (90, 90),
    ("", None),
    ("long", None),
    ("1:2:3:4", None),
    ("-5", None),
    (0, None),
    (True, None),
    (None, None),
    (10**400, None),
]


@pytest.mark.parametrize(("value", "expected"), DURATIONS, ids=[repr(v)[:40] for v, _ in DURATIONS])
def test_parse_duration(value: object, expected: int | None) -> None:
    assert parse_duration(value) == expected


LENGTHS = [
    ("12345", 12345),
    (" 42 ", 42),
    (31415926, 31415926),
    ("0", None),
    (0, None),
    ("not-a-number", None),
    ("1e5", None),
    ("-3", None),
    (True, None),
    (None, None),
    ([1], None),
]


@pytest.mark.parametrize(("value", "expected"), LENGTHS, ids=[repr(v) for v, _ in LENGTHS])
def test_parse_length(value: object, expected: int | None) -> None:
    assert parse_length(value) == expected


DOC = {"data": [{"posts": [{"id": 1}]}], "meta": {"count": 0, "none": None}}
PATHS = [
    ("", DOC),
    ("data.0.posts.0.id", 1),
    ("data.-1.posts", [{"id": 1}]),
    ("meta.count", 0),
    ("meta.none", None),
    ("meta.missing", MISSING),
    ("data.1", MISSING),
    ("data.x", MISSING),
    ("meta.count.deeper", MISSING),
]


@pytest.mark.parametrize(("path", "expected"), PATHS, ids=[p or "root" for p, _ in PATHS])
def test_lookup(path: str, expected: object) -> None:
    assert lookup(DOC, path) == expected


def test_choose_image_prefers_jpeg_then_order() -> None:
    png, jpeg = Media("https://e.com/a.png"), Media("https://e.com/b", "image/jpeg")
    assert choose_image([None, png, jpeg]) == jpeg
    assert choose_image([png, Media("https://e.com/c.gif")]) == png
    assert choose_image([None]) is None


def test_content_images_skip_pixels_and_resolve() -> None:
    markup = (
        '<p><img src="https://t.example.com/p.gif" width="1" height="1">'
        "<IMG alt='x' SRC='pics/a.jpg?x=1&amp;y=2'><img src=\"data:image/png;base64,AA\">"
        '<img src="javascript:alert(1)"></p>'
    )
    assert list(content_images(markup, "https://e.com/d/")) == [
        Media("https://e.com/d/pics/a.jpg?x=1&y=2", title="x")
    ]


def test_absolutize_resolves_only_relative_attributes_inside_tags() -> None:
    markup = (
        '<a href="/x?a=1&amp;b=2">x</a><img src=pic.jpg><a href="#top">t</a>'
        '<a href="mailto:a@b.c">m</a> &lt;a href="/code"&gt;'
    )
    assert absolutize(markup, "https://e.com/dir/feed") == (
        '<a href="https://e.com/x?a=1&amp;b=2">x</a><img src="https://e.com/dir/pic.jpg">'
        '<a href="#top">t</a><a href="mailto:a@b.c">m</a> &lt;a href="/code"&gt;'
    )


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("/a.jpg", "https://e.com/x/", "https://e.com/a.jpg"),
        ("b.jpg", "https://e.com/x/", "https://e.com/x/b.jpg"),
        ("javascript:alert(1)", "https://e.com/", None),
        ("ftp://e.com/a", None, None),
        ("", "https://e.com/", None),
        (7, "https://e.com/", None),
    ],
    ids=["root-relative", "relative", "javascript", "ftp", "blank", "not-a-string"],
)
def test_absolute(url: object, base: str | None, expected: str | None) -> None:
    assert absolute(url, base) == expected


@pytest.mark.parametrize(
    ("mime_type", "url", "medium", "expected"),
    [
        ("image/png", "https://e.com/x", None, True),
        (None, "https://e.com/x.JPG?w=1", None, True),
        (None, "https://e.com/x.mp3", None, False),
        ("image/jpeg", "https://e.com/x", "video", False),
        (None, "https://e.com/x", "image", True),
    ],
    ids=["mime", "extension", "audio", "medium-wins", "medium"],
)
def test_is_image(mime_type: str | None, url: str, medium: str | None, expected: bool) -> None:
    assert is_image(mime_type, url, medium) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Cats &amp; dogs", "Cats & dogs"),
        ("<b>Bold</b>\n  title", "Bold title"),
        ("a < b and c > d", "a < b and c > d"),
        (42, "42"),
        (None, ""),
        (["x"], ""),
    ],
    ids=["entity", "markup", "comparison", "number", "none", "list"],
)
def test_plain_line(value: object, expected: str) -> None:
    assert fields.plain_line(value) == expected


def test_a_huge_title_is_cut_to_the_line_limit_in_memory_near_its_size() -> None:
    title = "word " * 2_000_000
    tracemalloc.start()
    try:
        line = fields.plain_line(title)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert line.endswith("word…")
    assert len(line) <= fields.LINE_LIMIT
    assert line.removesuffix("…") == " ".join(title.split()[: line.count("word")])
    assert peak < 2 * 1024 * 1024, f"normalizing a 10 MB title took {peak:,} bytes"


def test_unique_strings_keeps_first_spelling() -> None:
    assert fields.unique_strings(["News", " news ", "", 2024, None, "Tech", "NEWS"]) == (
        "News",
        "2024",
        "Tech",
    )


def test_text_to_html_escapes_and_keeps_paragraphs() -> None:
    assert fields.text_to_html("a < b\nnext\n\n second") == "<p>a &lt; b<br>\nnext</p><p>second</p>"


def test_summary_is_derived_from_long_content() -> None:
    text = "word " * 400
    summary = fields.summary_or_derived("", text.strip())
    assert len(summary) <= fields.SUMMARY_LIMIT and summary.endswith("…")
    assert fields.summary_or_derived("Given.", text) == "Given."


def test_repeated_media_are_merged() -> None:
    enclosure = Media("https://x.org/a.mp4", "video/mp4", length=900)
    content = Media("https://x.org/a.mp4", None, duration=64, title="Clip")
    other = Media("https://x.org/b.mp3", "audio/mpeg")
    merged = unique_media([enclosure, other, content])
    assert merged == (Media("https://x.org/a.mp4", "video/mp4", 900, 64, "Clip"), other)


@pytest.mark.parametrize(
    ("step", "index"), [("0", True), ("-2", True), ("²", False), ("-٣", False)]
)
def test_only_ascii_digits_make_a_list_index(step: str, index: bool) -> None:
    assert paths._is_index(step) is index
