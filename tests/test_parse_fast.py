"""Check that the ElementTree fast path gives exactly the feedparser path's feed, or None.

The proof is the equivalence test: for every file of feedparser's corpus, every fixture and a
set of generated feeds, wherever ``parse_fast`` gives a feed it equals ``parse_xml``'s field by
field (body parts forced), and the feed data and entries it read equal feedparser's.
"""

from __future__ import annotations

import functools
import inspect
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import pytest
from support.samefeed import (
    CORPUS,
    SYNTHETIC,
    URL,
    by_feedparser,
    corpus_directories,
    corpus_files,
    derive_text_once,
    feed_differences,
    feedparser_document,
    fetched,
    folder,
    needs_corpus,
    same_feed,
)

import poster.parse.xmlfeed
from poster.config import FeedConfig
from poster.models import FetchResult, ParsedFeed
from poster.parse import parse
from poster.parse.fastsax import FastFeedParser
from poster.parse.fastxml import FeedData, fast_feed, parse_fast, read_fast
from poster.parse.xmlfeed import parse_xml

FEEDS = Path(__file__).parent / "data" / "feeds"
FAST = FEEDS / "fast"


def raw_differences(result: FetchResult, mine: FeedData) -> list[str]:
    """Name what differs between the fast reader's feed data and feedparser's own."""
    theirs = feedparser_document(result)
    pairs = {
        "feed": (dict(mine.feed), dict(theirs["feed"])),
        "entries": (list(mine.entries), list(theirs["entries"])),
        "version": (mine.version, theirs["version"]),
        "bozo": (mine.bozo, bool(theirs["bozo"])),
    }
    return [f"raw {name}" for name, (left, right) in pairs.items() if left != right]


@dataclass(frozen=True)
class Comparison:
    """How one document fared: whether it took the fast path, and what differed."""

    fast: bool
    differences: tuple[str, ...] = ()


def compare(result: FetchResult, feed: FeedConfig | None = None) -> Comparison:
    """Parse a document on both paths and compare the outcomes."""
    feed = feed or same_feed(result)
    # parse_fast is fast_feed over read_fast: the feed data is read once for both comparisons.
    data = read_fast(result)
    fast = fast_feed(data, result, feed)
    if fast is None:
        return Comparison(fast=False)
    assert data is not None
    found = feed_differences(fast, by_feedparser(result, feed)) + raw_differences(result, data)
    return Comparison(fast=True, differences=tuple(found))


