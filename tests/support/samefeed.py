"""Compare what two XML readers made of one document, and generate feeds to compare them on.

The fast readers must give exactly the feedparser path's ParsedFeed; ``feed_differences`` names
every field where two feeds differ (item bodies derived), ``by_feedparser`` gives the feedparser
path's feed once per document for both readers' comparisons, and ``SYNTHETIC`` holds generated
feeds of each format with the constructs real feeds use most.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from poster.config import FeedConfig
from poster.errors import ParseError
from poster.models import FetchResult, Item, ParsedFeed, Validators
from poster.parse import fields
from poster.parse.xmlfeed import parse_xml, read_document, run_feedparser
from poster.text import html_to_text

URL = "https://example.org/feeds/main.xml"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "feedparser-tests"
needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"feedparser test corpus not found at {CORPUS}"
)
ITEM_FIELDS = (
    "key", "title", "link", "content_html", "content_text", "summary", "author",
    "published", "updated", "tags", "image", "thumbnail", "enclosures",
)  # fmt: skip
FEED_FIELDS = ("title", "link", "format", "hubs", "topic", "hints")

PARAGRAPH = (
    '<p>Lorem <b>ipsum</b> dolor sit amet, <a href="/articles/{n}/more?ref=feed">consectetur</a> '
    "adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. "
    '<img src="images/{n}.jpg" alt="figure {n}" width="640" height="480"> Ut enim ad minim '
    "veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo.</p>\n"
)
CYRILLIC = (
    "<p>Широкая <b>электрификация</b> южных губерний даст мощный толчок подъёму "
    '<a href="/статьи/{n}">сельского хозяйства</a>. Съешь же ещё этих мягких французских '
    'булок, да выпей чаю. <img src="/img/{n}.jpg" alt="рисунок {n}"></p>\n'
)
NAMESPACES = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
)


def html(n: int, size: int = 4096, paragraph: str = PARAGRAPH) -> str:
    """Return about ``size`` characters of HTML for item ``n``."""
    return paragraph.format(n=n) * (size // len(paragraph) + 1)


def rss_item(n: int, paragraph: str = PARAGRAPH) -> str:
    """Return one RSS 2.0 item; items differ in how they are keyed and what media they carry."""
    guid = [f'<guid isPermaLink="false">bench-{n}</guid>', f"<guid>/posts/{n}</guid>", "", ""]
    link = f"<link>https://bench.example.com/{n}?utm_source=rss&amp;id={n}</link>"
    return (
        f"<item><title>Item {n} &amp; more &#150; ok</title>{guid[n % 4]}"
        f"{link if n % 4 != 3 else ''}<dc:creator>Jos&#195;&#169; {n % 7}</dc:creator>"
        f"<pubDate>Mon, 06 Sep 2021 16:{n % 60:02d}:00 GMT</pubDate>"
        f"<category>news</category><category>Topic {n % 5}</category><category>NEWS</category>"
        f"<description>{escape(html(n, 300, paragraph))}</description>"
        f"<content:encoded>{escape(html(n, 4096, paragraph))}</content:encoded>"
        f'<enclosure url="https://cdn.example.com/audio/{n}.mp3" length="{1000 + n}" '
        f'type="audio/mpeg"/><itunes:duration>00:{n % 60:02d}:10</itunes:duration>'
        f'<media:content url="https://cdn.example.com/{n}.jpg" type="image/jpeg" medium="image"/>'
        f'<media:thumbnail url="/thumbs/{n}.jpg"/><comments>/comments/{n}</comments></item>'
    )


@functools.cache
def synthetic_rss(items: int, paragraph: str = PARAGRAPH) -> bytes:
    """Return an RSS 2.0 feed of ``items`` items with about 4 KB of HTML each, and media."""
    head = (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {NAMESPACES}><channel>'
        "<title>Bench &amp; Co</title><link>https://bench.example.com/</link>"
    )
    body = "".join(rss_item(n, paragraph) for n in range(items))
    return (head + body + "</channel></rss>").encode()


@functools.cache
def synthetic_atom(entries: int) -> bytes:
    """Return an Atom 1.0 feed whose entries carry HTML or text content, links and authors."""
    parts = [
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        '<link href="https://a.example.com/"/><author><name>Feed Author</name></author>'
    ]
    for n in range(entries):
        kind = ("html", "text")[n % 2]
        author = f"<author><name>Writer {n}</name><email>w{n}@a.example.com</email></author>"
        parts.append(
            f"<entry><title type='{kind}'>Entry {n} &amp;amp; co</title><id>urn:a:{n}</id>"
            f"<link href='/entries/{n}'/><link rel='enclosure' href='/e/{n}.ogg' length='9'/>"
            f"<updated>2024-03-0{n % 9 + 1}T09:00:00Z</updated>{author if n % 3 else ''}"
            f"<category term='t{n % 4}' label='Label {n}'/><summary>Short {n}</summary>"
            f"<content type='{kind}'>{escape(html(n, 1000))}</content></entry>"
        )
    return ("".join(parts) + "</feed>").encode()


@functools.cache
def synthetic_rdf(items: int) -> bytes:
    """Return an RSS 1.0 feed with Dublin Core dates and subjects."""
    parts = [
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        f'xmlns="http://purl.org/rss/1.0/" {NAMESPACES}>'
        '<channel rdf:about="https://r.example.com/"><title>R</title>'
        "<link>https://r.example.com/</link></channel>"
    ]
    for n in range(items):
        parts.append(
            f'<item rdf:about="https://r.example.com/{n}"><title>R {n}</title>'
            f"<link>https://r.example.com/{n}</link><dc:date>2024-02-01T09:00:00Z</dc:date>"
            f"<dc:subject>S{n % 3}</dc:subject><description>{escape(html(n, 500))}</description>"
            "</item>"
        )
    return ("".join(parts) + "</rdf:RDF>").encode()


SYNTHETIC: dict[str, Callable[[], bytes]] = {
    "rss-30-items-4k-html": lambda: synthetic_rss(30),
    "rss-200-items": lambda: synthetic_rss(200),
    "rss-30-items-cyrillic": lambda: synthetic_rss(30, CYRILLIC),
    "atom-40-entries": lambda: synthetic_atom(40),
    "rdf-30-items": lambda: synthetic_rdf(30),
}


def fetched(body: bytes, content_type: str | None = None, url: str = URL) -> FetchResult:
    """Return a fetch of ``body`` as if it had been served from ``url``."""
    return FetchResult("fast", url, 200, body, Validators(), content_type)


def same_feed(result: FetchResult) -> FeedConfig:
    """Return the feed settings both readers are compared under: the fetch's name and URL."""
    return FeedConfig(name=result.feed, url=result.url)


