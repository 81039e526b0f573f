"""Check that bodies which are not feeds raise one ParseError with a clear message."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from poster.config import FeedConfig, JsonMapping
from poster.errors import FeedError, ParseError
from poster.models import FetchResult, ParsedFeed, Validators
from poster.parse import parse

FEEDS = Path(__file__).parent / "data" / "feeds"
URL = "https://example.com/feed"


def parse_body(body: bytes, format: str = "auto", mapping: JsonMapping | None = None) -> ParsedFeed:
    """Parse ``body`` for a feed called "broken"."""
    result = FetchResult(feed="broken", url=URL, status=200, body=body, validators=Validators())
    return parse(result, FeedConfig(name="broken", url=URL, format=format, json=mapping))


CASES = [
    (
        "broken-xml",
        (FEEDS / "broken.xml").read_bytes(),
        "auto",
        None,
        "not a feed: XML error at line 4: mismatched tag",
    ),
    (
        "broken-json",
        (FEEDS / "broken.json").read_bytes(),
        "auto",
        None,
        "invalid JSON at line 1 column 69: Expecting property name enclosed in double quotes",
    ),
    (
        "html-page",
        (FEEDS / "not_a_feed.html").read_bytes(),
        "auto",
        None,
        "not a feed: got an HTML page",
    ),
    ("empty-body", b"", "auto", None, "not a feed: the body is empty"),
    ("blank-body", b" \r\n\t", "xml", None, "not a feed: the body is empty"),
    (
        "unknown-root",
        b"<?xml version='1.0'?><catalog><book/></catalog>",
        "auto",
        None,
        "not a feed: no RSS, Atom or RDF root element",
    ),
    ("plain-text", b"Service Unavailable", "auto", None, "not a feed: "),
    (
        "xml-error-line-without-declaration",
        b"<rss>\n<channel>\n\x01</channel></rss>",
        "auto",
        None,
        "not a feed: XML error at line 3: not well-formed (invalid token)",
    ),
    (
        "xml-error-line-after-bom",
        b"\xef\xbb\xbf<?xml version='1.0'?>\n<rss>\n\x01</rss>",
        "auto",
        None,
        "not a feed: XML error at line 3: not well-formed (invalid token)",
    ),
    ("json-null", b"null\n", "auto", None, "not a feed: the body is JSON null"),
    ("json-string", b'"hello"', "auto", None, "not a feed: the body is a JSON string"),
    ("json-number", b"1e999", "auto", None, "not a feed: the body is a JSON number"),
    ("xml-forced-on-json", b'{"items": []}', "xml", None, "not a feed: "),
    ("json-forced-on-xml", b"<rss/>", "jsonfeed", None, "invalid JSON at line 1 column 1"),
    ("json-not-utf8", b'{"title": "\xff\xfe\xfa"}', "auto", None, "invalid JSON: not UTF-8"),
    (
        "json-too-deep",
        b"[" * 100_000 + b"]" * 100_000,
        "auto",
        None,
        "invalid JSON: nested too deeply",
    ),
    (
        "json-number-too-long",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": ' + b"9" * 5000 + b"}]}",
        "auto",
        None,
        "invalid JSON: a number too long to read",
    ),
    (
        "json-nan",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": NaN}]}',
        "auto",
        None,
        "invalid JSON: NaN is not a JSON number",
    ),
    (
        "json-without-mapping",
        b'[{"id": 1}]',
        "auto",
        None,
        "not a feed: the JSON is not a JSON Feed",
    ),
    (
        "json-format-without-mapping",
        b'{"items": []}',
        "json",
        None,
        'format "json" needs a json table',
    ),
    (
        "jsonfeed-top-level-list",
        b"[]",
        "jsonfeed",
        None,
        "not a JSON Feed: the top level is not an object",
    ),
    (
        "jsonfeed-items-not-list",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}',
        "auto",
        None,
        'not a JSON Feed: "items" is missing or not an array',
    ),
    (
        "mapped-missing-path",
        b'{"data": {"posts": []}}',
        "json",
        JsonMapping(items="data.articles"),
        "json.items path 'data.articles' is not in the JSON document",
    ),
    (
        "mapped-index-out-of-range",
        b'{"data": [{"posts": []}]}',
        "json",
        JsonMapping(items="data.3.posts"),
        "json.items path 'data.3.posts' is not in",
    ),
    (
        "mapped-path-to-object",
        b'{"data": {"posts": {"a": 1}}}',
        "json",
        JsonMapping(items="data.posts"),
        "json.items path 'data.posts' is an object, not an array",
    ),
    (
        "xml-nested-100000-deep",
        b"<rss version='2.0'><channel><item><title>Deep</title>"
        + b"<x>" * 100_000
        + b"</x>" * 100_000
        + b"</item></channel></rss>",
        "auto",
        None,
        "not a feed: XML elements nested more than 1000 deep",
    ),
    (
        "mapped-root-not-list",
        b'{"a": 1}',
        "json",
        JsonMapping(items=""),
        "the JSON document is an object, not an array",
    ),
]


@pytest.mark.parametrize(
    ("body", "format", "mapping", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_not_a_feed(body: bytes, format: str, mapping: JsonMapping | None, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_body(body, format, mapping)
    assert caught.value.feed == "broken"
    assert str(caught.value).startswith(f"feed 'broken': {message}")


def test_a_lone_surrogate_escape_becomes_a_replacement_character_with_a_warning() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "a\\ud800",'
        b' "title": "\\udfffSmile \\ud83d\\ude00", "content_text": "x"}]}'
    )
    parsed = parse_body(body)
    [item] = parsed.items
    assert (item.key, item.title) == ("a\ufffd", "\ufffdSmile \U0001f600")
    assert "lone surrogate escapes replaced with U+FFFD" in parsed.warnings
    item.key.encode("utf-8")  # what the state file and every log line write


def test_parse_error_is_a_feed_error() -> None:
    with pytest.raises(FeedError):
        parse_body(b"<html><body>nope</body></html>")


def test_ill_formed_feed_with_entries_is_read() -> None:
    result = FetchResult(
        feed="bozo",
        url=URL,
        status=200,
        body=b"<rss version='2.0'><channel><title>T</title><item><title>A &nbsp; B</title>"
        b"<guid>g1</guid></item><item><title>unclosed</channel></rss>",
        validators=Validators(),
    )
    feed = parse(result, FeedConfig(name="bozo", url=URL))
    assert [item.key for item in feed.items][:1] == ["g1"]
    assert feed.items[0].title == "A B"


def test_deep_xml_is_refused_before_a_tree_is_built() -> None:
    nested = b"<x>" * 100_000 + b"</x>" * 100_000
    body = b"<rss version='2.0'><channel><item><title>D</title>%s</item></channel></rss>" % nested
    tracemalloc.start()
    try:
        with pytest.raises(ParseError, match="nested more than 1000 deep"):
            parse_body(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Decoding holds a copy or two of the body; a tree of its 100,000 elements would take 30 MB.
    assert peak < 4 * len(body)


def test_xml_nested_up_to_the_depth_limit_is_read() -> None:
    nested = b"<x>" * 990 + b"</x>" * 990
    body = (
        b"<rss version='2.0'><channel><item><title>Deep</title>%s</item></channel></rss>" % nested
    )
    result = FetchResult(feed="deep", url=URL, status=200, body=body, validators=Validators())
    feed = parse(result, FeedConfig(name="deep", url=URL))
    assert [item.title for item in feed.items] == ["Deep"]


def test_valid_feed_without_items_is_empty() -> None:
    body = b"<feed xmlns='http://www.w3.org/2005/Atom'><title>Quiet</title></feed>"
    result = FetchResult(feed="quiet", url=URL, status=200, body=body, validators=Validators())
    feed = parse(result, FeedConfig(name="quiet", url=URL))
    assert (feed.title, feed.items, feed.format) == ("Quiet", (), "atom10")
