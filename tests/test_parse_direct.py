"""Check that the direct reader gives exactly the feedparser path's feed, or None.

The proof is the equivalence test: for every XML file of feedparser's corpus, every fixture
under several Content-Types, the generated feeds and the benchmark farms' feeds of every format,
style and encoding, wherever ``parse_direct`` gives a feed it equals ``parse_xml``'s field by
field, item bodies, hubs and hints included.
"""

from __future__ import annotations

import functools
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import ClassVar
from urllib.parse import urljoin

import pytest
from feedparser.datetimes import _parse_date
from support import samefeed
from support.samefeed import SYNTHETIC, URL, feed_differences, fetched

from poster.config import FeedConfig
from poster.errors import ParseError
from poster.models import FetchResult
from poster.parse import direct
from poster.parse.dates import from_struct
from poster.parse.direct import parse_direct
from poster.parse.feeddates import parse_feed_date
from poster.parse.itemmedia import absolute

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import farm as farms

FEEDS = Path(__file__).parent / "data" / "feeds"


def compare(result: FetchResult, feed: FeedConfig | None = None) -> tuple[bool, list[str]]:
    """Return whether the direct reader read the document, and how it differs from feedparser's."""
    feed = feed or samefeed.same_feed(result)
    mine = parse_direct(result, feed)
    if mine is None:
        return False, []
    return True, feed_differences(mine, samefeed.by_feedparser(result, feed))