@pytest.fixture(autouse=True)
def text_derived_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Share the text of each piece of HTML between the readers compared (``samefeed``)."""
    derive_text_once(monkeypatch)


@functools.cache
def corpus() -> dict[str, Comparison]:
    """Return the comparison of every XML file of the corpus, by path relative to it."""
    return {str(p.relative_to(CORPUS)): compare(fetched(p.read_bytes())) for p in corpus_files()}


@needs_corpus
@pytest.mark.parametrize("directory", corpus_directories())
def test_corpus_files_read_alike_on_both_paths(directory: str) -> None:
    mine = {path: c for path, c in corpus().items() if folder(path) == directory}
    assert mine
    assert {path: c.differences for path, c in mine.items() if c.differences} == {}


# How many files of each folder the fast path reads; the rest use xml:base, XHTML or base64
# content, DOCTYPEs, Atom 0.3 or CDF, or are not well-formed. "<!DOCTYPE" in an item's CDATA
# section is not one (item_description_not_a_doctype2.xml).
FAST_COUNTS = [
    ("wellformed/rss", 181, 191),
    ("wellformed/atom10", 196, 243),
    ("wellformed/itunes", 56, 56),
    ("wellformed/rdf", 9, 12),
    ("wellformed/sanitize", 422, 745),
    ("encoding", 53, 82),
    ("entities", 0, 256),
    ("illformed", 1, 8),
]


@needs_corpus
@pytest.mark.parametrize(
    ("directory", "fast", "total"), FAST_COUNTS, ids=[c[0] for c in FAST_COUNTS]
)
def test_most_wellformed_feeds_take_the_fast_path(directory: str, fast: int, total: int) -> None:
    mine = [c for path, c in corpus().items() if folder(path) == directory]
    assert (sum(c.fast for c in mine), len(mine)) == (fast, total)


@needs_corpus
def test_fast_path_count_over_the_whole_corpus() -> None:
    assert (sum(c.fast for c in corpus().values()), len(corpus())) == (1020, 2106)


CONTENT_TYPES = [
    None,
    "application/rss+xml",
    "text/xml",
    "text/html; charset=windows-1251",
    "application/xml; charset=koi8-r",
    "text/xml; charset=iso-8859-1",
]
FIXTURES = sorted(p.name for p in [*FEEDS.glob("*.xml"), *FEEDS.glob("*.html")]) + sorted(
    f"fast/{p.name}" for p in FAST.glob("*.xml")
)


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=[str(c) for c in CONTENT_TYPES])
@pytest.mark.parametrize("name", FIXTURES)
def test_fixtures_read_alike_on_both_paths(name: str, content_type: str | None) -> None:
    assert compare(fetched((FEEDS / name).read_bytes(), content_type)).differences == ()


TAKEN = [
    "rss20_media.xml",
    "rdf10.xml",
    "rss20_koi8r.xml",
    "fast/atom10_plain.xml",
    "fast/rss20_tricky.xml",
]


@pytest.mark.parametrize("name", TAKEN)
def test_plain_fixtures_take_the_fast_path(name: str) -> None:
    assert compare(fetched((FEEDS / name).read_bytes())) == Comparison(fast=True)


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_generated_feeds_read_alike_on_both_paths(name: str) -> None:
    assert compare(fetched(SYNTHETIC[name](), "application/rss+xml")) == Comparison(fast=True)


def test_benchmark_like_feed_gives_all_items_and_media() -> None:
    feed = parse_fast(fetched(SYNTHETIC["rss-30-items-4k-html"]()), FeedConfig("fast", URL))
    assert feed is not None and len(feed.items) == 30
    first = feed.items[0]
    assert (first.key, first.title, first.author) == ("bench-0", "Item 0 & more – ok", "José 0")
    assert first.enclosures[0].url == "https://cdn.example.com/audio/0.mp3"
    assert len(first.content_html) > 4096


KEYS = [None, "guid", "id", "link", "title", "comments", "links.0.href", "media_content.0.url"]


@pytest.mark.parametrize("key", KEYS, ids=[str(k) for k in KEYS])
def test_keys_are_the_same_on_both_paths_under_every_key_setting(key: str | None) -> None:
    result = fetched(SYNTHETIC["rss-30-items-4k-html"]())
    feed = FeedConfig(name="fast", url=URL, key=key)
    fast = parse_fast(result, feed)
    assert fast is not None
    assert [i.key for i in fast.items] == [i.key for i in parse_xml(result, feed).items]


RSS = "<rss version='2.0'><channel><title>T</title><item>{}</item></channel></rss>"
ATOM = "<feed xmlns='http://www.w3.org/2005/Atom'><title>T</title><entry>{}</entry></feed>"
RDF = (
    "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' {}>"
    "<item rdf:about='http://e.com/1'><title>a</title></item></rdf:RDF>"
)
FALLBACKS = [
    ("ill-formed", RSS.format("<title>open</channel>"), None),
    ("doctype", "<!DOCTYPE rss SYSTEM 'x.dtd'>" + RSS.format("<title>a</title>"), None),
    ("entity-declaration", "<!DOCTYPE rss [<!ENTITY e 'x'>]>" + RSS.format("&e;"), None),
    ("html-page", (FEEDS / "not_a_feed.html").read_text(), "text/html; charset=utf-8"),
    ("atom-0.3", "<feed version='0.3' xmlns='http://purl.org/atom/ns#'><entry/></feed>", None),
    ("atom-without-namespace", "<feed><entry><title>a</title></entry></feed>", None),
    ("cdf", "<CHANNEL HREF='http://e.com/'><ITEM HREF='http://e.com/1'/></CHANNEL>", None),
    ("rss-0.90", RDF.format("xmlns='http://my.netscape.com/rdf/simple/0.9/'"), None),
    ("unknown-root", "<catalog><item><title>a</title></item></catalog>", None),
    ("xml-base", ATOM.format("<link xml:base='http://e.com/' href='a'/>"), None),
    ("base-attribute", RSS.format("<link base='http://e.com/'>a</link>"), None),
    ("xhtml-content", ATOM.format("<content type='xhtml'><div>a</div></content>"), None),
    ("base64-content", ATOM.format("<content type='image/png'>YQ==</content>"), None),
    ("markup-in-description", RSS.format("<description>a <b>b</b></description>"), None),
    (
        "ambiguous-attribute-prefix",
        RDF.format(
            "xmlns:r='http://www.w3.org/1999/02/22-rdf-syntax-ns#' xmlns='http://purl.org/rss/1.0/'"
        ),
        None,
    ),
    ("space-in-namespace", RSS.format("<x:a xmlns:x='urn:a b'>a</x:a>"), None),
    ("deeper-than-recursion", RSS.format("<x>" * 3000 + "</x>" * 3000), None),
    ("empty-served-as-html", "<rss version='2.0'><channel/></rss>", "text/html"),
]


@pytest.mark.parametrize(
    ("body", "content_type"), [c[1:] for c in FALLBACKS], ids=[c[0] for c in FALLBACKS]
)
def test_documents_it_cannot_be_sure_of_fall_back(body: str, content_type: str | None) -> None:
    assert parse_fast(fetched(body.encode(), content_type), FeedConfig("fast", URL)) is None


def test_an_empty_feed_served_as_xml_takes_the_fast_path() -> None:
    result = fetched(b"<rss version='2.0'><channel/></rss>", "application/rss+xml")
    assert parse_fast(result, FeedConfig("fast", URL)) == ParsedFeed(format="rss20")


def test_other_feedparser_releases_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    body = (FEEDS / "rss20_media.xml").read_bytes()
    assert parse_fast(fetched(body), FeedConfig("fast", URL)) is not None
    monkeypatch.setattr(feedparser, "__version__", "6.1.0")
    assert parse_fast(fetched(body), FeedConfig("fast", URL)) is None


def test_bodies_are_derived_only_when_used() -> None:
    feed = parse_fast(fetched((FEEDS / "rss20_media.xml").read_bytes()), FeedConfig("fast", URL))
    assert feed is not None
    assert {repr(item.body) for item in feed.items} == {"Body(...)"}
    assert feed.items[0].content_text.startswith("Cats and dogs")
    assert repr(feed.items[0].body).startswith("Body('")


def recording_parse_xml(calls: list[str]) -> Callable[[FetchResult, FeedConfig], ParsedFeed]:
    """Return a parse_xml that records the feeds it was asked to read."""

    def record(result: FetchResult, feed: FeedConfig) -> ParsedFeed:
        calls.append(feed.name)
        return parse_xml(result, feed)

    return record


@pytest.mark.parametrize(("name", "calls"), [("rss20_media.xml", []), ("rss091.xml", ["fast"])])
def test_parse_falls_back_to_feedparser_only_when_needed(
    monkeypatch: pytest.MonkeyPatch, name: str, calls: list[str]
) -> None:
    seen: list[str] = []
    monkeypatch.setattr(poster.parse.xmlfeed, "parse_xml", recording_parse_xml(seen))
    feed = parse(fetched((FEEDS / name).read_bytes()), FeedConfig("fast", URL))
    assert feed.items and seen == calls


def test_helpers_do_not_shadow_feedparser_handlers() -> None:
    # feedparser finds the handler of <x> by the name _start_x/_end_x on the parser.
    parser = FastFeedParser()
    parser.start_element("rss", ())
    names = [*vars(FastFeedParser), *vars(parser)]
    assert [n for n in names if n.startswith(("_start_", "_end_"))] == []
    handlers = [
        getattr(FastFeedParser, n)
        for n in dir(FastFeedParser)
        if n.startswith(("_start_", "_end_"))
    ]
    assert handlers and all(inspect.isfunction(h) for h in handlers)


def test_feed_data_is_feedparsers_shape() -> None:
    data = read_fast(fetched((FEEDS / "rss20_media.xml").read_bytes()))
    assert data is not None
    first: Any = data.entries[0]
    assert (data.version, data.bozo, first["id"]) == ("rss20", False, "tag:example.com,2024:post-1")


def test_feedparser_is_loaded_only_once_an_xml_feed_is_parsed() -> None:
    # A pass where every feed answers 304 parses nothing, so it should not pay for feedparser.
    code = (
        "import sys\n"
        "from poster.config import FeedConfig\n"
        "from poster.models import FetchResult, Validators\n"
        "import poster.pipeline\n"
        "from poster.parse import parse\n"
        "loaded = lambda: 'feedparser' in sys.modules\n"
        "before = loaded()\n"
        "def fetched(body):\n"
        "    return FetchResult('f', 'https://x.org/f', 200, body, Validators())\n"
        'parse(fetched(b\'{"version": "https://jsonfeed.org/version/1.1", "items": []}\'),'
        " FeedConfig('j', 'https://x.org/f'))\n"
        "after_json = loaded()\n"
        "parse(fetched(b'<rss version=\"2.0\"><channel><title>t</title></channel></rss>'),"
        " FeedConfig('x', 'https://x.org/f'))\n"
        "print(before, after_json, loaded())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "True"]
