"""Check that RSS, Atom and RDF fixtures become the expected normalized Items."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from poster.config import FeedConfig
from poster.models import FetchResult, Item, Media, ParsedFeed, Validators
from poster.parse import parse

FEEDS = Path(__file__).parent / "data" / "feeds"
URL = "https://example.com/feed.xml"


def parse_file(name: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a fixture as if it had been fetched from URL."""
    result = FetchResult(
        feed="test",
        url=URL,
        status=200,
        body=(FEEDS / name).read_bytes(),
        validators=Validators(),
        content_type=content_type,
    )
    return parse(result, FeedConfig(name="test", url=URL))


def item(name: str, index: int) -> Item:
    """Return one item of a fixture."""
    return parse_file(name).items[index]


FEED_FIELDS = [
    ("rss20_media.xml", "Example & Co. News", "https://example.com/", "rss20", 4),
    ("atom10.xml", "Example Blog", "https://blog.example.org/", "atom10", 4),
    ("rdf10.xml", "RDF Site", "https://rdf.example.com/", "rss10", 2),
    ("rss091.xml", "Old School", "http://old.example.com/", "rss091n", 2),
    ("rss20_bozo_entries.xml", "Lenient News", None, "rss20", 2),
    ("rss20_empty.xml", "Nothing yet", "https://empty.example.com/", "rss20", 0),
]


@pytest.mark.parametrize(
    ("name", "title", "link", "format", "count"),
    FEED_FIELDS,
    ids=[row[0].removesuffix(".xml") for row in FEED_FIELDS],
)
def test_feed_level_fields(
    name: str, title: str, link: str | None, format: str, count: int
) -> None:
    feed = parse_file(name)
    assert (feed.title, feed.link, feed.format, len(feed.items)) == (title, link, format, count)


MP3 = Media("https://cdn.example.com/episode1.mp3", "audio/mpeg", 12345, 3723)