@pytest.fixture(autouse=True)
def text_derived_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Share the text of each piece of HTML between the readers compared (``samefeed``)."""
    samefeed.derive_text_once(monkeypatch)


@functools.cache
def corpus() -> dict[str, tuple[bool, list[str]]]:
    """Return the comparison of every XML file of the corpus, by path relative to it."""
    return {
        str(p.relative_to(samefeed.CORPUS)): compare(fetched(p.read_bytes()))
        for p in samefeed.corpus_files()
    }


@samefeed.needs_corpus
@pytest.mark.parametrize("directory", samefeed.corpus_directories())
def test_corpus_files_are_read_directly_alike(directory: str) -> None:
    mine = {
        path: found for path, (_, found) in corpus().items() if samefeed.folder(path) == directory
    }
    assert mine
    assert {path: found for path, found in mine.items() if found} == {}


# How many files of some folders the direct reader takes; the rest use xml:base, XHTML or
# base64 content, DOCTYPEs, elements whose handlers it does not mirror, or are not feeds.
DIRECT_COUNTS = {
    "wellformed/rss": 154,
    "wellformed/atom10": 144,
    "wellformed/itunes": 55,
    "wellformed/rdf": 9,
    "wellformed/media-rss": 5,
    "wellformed/sanitize": 422,
    "encoding": 50,
    "entities": 0,
    "illformed": 1,
}


@samefeed.needs_corpus
def test_most_wellformed_feeds_are_read_directly() -> None:
    taken = Counter(samefeed.folder(path) for path, (direct, _) in corpus().items() if direct)
    assert {name: taken[name] for name in DIRECT_COUNTS} == DIRECT_COUNTS
    assert (taken.total(), len(corpus())) == (900, 2106)


CONTENT_TYPES = [
    None,
    "application/rss+xml",
    "text/html; charset=windows-1251",
    "application/xml; charset=koi8-r",
    "text/xml; charset=iso-8859-1",
]
FIXTURES = sorted(p.name for p in FEEDS.glob("*.xml")) + sorted(
    f"fast/{p.name}" for p in (FEEDS / "fast").glob("*.xml")
)


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=[str(c) for c in CONTENT_TYPES])
@pytest.mark.parametrize("name", FIXTURES)
def test_fixtures_read_alike_on_both_paths(name: str, content_type: str | None) -> None:
    assert compare(fetched((FEEDS / name).read_bytes(), content_type))[1] == []


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_generated_feeds_are_read_directly_alike(name: str) -> None:
    assert compare(fetched(SYNTHETIC[name](), "application/rss+xml")) == (True, [])


FARM = [
    farms.FeedSpec(index, kind, style, encoding)
    for index, (kind, style, encoding) in enumerate(
        (kind, style, encoding)
        for kind in ("rss", "atom", "rdf")
        for style in farms.STYLES
        for encoding in ("utf-8", "iso-8859-1", "windows-1251")
        if style == "small" or encoding == "utf-8"
    )
]


@pytest.mark.parametrize("extra", [0, 45])
@pytest.mark.parametrize("spec", FARM, ids=[f"{s.kind}-{s.style}-{s.encoding}" for s in FARM])
def test_farm_feeds_are_read_directly_alike(
    tmp_path: Path, spec: farms.FeedSpec, extra: int
) -> None:
    (tmp_path / spec.kind).mkdir()
    farms.write_feed(tmp_path, spec, extra=extra)
    body = (tmp_path / spec.path).read_bytes()
    for content_type in (None, "application/rss+xml", f"text/xml; charset={spec.encoding}"):
        assert compare(fetched(body, content_type)) == (True, [])


ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
MEDIA = "http://search.yahoo.com/mrss/"
# Constructs whose handling in feedparser depends on order or on what came before.
TRICKY_ITEMS = {
    "title-with-markup": "<title>&lt;b&gt;Bold&lt;/b&gt; &amp;amp; co</title>",
    "title-with-entity": "<title>AT&amp;amp;T &amp;eacute;</title>",
    "empty-title-then-title": "<title></title><title>Second</title><title>Third</title>",
    "second-description-is-content": "<description>one</description><description>two</description>",
    "content-before-description": (
        "<content:encoded>&lt;p&gt;full&lt;/p&gt;</content:encoded><description>short</description>"
    ),
    "permalink-guid-before-link": "<guid>http:///a.example/1</guid><link>http://b.example/1</link>",
    "permalink-guid-after-link": "<link>http://b.example/1</link><guid>http://a.example/1</guid>",
    "guid-not-permalink": "<guid isPermaLink='false'>http:///x</guid>",
    "author-with-email": "<author>jo@example.com (Jo Doe)</author>",
    "two-creators": "<dc:creator>First</dc:creator><dc:creator>Second</dc:creator>",
    "category-domain-then-text": "<category domain='http://d.example/'>Topic</category>",
    "categories-repeated": "<category>a</category><category>a</category><dc:subject>A</dc:subject>",
    "keywords": "<itunes:keywords>one, two,,three</itunes:keywords>",
    "enclosure-url-and-uri": "<enclosure url='/a.mp3' uri='/b.mp3' type='Audio/MPEG' length='x'/>",
    "thumbnail-as-text": "<media:thumbnail>/t.jpg</media:thumbnail>",
    "media-group": (
        "<media:group><media:content url='/v.mp4' type='video/mp4' duration='61'/>"
        "<media:thumbnail url='/t.png'/></media:group><itunes:duration>1:02</itunes:duration>"
    ),
    "itunes-image-url": "<itunes:image url='/cover.jpg'/>",
    "source-resets-title": "<title>A</title><source url='http://s.example/'>S</source><title>B</title>",
    "atom-link-in-rss": (
        "<atom:link rel='alternate' type='text/html' href='http://alt.example/'/>"
        "<link>http://text.example/</link>"
    ),
    "query-as-entity": "<link>http://e.example/?a=1&amp;b=2</link>",
    "mis-decoded-utf8": "<title>Jos\u00c3\u00a9 \u0096</title>",
    "dates-last-wins": (
        "<pubDate>Wed, 01 May 2024 12:00:00 GMT</pubDate>"
        "<dc:date>2024-05-02T10:00:00+02:00</dc:date>"
        "<pubDate>Thu, 02 May 2024 12:00:00 +0100</pubDate>"
    ),
}
RSS_HEAD = (
    "<rss version='2.0' xmlns:dc='http://purl.org/dc/elements/1.1/' "
    "xmlns:content='http://purl.org/rss/1.0/modules/content/' "
    f"xmlns:itunes='{ITUNES}' xmlns:media='{MEDIA}' xmlns:atom='http://www.w3.org/2005/Atom'>"
)


@pytest.mark.parametrize("item", TRICKY_ITEMS.values(), ids=TRICKY_ITEMS.keys())
def test_order_dependent_rss_items_are_read_directly_alike(item: str) -> None:
    body = RSS_HEAD + f"<channel><title>T</title><item>{item}</item></channel></rss>"
    assert compare(fetched(body.encode(), "application/rss+xml")) == (True, [])


def test_a_full_picture_comes_before_its_thumbnail_on_both_paths() -> None:
    from poster.parse.xmlfeed import parse_xml

    item = (
        "<title>A</title><media:thumbnail url='/small.jpg'/>"
        "<enclosure url='/full.jpg' type='image/jpeg' length='900000'/>"
    )
    body = RSS_HEAD + f"<channel><title>T</title><item>{item}</item></channel></rss>"
    result = fetched(body.encode(), "application/rss+xml")
    settings = FeedConfig(name=result.feed, url=result.url)
    for read in (parse_direct(result, settings), parse_xml(result, settings)):
        assert read is not None
        [entry] = read.items
        assert entry.image is not None and entry.image.url == urljoin(URL, "/full.jpg")
        assert entry.thumbnail is not None and entry.thumbnail.url == urljoin(URL, "/small.jpg")


TRICKY_FEEDS = {
    "image-then-title-after-items": (
        RSS_HEAD + "<channel><image><title>Logo</title><url>/l.png</url></image>"
        "<item><title>I</title></item><title>Late title</title></channel></rss>"
    ),
    "nested-itunes-categories": (
        RSS_HEAD + "<channel><title>T</title><itunes:category text='News'>"
        "<itunes:category text='Tech'/></itunes:category><itunes:owner><itunes:name>O"
        "</itunes:name></itunes:owner><item><title>I</title></item></channel></rss>"
    ),
    "atom-inherited-author": (
        "<feed xmlns='http://www.w3.org/2005/Atom'><title type='html'>&lt;i&gt;A&lt;/i&gt;</title>"
        "<author><email>feed@example.com</email></author><link rel='self' href='/self'/>"
        "<link rel='hub' href='http://hub.example/'/><id>http://feed.example/</id>"
        "<entry><title>E</title><id>urn:e</id></entry>"
        "<entry><title>F</title><author><name>N</name><uri>http://n.example/</uri></author>"
        "<content type='text'>plain &lt;b&gt;text&lt;/b&gt;</content><summary>S</summary></entry>"
        "</feed>"
    ),
    "rdf-with-image-outside-channel": (
        "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' "
        "xmlns='http://purl.org/rss/1.0/'><channel rdf:about='http://r.example/'><title>R</title>"
        "<link>http://r.example/</link></channel><image rdf:about='/i.png'><title>I</title>"
        "</image><item rdf:about='http://r.example/1'><title>One</title></item></rdf:RDF>"
    ),
}


@pytest.mark.parametrize("body", TRICKY_FEEDS.values(), ids=TRICKY_FEEDS.keys())
def test_order_dependent_feeds_are_read_directly_alike(body: str) -> None:
    assert compare(fetched(body.encode(), "application/xml")) == (True, [])


RSS = "<rss version='2.0'><channel><title>T</title><item>{}</item></channel></rss>"
ATOM = "<feed xmlns='http://www.w3.org/2005/Atom'><title>T</title><entry>{}</entry></feed>"
REFUSED = [
    ("ill-formed", RSS.format("<title>open</channel>")),
    ("doctype", "<!DOCTYPE rss SYSTEM 'x.dtd'>" + RSS.format("<title>a</title>")),
    ("atom-0.3", "<feed version='0.3' xmlns='http://purl.org/atom/ns#'><entry/></feed>"),
    ("cdf", "<CHANNEL HREF='http://e.com/'><ITEM HREF='http://e.com/1'/></CHANNEL>"),
    ("xml-base", ATOM.format("<link xml:base='http://e.com/' href='a'/>")),
    ("xhtml-content", ATOM.format("<content type='xhtml'><div>a</div></content>")),
    ("base64-content", ATOM.format("<content type='image/png'>YQ==</content>")),
    ("markup-in-description", RSS.format("<description>a <b>b</b></description>")),
    ("namespace-below-root", RSS.format("<x:a xmlns:x='urn:x'>a</x:a>")),
    ("handler-not-mirrored", RSS.format("<textInput><title>t</title></textInput>")),
    ("media-content-with-children", ATOM.format(
        "<m:content xmlns:m='http://search.yahoo.com/mrss/' url='http://e.com/a.jpg'>"
        "<m:title>t</m:title></m:content>"
    )),
    ("standard-prefix-elsewhere", "<rss version='2.0' xmlns:dc='urn:other'><channel>"
     "<item><dc:creator>a</dc:creator></item></channel></rss>"),
    ("reserved-name", RSS.format("<links>a</links>")),
]  # fmt: skip


@pytest.mark.parametrize("body", [c[1] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_documents_it_does_not_fully_understand_are_left_to_the_others(body: str) -> None:
    assert parse_direct(fetched(body.encode()), FeedConfig("direct", URL)) is None


def test_a_key_path_into_feedparsers_entries_is_left_to_the_others() -> None:
    result = fetched(SYNTHETIC["rss-30-items-4k-html"]())
    assert parse_direct(result, FeedConfig("direct", URL, key="links.0.href")) is None
    assert parse_direct(result, FeedConfig("direct", URL, key="link")) is not None


def test_too_deep_a_document_is_refused_as_it_is_read() -> None:
    body = RSS.format("<x>" * 1001 + "</x>" * 1001).encode()
    with pytest.raises(ParseError, match="nested more than 1000 deep"):
        parse_direct(fetched(body), FeedConfig("direct", URL))


class CountingParser(ET.XMLPullParser):  # type: ignore[type-arg]
    """A pull parser that keeps the size of each piece it is fed."""

    fed: ClassVar[list[int]] = []

    def feed(self, data: bytes | str) -> None:
        CountingParser.fed.append(len(data))
        super().feed(data)


@pytest.mark.parametrize("token", ["<!-- {} -->", '<category domain="{}">x</category>'])
def test_a_token_of_megabytes_is_fed_in_growing_pieces_not_read_again_and_again(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setattr(direct.ET, "XMLPullParser", CountingParser)
    CountingParser.fed = []
    inner = "<title>a</title><guid>g</guid>" + token.format("c" * 4_000_000)
    parsed = parse_direct(fetched(RSS.format(inner).encode()), FeedConfig("direct", URL))
    assert parsed is not None and [item.key for item in parsed.items] == ["g"]
    # In even pieces of 16 KiB a 4 MB token takes 245 of them, expat reading it anew with each.
    assert len(CountingParser.fed) < 40, CountingParser.fed
    assert max(CountingParser.fed) <= 1024 * 1024


def test_nesting_is_still_seen_in_small_pieces_after_a_long_token() -> None:
    nested = "<x>" * 1001 + "</x>" * 1001
    body = RSS.format("<!-- " + "c" * 2_000_000 + " -->" + nested).encode()
    with pytest.raises(ParseError, match="nested more than 1000 deep"):
        parse_direct(fetched(body), FeedConfig("direct", URL))


# RFC 822 and W3C-DTF dates, the forms read directly and their near misses.
DATES = {
    "rfc822": "Wed, 01 May 2024 12:00:00 GMT",
    "rfc822-lower-case": "wed, 1 may 2024 12:00:00 gmt",
    "rfc822-no-day-name": "01 May 2024 12:00:00 +0200",
    "rfc822-west": "Mon, 06 Sep 2021 16:05:00 -0930",
    "rfc822-ut": "Sun, 31 Dec 2023 23:59:59 UT",
    "rfc822-no-such-day": "Tue, 30 Feb 2024 12:00:00 GMT",
    "rfc822-leap-second": "Tue, 30 Jun 2015 23:59:60 GMT",
    "rfc822-two-digit-year": "Wed, 01 May 24 12:00:00 GMT",
    "rfc822-named-zone": "Wed, 01 May 2024 12:00:00 EST",
    "rfc822-bad-day-name": "Xyz, 01 May 2024 12:00:00 GMT",
    "w3dtf": "2024-05-01T12:00:00Z",
    "w3dtf-lower-case": "2024-05-01t12:00:00z",
    "w3dtf-fraction-and-zone": "2024-05-01T12:00:00.75+05:30",
    "w3dtf-west": "2024-05-01T00:30:00-01:00",
    "w3dtf-no-such-month": "2024-13-01T12:00:00Z",
    "w3dtf-hour-24": "2024-05-01T24:00:00Z",
    "w3dtf-date-only": "2024-05-01",
    "w3dtf-space": "2024-05-01 12:00:00",
    "w3dtf-before-year-1": "0001-01-01T00:30:00+01:00",
    "w3dtf-after-year-9999": "9999-12-31T23:30:00-01:00",
    "empty": "",
    "words": "yesterday",
}


@pytest.mark.parametrize("text", DATES.values(), ids=DATES.keys())
def test_dates_read_as_feedparser_reads_them(text: str) -> None:
    assert parse_feed_date(text) == from_struct(_parse_date(text))


URLS = [
    "https://site00.example.org/0/articles/001",
    "http://e.com",
    "http://e.com/a/../b?x=1&y=2",
    "http://e.com/a?",
    "http://e.com/a#",
    "http://e.com/a;",
    "http://e.com/a;p?q",
    "http://e.com/a?#f",
    "HTTP://E.com/a",
    "http:///a",
    "http://[::1/a",
    "http://e.com/a b",
    "http://e.com/\u00e9",
    "https://user:pw@e.com:8080/a/b/c.jpg?size=big&x=%20",
    "ftp://e.com/a",
    "/relative/path",
    "//e.com/scheme-relative",
    "http://e.com?q",
    "http://e.com/?a?b/c",
    "http://e.com//a//b/",
    "http://e.com/(a)*'!$~,=:@.jpg",
    "http://e.com/a?b#",
    "http://e.com/a[1]",
    "http://e.com/a\\b",
    "http://e.com/a|b",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("base", ["https://example.org/feed", "http://example.org/", ""])
def test_absolute_urls_are_what_urljoin_gives(url: str, base: str) -> None:
    try:
        joined: str | None = urljoin(base, url)
    except ValueError:
        joined = None
    if joined is not None and not joined.lower().startswith(("http://", "https://")):
        joined = None
    assert absolute(url, base) == joined


SUMMARY_AND_CONTENT = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>t</title><link>https://example.org/</link>
<item><guid>a</guid><description>A &lt;b&gt;short&lt;/b&gt; summary.</description>
<content:encoded><![CDATA[<p>The <a href="/x">long</a> story.</p>]]></content:encoded></item>
<item><guid>b</guid><content:encoded><![CDATA[<p>Only a story.</p>]]></content:encoded></item>
</channel></rss>"""