@functools.cache
def by_feedparser(result: FetchResult, feed: FeedConfig) -> ParsedFeed:
    """Return ``parse_xml``'s feed for a document, computed once per test process.

    The fast and the direct readers are each compared with it over the same corpus, fixtures
    and generated feeds; ``support.scheduling`` runs both modules on one worker to share it.
    ``parse_xml`` is ``read_document`` over ``run_feedparser``: feedparser's own result is
    shared too, with the comparison of the fast reader's raw feed data. A ParseError is raised
    again on each call, never kept.
    """
    try:
        document = feedparser_document(result)
    except ParseError:
        return parse_xml(result, feed)  # raises it again, naming this feed
    return read_document(document, result, feed)


@functools.cache
def feedparser_document(result: FetchResult) -> Any:
    """Return feedparser's result for a fetch as ``parse_xml`` gets it, once per test process.

    Nothing reads it but to compare: ``read_document`` and the comparisons copy what they keep.
    """
    return run_feedparser(result, result.feed)


def derive_text_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the item bodies of all readers turn each piece of HTML into text once per process.

    The readers compared each derive every body: from the same HTML when they agree, and
    turning HTML into text is most of a comparison's time. ``html_to_text`` depends on its
    arguments alone, so its answer for the same HTML is shared; HTML that differs is still
    turned into text on its own, and any difference in it still shows.
    """
    monkeypatch.setattr(fields, "html_to_text", _html_to_text)


_html_to_text = functools.lru_cache(maxsize=4096)(html_to_text)


def feed_differences(fast: ParsedFeed, slow: ParsedFeed) -> list[str]:
    """Name every field where the two feeds differ, item fields and body parts included."""
    found = [f"feed.{name}" for name in FEED_FIELDS if getattr(fast, name) != getattr(slow, name)]
    if len(fast.items) != len(slow.items):
        return [*found, f"items: {len(fast.items)} != {len(slow.items)}"]
    for index, (mine, theirs) in enumerate(zip(fast.items, slow.items, strict=True)):
        found += [f"items[{index}].{name}" for name in item_differences(mine, theirs)]
    return found


def item_differences(fast: Item, slow: Item) -> list[str]:
    """Name the fields of two items that differ."""
    return [name for name in ITEM_FIELDS if getattr(fast, name) != getattr(slow, name)]


def corpus_files() -> list[Path]:
    """Return the XML files of feedparser's corpus, sorted."""
    return list(_corpus_files())


@functools.cache
def _corpus_files() -> tuple[Path, ...]:
    """Return the XML files of feedparser's corpus, sorted, walking the corpus once a process.

    Two test modules parametrize over the corpus's folders while they are collected, in every
    worker; the walk stats each of its 2,000 files.
    """
    return tuple(sorted(p for p in CORPUS.rglob("*.xml") if p.is_file()))


def corpus_directories() -> list[str]:
    """Return the corpus folders that hold XML feeds (one test each)."""
    return list(_corpus_directories())


@functools.cache
def _corpus_directories() -> tuple[str, ...]:
    """Return the corpus folders that hold XML feeds, sorted, found once a process."""
    if not CORPUS.is_dir():
        return ("corpus-missing",)
    return tuple(sorted({str(p.parent.relative_to(CORPUS)) for p in _corpus_files()}))


@functools.cache
def folder(path: str) -> str:
    """Return the corpus folder of a file's path relative to the corpus."""
    return str(Path(path).parent)