ITEM_FIELDS = [
    # RSS 2.0 with content:encoded, Media RSS, enclosures and iTunes tags
    ("rss20_media.xml", 0, "key", "tag:example.com,2024:post-1"),
    ("rss20_media.xml", 0, "title", "Cats & dogs: a study"),
    ("rss20_media.xml", 0, "link", "https://example.com/posts/cats-dogs"),
    ("rss20_media.xml", 0, "author", "Ada Lovelace"),
    ("rss20_media.xml", 0, "tags", ("Pets", "Science")),
    ("rss20_media.xml", 0, "published", datetime(2024, 3, 5, 7, 30, tzinfo=UTC)),
    ("rss20_media.xml", 0, "updated", None),
    ("rss20_media.xml", 0, "summary", "Short teaser about cats."),
    (
        "rss20_media.xml",
        0,
        "content_text",
        "Cats and dogs live together.\n\nCats\n\nSecond paragraph & more.",
    ),
    (
        "rss20_media.xml",
        0,
        "image",
        Media("https://cdn.example.com/cats.jpg", "image/jpeg", 4096),
    ),
    ("rss20_media.xml", 0, "thumbnail", Media("https://cdn.example.com/cats-small.jpg")),
    ("rss20_media.xml", 0, "enclosures", (MP3,)),
    ("rss20_media.xml", 1, "key", "https://example.com/posts/video-day?id=7"),
    ("rss20_media.xml", 1, "image", Media("https://cdn.example.com/poster.jpg", "image/jpeg")),
    (
        "rss20_media.xml",
        1,
        "enclosures",
        (
            Media("https://cdn.example.com/poster.jpg", "image/jpeg"),
            Media("https://cdn.example.com/clip.mp4", "video/mp4", 987654, 120),
        ),
    ),
    ("rss20_media.xml", 1, "content_html", "<p>Watch <b>this</b>.</p>"),
    ("rss20_media.xml", 2, "link", None),
    (
        "rss20_media.xml",
        2,
        "image",
        Media("https://example.com/pics/photo.jpeg?size=large&v=2"),
    ),
    (
        "rss20_media.xml",
        2,
        "enclosures",
        (Media("https://cdn.example.com/episode3.m4a", "audio/mp4", None, 95),),
    ),
    ("rss20_media.xml", 3, "link", "https://example.com/posts/relative-link"),
    ("rss20_media.xml", 3, "image", Media("https://cdn.example.com/untyped.jpg")),
    (
        "rss20_media.xml",
        3,
        "content_html",
        '<p>Look: <img src="https://example.com/img/only.gif"></p>',
    ),
    # Atom 1.0 with xml:base, typed text constructs and inherited authors
    ("atom10.xml", 0, "author", "Grace Hopper"),
    ("atom10.xml", 0, "published", datetime(2024, 3, 7, 7, 15, tzinfo=UTC)),
    ("atom10.xml", 0, "updated", datetime(2024, 3, 7, 9, 0, tzinfo=UTC)),
    ("atom10.xml", 0, "summary", "A short summary."),
    ("atom10.xml", 0, "content_text", "Body with a figure."),
    ("atom10.xml", 0, "image", Media("https://blog.example.org/images/figure.jpg")),
    (
        "atom10.xml",
        0,
        "enclosures",
        (Media("https://blog.example.org/media/talk.ogg", "audio/ogg", 5000),),
    ),
    ("atom10.xml", 1, "title", "XHTML title"),
    ("atom10.xml", 1, "link", "https://other.example.net/deep/page.html"),
    ("atom10.xml", 1, "author", "Feed Author"),
    (
        "atom10.xml",
        1,
        "content_html",
        "<p>Paragraph one.</p><p>Paragraph <a "
        'href="https://other.example.net/deep/two.html">two</a>.</p>',
    ),
    ("atom10.xml", 1, "summary", "Paragraph one.\n\nParagraph two."),
    ("atom10.xml", 2, "title", "Plain <text> title"),
    ("atom10.xml", 2, "link", None),
    ("atom10.xml", 2, "content_text", "Line one <not a tag>.\n\nSecond paragraph."),
    (
        "atom10.xml",
        2,
        "content_html",
        "<p>Line one &lt;not a tag&gt;.</p><p>Second paragraph.</p>",
    ),
    ("atom10.xml", 3, "updated", datetime(2024, 3, 4, 8, 0, tzinfo=UTC)),
    ("atom10.xml", 3, "content_text", "Just a summary."),
    # RSS 1.0 (RDF) with Dublin Core
    ("rdf10.xml", 0, "key", "https://rdf.example.com/first"),
    ("rdf10.xml", 0, "author", "Tim Berners-Lee"),
    ("rdf10.xml", 0, "tags", ("Semantic Web",)),
    ("rdf10.xml", 0, "updated", datetime(2024, 2, 1, 9, 0, tzinfo=UTC)),
    ("rdf10.xml", 1, "content_text", "Full second item."),
    ("rdf10.xml", 1, "summary", "The second item, with markup."),
    # RSS 0.91 with a DOCTYPE
    ("rss091.xml", 0, "title", "First & oldest"),
    ("rss091.xml", 0, "content_text", "An item from 1999 — plain."),
    ("rss091.xml", 1, "key", "http://old.example.com/2.html"),
    ("rss091.xml", 1, "content_text", ""),
    # Undefined entities make the XML ill-formed; feedparser still reads the entries
    ("rss20_bozo_entries.xml", 0, "title", "Undefined entity"),
    ("rss20_bozo_entries.xml", 0, "key", "bozo-1"),
    ("rss20_bozo_entries.xml", 0, "content_text", "Still © readable"),
]


@pytest.mark.parametrize(
    ("name", "index", "field", "expected"),
    ITEM_FIELDS,
    ids=[f"{name.removesuffix('.xml')}[{index}].{field}" for name, index, field, _ in ITEM_FIELDS],
)
def test_item_fields(name: str, index: int, field: str, expected: object) -> None:
    assert getattr(item(name, index), field) == expected


def test_items_keep_document_order() -> None:
    titles = [entry.title for entry in parse_file("rss20_media.xml").items]
    assert titles == [
        "Cats & dogs: a study",
        "Video day",
        "No link, no guid",
        "Only an image in the text",
    ]


def test_dates_are_timezone_aware() -> None:
    dates = [entry.date for entry in parse_file("atom10.xml").items]
    assert dates and all(date is not None and date.tzinfo is not None for date in dates)


def test_script_content_does_not_reach_the_text() -> None:
    first = item("rss20_media.xml", 0)
    assert "<script>" in first.content_html
    assert "alert" not in first.content_text


def test_relative_urls_resolve_against_the_fetched_url() -> None:
    result = FetchResult(
        feed="test",
        url="https://mirror.example.net/sub/feed.rss",
        status=200,
        body=(FEEDS / "rss20_media.xml").read_bytes(),
        validators=Validators(),
    )
    last = parse(result, FeedConfig(name="test", url=URL)).items[3]
    assert last.link == "https://mirror.example.net/posts/relative-link"
    assert 'src="https://mirror.example.net/img/only.gif"' in last.content_html
