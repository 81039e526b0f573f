"""Check JSON Feed 1.0/1.1 and mapped JSON APIs become the expected normalized Items."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from poster.config import FeedConfig, JsonMapping
from poster.models import FetchResult, Media, ParsedFeed, Validators
from poster.parse import parse

FEEDS = Path(__file__).parent / "data" / "feeds"
URL = "https://api.example.com/v1/posts"

API = JsonMapping(
    items="data.posts",
    id="post_id",
    title="headline",
    link="permalink",
    content="body.html",
    text="plain",
    image="cover",
    published="created",
    updated="edited",
    author="writer",
    tags="labels",
)


def parse_file(name: str, format: str = "auto", mapping: JsonMapping | None = None) -> ParsedFeed:
    """Parse a fixture as if fetched from URL, with the given format and mapping."""
    result = FetchResult(
        feed="test", url=URL, status=200, body=(FEEDS / name).read_bytes(), validators=Validators()
    )
    return parse(result, FeedConfig(name="test", url=URL, format=format, json=mapping))


FEED_FIELDS = [
    (
        "jsonfeed10.json",
        "auto",
        None,
        "JSON Feed One",
        "https://json.example.com/",
        "jsonfeed10",
        2,
    ),
    (
        "jsonfeed11.json",
        "auto",
        None,
        "JSON Feed & One Point One",
        "https://podcast.example.com/",
        "jsonfeed11",
        3,
    ),
    (
        "jsonfeed11.json",
        "jsonfeed",
        None,
        "JSON Feed & One Point One",
        "https://podcast.example.com/",
        "jsonfeed11",
        3,
    ),
    ("mapped_api.json", "auto", API, "", None, "json", 3),
    ("mapped_api.json", "json", API, "", None, "json", 3),
]


@pytest.mark.parametrize(
    ("name", "format", "mapping", "title", "link", "kind", "count"),
    FEED_FIELDS,
    ids=[f"{row[0].removesuffix('.json')}-{row[1]}" for row in FEED_FIELDS],
)
def test_feed_level_fields(
    name: str,
    format: str,
    mapping: JsonMapping | None,
    title: str,
    link: str | None,
    kind: str,
    count: int,
) -> None:
    feed = parse_file(name, format, mapping)
    assert (feed.title, feed.link, feed.format, len(feed.items)) == (title, link, kind, count)


ITEM_FIELDS = [
    # JSON Feed 1.0: author object, banner_image, content_text only
    ("jsonfeed10.json", 0, "key", "https://json.example.com/a"),
    ("jsonfeed10.json", 0, "title", "Item with HTML"),
    (
        "jsonfeed10.json",
        0,
        "content_html",
        '<p>Hello <a href="https://api.example.com/world">'
        'world</a>.</p><p><img src="https://api.example.com/pics/a.png"></p>',
    ),
    ("jsonfeed10.json", 0, "content_text", "Hello world."),
    ("jsonfeed10.json", 0, "summary", "Says hello."),
    ("jsonfeed10.json", 0, "author", "Item Writer"),
    ("jsonfeed10.json", 0, "published", datetime(2024, 1, 15, 14, 0, tzinfo=UTC)),
    ("jsonfeed10.json", 0, "updated", datetime(2024, 1, 16, 10, 0, tzinfo=UTC)),
    ("jsonfeed10.json", 0, "tags", ("greeting", "world")),
    ("jsonfeed10.json", 0, "image", Media("https://json.example.com/pics/banner.jpg")),
    ("jsonfeed10.json", 1, "key", "42"),
    ("jsonfeed10.json", 1, "link", "https://elsewhere.example.net/story"),
    ("jsonfeed10.json", 1, "author", "Feed Writer"),
    (
        "jsonfeed10.json",
        1,
        "content_text",
        "Plain text body.\n\nWith two paragraphs & an ampersand.",
    ),
    (
        "jsonfeed10.json",
        1,
        "content_html",
        "<p>Plain text body.</p><p>With two paragraphs &amp; an ampersand.</p>",
    ),
    ("jsonfeed10.json", 1, "image", None),
    # JSON Feed 1.1: authors arrays, attachments, wrong-typed fields ignored
    ("jsonfeed11.json", 0, "author", "Guest Star"),
    ("jsonfeed11.json", 0, "content_html", "<p>Show notes.</p>"),
    ("jsonfeed11.json", 0, "content_text", "Show notes, as text."),
    (
        "jsonfeed11.json",
        0,
        "enclosures",
        (
            Media("https://cdn.example.com/ep2.mp3", "audio/mpeg", 31415926, 1800, "MP3 version"),
            Media("https://api.example.com/ep2.m4a", "audio/x-m4a"),
        ),
    ),
    ("jsonfeed11.json", 1, "key", "ep-1"),
    ("jsonfeed11.json", 1, "title", ""),
    ("jsonfeed11.json", 1, "content_text", "Only text is usable."),
    ("jsonfeed11.json", 1, "summary", "Only text is usable."),
    ("jsonfeed11.json", 1, "author", "Host One"),
    ("jsonfeed11.json", 1, "published", None),
    ("jsonfeed11.json", 1, "tags", ()),
    ("jsonfeed11.json", 1, "image", None),
    ("jsonfeed11.json", 1, "enclosures", ()),
    ("jsonfeed11.json", 2, "key", "https://podcast.example.com/no-id"),
    # mapped JSON API
    ("mapped_api.json", 0, "key", "1001"),
    ("mapped_api.json", 0, "title", "Mapped & parsed"),
    ("mapped_api.json", 0, "link", "https://api.example.com/news/1001?utm_medium=api"),
    ("mapped_api.json", 0, "content_text", "The first post."),
    ("mapped_api.json", 0, "image", Media("https://api.example.com/media/1001.jpg")),
    ("mapped_api.json", 0, "published", datetime(2024, 5, 1, 5, 30, tzinfo=UTC)),
    ("mapped_api.json", 0, "updated", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
    ("mapped_api.json", 0, "author", "Api Author"),
    ("mapped_api.json", 0, "tags", ("news", "api")),
    ("mapped_api.json", 1, "key", "1002"),
    ("mapped_api.json", 1, "content_text", "Plain text only."),
    ("mapped_api.json", 1, "content_html", "<p>Plain text only.</p>"),
    ("mapped_api.json", 1, "image", Media("https://cdn.example.com/1002.jpg")),
    ("mapped_api.json", 1, "published", datetime(2024, 5, 1, 21, 46, 40, tzinfo=UTC)),
    ("mapped_api.json", 1, "author", "Plain Writer"),
    ("mapped_api.json", 1, "tags", ("alpha", "beta")),
    ("mapped_api.json", 2, "published", None),
    ("mapped_api.json", 2, "link", None),
]


@pytest.mark.parametrize(
    ("name", "index", "field", "expected"),
    ITEM_FIELDS,
    ids=[f"{n.removesuffix('.json')}[{i}].{f}" for n, i, f, _ in ITEM_FIELDS],
)
def test_item_fields(name: str, index: int, field: str, expected: object) -> None:
    mapping = API if name.startswith("mapped") else None
    assert getattr(parse_file(name, mapping=mapping).items[index], field) == expected


def test_mapped_item_without_id_or_link_is_keyed_by_content() -> None:
    third = parse_file("mapped_api.json", mapping=API).items[2]
    assert third.key.startswith("sha256:") and len(third.key) == len("sha256:") + 64


def test_mapped_paths_with_numeric_indexes() -> None:
    mapping = JsonMapping(items="0.posts", id="id", title="name")
    feed = parse_file("mapped_indexed.json", "json", mapping)
    assert [(i.key, i.title) for i in feed.items] == [("x1", "Indexed one"), ("x2", "Indexed two")]


def test_mapped_paths_that_no_item_has_are_named() -> None:
    mapping = JsonMapping(items="0.posts", id="uid", title="name", link="url")
    feed = parse_file("mapped_indexed.json", "json", mapping)
    assert [i.title for i in feed.items] == ["Indexed one", "Indexed two"]
    assert feed.warnings == (
        "json.id path 'uid' matches nothing in any of the 2 items",
        "json.link path 'url' matches nothing in any of the 2 items",
    )
    assert parse_file("mapped_indexed.json", "json", JsonMapping("0.posts", "id")).warnings == ()


def test_mapped_root_list() -> None:
    mapping = JsonMapping(items="", title="page")
    feed = parse_file("mapped_indexed.json", "json", mapping)
    assert [i.title for i in feed.items] == ["1"]


def test_jsonfeed_wins_over_a_mapping_in_auto() -> None:
    feed = parse_file("jsonfeed10.json", "auto", JsonMapping(items="items", title="id"))
    assert feed.format == "jsonfeed10"
    assert feed.items[0].title == "Item with HTML"


def test_forced_json_format_uses_the_mapping_even_for_a_json_feed() -> None:
    feed = parse_file("jsonfeed10.json", "json", JsonMapping(items="items", title="id"))
    assert feed.format == "json"
    assert feed.items[0].title == "https://json.example.com/a"


def test_json_feed_recognized_by_its_items_without_a_version() -> None:
    body = b'\xef\xbb\xbf \n{"items": [{"id": "a", "content_html": "<p>Hi &amp; bye</p>"}]}'
    result = FetchResult(feed="t", url=URL, status=200, body=body, validators=Validators())
    feed = parse(result, FeedConfig(name="t", url=URL))
    assert (feed.format, feed.items[0].key, feed.items[0].content_text) == (
        "jsonfeed",
        "a",
        "Hi & bye",
    )


def test_json_feed_titles_summaries_tags_and_names_are_plain_text() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "Tips &amp; <tags>",'
        b' "items": [{"id": "1", "title": "Why <div> beats <span>", "content_html": "<p>x</p>",'
        b' "summary": "Use <b> for bold", "tags": ["<script>"], "authors": [{"name": "A <B>"}]}]}'
    )
    result = FetchResult(feed="test", url=URL, status=200, body=body, validators=Validators())
    parsed = parse(result, FeedConfig(name="test", url=URL))
    [item] = parsed.items
    assert parsed.title == "Tips & <tags>"
    assert (item.title, item.summary, item.tags, item.author) == (
        "Why <div> beats <span>",
        "Use <b> for bold",
        ("<script>",),
        "A <B>",
    )


def _jsonfeed(items: str, content_type: str | None = None) -> FetchResult:
    """Return a fetched JSON Feed 1.1 holding ``items``, as JSON text."""
    body = '{"version": "https://jsonfeed.org/version/1.1", "items": [' + items + "]}"
    return FetchResult(
        feed="t", url=URL, status=200, body=body.encode(), validators=Validators(),
        content_type=content_type,
    )  # fmt: skip


def test_a_number_too_big_for_a_date_or_duration_leaves_that_field_out() -> None:
    huge = "1" + "0" * 400
    result = _jsonfeed(
        f'{{"id": "a", "title": "a", "date_published": {huge},'
        f' "attachments": [{{"url": "v.mp4", "mime_type": "video/mp4",'
        f' "duration_in_seconds": {huge}}}]}},'
        '{"id": "b", "title": "b", "date_published": "2024-03-07T09:15:00Z"}'
    )
    a, b = parse(result, FeedConfig(name="t", url=URL)).items
    assert (a.published, a.enclosures[0].duration) == (None, None)
    assert b.published == datetime(2024, 3, 7, 9, 15, tzinfo=UTC)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_json_in_utf16_or_utf32_is_read_as_json_in_auto(encoding: str) -> None:
    text = '{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "a", "title": "Ж"}]}'
    body = text.encode(encoding)
    result = FetchResult(feed="t", url=URL, status=200, body=body, validators=Validators())
    feed = parse(result, FeedConfig(name="t", url=URL))
    assert (feed.format, feed.items[0].title) == ("jsonfeed11", "Ж")


def test_a_picture_attachment_is_the_items_picture() -> None:
    result = _jsonfeed(
        '{"id": "a", "content_text": "t", "attachments": ['
        '{"url": "/files/report.pdf", "mime_type": "application/pdf"},'
        '{"url": "/img/m.jpg", "mime_type": "image/jpeg", "size_in_bytes": 1000}]}'
    )
    [item] = parse(result, FeedConfig(name="t", url=URL)).items
    assert item.image == Media("https://api.example.com/img/m.jpg", "image/jpeg", 1000)
    assert len(item.enclosures) == 2


def test_json_that_is_not_utf8_is_read_in_the_charset_the_response_declares() -> None:
    text = '{"version": "https://jsonfeed.org/version/1.1", "items": [{"title": "Новости"}]}'
    body = text.encode("cp1251")
    declared = "application/json; charset=windows-1251"
    result = FetchResult(
        feed="t", url=URL, status=200, body=body, validators=Validators(), content_type=declared
    )
    feed = parse(result, FeedConfig(name="t", url=URL))
    assert feed.items[0].title == "Новости"
    assert any("windows-1251" in warning for warning in feed.warnings)
    utf8 = FetchResult(
        feed="t", url=URL, status=200, body=text.encode(), validators=Validators(),
        content_type="application/json; charset=iso-8859-1",
    )  # fmt: skip
    assert parse(utf8, FeedConfig(name="t", url=URL)).items[0].title == "Новости"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_lone_surrogate_escape_is_replaced_in_every_encoding(encoding: str) -> None:
    item = '{"id": "a\\ud800", "title": "bad \\ud800 x"}'
    text = '{"version": "https://jsonfeed.org/version/1.1", "items": [' + item + "]}"
    result = FetchResult(
        feed="t", url=URL, status=200, body=text.encode(encoding), validators=Validators()
    )
    [item] = parse(result, FeedConfig(name="t", url=URL)).items
    assert (item.key, item.title) == ("a\ufffd", "bad \ufffd x")


def test_a_declared_charset_python_cannot_use_falls_back_to_repairing_utf8() -> None:
    item = '{"id": "a", "title": "Жжжж\xff"}'
    body = '{"version": "https://jsonfeed.org/version/1.1", "items": [' + item + "]}"
    result = FetchResult(
        feed="t", url=URL, status=200, body=body.encode("utf-8").replace(b"\xc3\xbf", b"\xff"),
        validators=Validators(), content_type="application/json; charset=undefined",
    )  # fmt: skip
    feed = parse(result, FeedConfig(name="t", url=URL))
    assert feed.items[0].title == "Жжжж\ufffd"