def test_an_items_own_summary_is_derived_without_its_content() -> None:
    feed = parse_direct(fetched(SUMMARY_AND_CONTENT), FeedConfig("direct", URL))
    assert feed is not None
    first, second = feed.items
    assert first.summary == "A short summary."
    assert repr(first.body) == "Body(...)"  # the content is not turned into text yet
    assert first.body.parts == (
        '<p>The <a href="https://example.org/x">long</a> story.</p>',
        "The long story.",
        "A short summary.",
    )
    # Without a summary of its own, the summary is the start of the content.
    assert second.summary == "Only a story."
    assert repr(second.body).startswith("Body('")


@pytest.mark.parametrize(
    "links",
    [
        "",
        "<link rel='self' href='/feed.xml'/><link rel='hub' href='https://hub.example/'/>",
        "<link rel='hub' href='https://a.example/'/><link rel='hub' href='ftp://b.example/'/>"
        "<link rel='self' href='ftp://no.example/'/><link rel='self' href='https://e.org/f'/>"
        "<link rel='hub' href='https://c.example/'/><link rel='self' href='https://e.org/g'/>",
        "<link rel='http://www.iana.org/assignments/relation/hub' href='https://hub.example/'/>"
        "<link rel='http://www.iana.org/assignments/relation/self' href='https://e.org/f'/>",
    ],
    ids=["none", "self-and-hub", "several", "registry-uris"],
)
def test_a_feeds_hubs_and_self_link_are_read_as_feedparsers(links: str) -> None:
    body = (
        "<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title>"
        f"{links}<entry><title>e</title><id>urn:x:1</id></entry></feed>"
    ).encode()
    result = fetched(body)
    mine = parse_direct(result, samefeed.same_feed(result))
    assert mine is not None
    assert feed_differences(mine, samefeed.by_feedparser(result, samefeed.same_feed(result))) == []
    if "assignments/relation" in links:  # RFC 4287 §4.2.7.2: the registry's URI is the name
        assert (mine.hubs, mine.topic) == (("https://hub.example/",), "https://e.org/f")
