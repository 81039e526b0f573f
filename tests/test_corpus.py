"""Run every feed of feedparser's own test corpus through parse, the text helpers and render.

Each file must give a ParsedFeed or a ParseError, never another exception, and every item must
render with the shipped templates as each message type; the corpus lives in shared/ beside the
repository and the tests skip only when it is absent.
"""

from __future__ import annotations

import functools
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.samefeed import folder

from poster.config import FeedConfig
from poster.destinations.viber.kind import KIND
from poster.destinations.viber.messages import BODY_MAX_BYTES, encode, envelope
from poster.errors import ParseError, RenderError
from poster.models import FeedMeta, FetchResult, Item, ParsedFeed, Validators
from poster.parse import parse
from poster.render import Renderer
from poster.text import html_to_text, truncate

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "feedparser-tests"
SUFFIXES = (".xml", ".json")

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"feedparser test corpus not found at {CORPUS}"
)


@dataclass(frozen=True)
class Outcome:
    """What one corpus file gave: a feed, a ParseError message, or an unexpected crash."""

    path: str
    feed: ParsedFeed | None = None
    error: str | None = None
    crash: str | None = None


def run_one(path: Path) -> Outcome:
    """Parse one file and turn every item's text the way the renderer will."""
    name = str(path.relative_to(CORPUS))
    result = FetchResult(
        feed=name, url="", status=200, body=path.read_bytes(), validators=Validators()
    )
    try:
        feed = parse(result, FeedConfig(name=name, url=""))
        for item in feed.items:
            truncate(item.content_text, 7000)
            html_to_text(item.content_html, links=True)
            truncate(html_to_text(item.summary), 1000)
            render_every_type(item, name)
    except ParseError as exc:
        return Outcome(name, error=str(exc))
    except Exception:
        return Outcome(name, crash=traceback.format_exc(limit=-3))
    return Outcome(name, feed=feed)


RENDER_TYPES = ("auto", "text", "picture", "video", "file", "url")


@functools.cache
def renderer() -> Renderer:
    """Return one renderer over the shipped templates."""
    return Renderer(REPO / "templates")


def render_every_type(item: Item, name: str) -> None:
    """Render the item as every message type and check each body fits the API's cap."""
    meta = FeedMeta(name)
    empty = not (item.title or item.content_text or item.link)
    for kind in RENDER_TYPES:
        feed = FeedConfig(name=name, url="", type=kind, fallback="url")
        try:
            message = KIND.compose(renderer().render(item, feed, meta, KIND))
        except RenderError as exc:
            # An item with no title, text or link has nothing to post: a clear item error.
            if empty and "rendered nothing" in str(exc):
                continue
            raise
        assert len(encode(envelope(message, "s" * 24, "t" * 50))) <= BODY_MAX_BYTES


@functools.cache
def outcomes() -> dict[str, Outcome]:
    """Return the outcome of every corpus file, by path relative to the corpus."""
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    return {str(p.relative_to(CORPUS)): run_one(p) for p in files}


def directories() -> list[str]:
    """Return the corpus folders that hold feeds (one test each)."""
    if not CORPUS.is_dir():
        return ["corpus-missing"]
    found = {p.parent for p in CORPUS.rglob("*") if p.suffix in SUFFIXES}
    return sorted(str(d.relative_to(CORPUS)) for d in found)


@needs_corpus
@pytest.mark.parametrize("directory", directories())
def test_every_file_parses_or_raises_parse_error(directory: str) -> None:
    mine = [o for o in outcomes().values() if folder(o.path) == directory]
    crashes = [f"{o.path}:\n{o.crash}" for o in mine if o.crash]
    assert mine
    assert not crashes, "\n".join(crashes)


# Files that are not feeds we can read: ill-formed XML without entries, an unknown encoding,
# and CDF channels without items or title.
NOT_FEEDS = {
    "encoding/bozo_bogus_encoding.xml",
    "entities/attr_amp.xml",
    "entities/query_variable_feed.xml",
    "illformed/aaa_illformed.xml",
    "illformed/rss_empty_document.xml",
    "illformed/undeclared_namespace.xml",
    "wellformed/cdf/channel_abstract_map_description.xml",
    "wellformed/cdf/channel_abstract_map_tagline.xml",
    "wellformed/cdf/channel_href_map_link.xml",
    "wellformed/cdf/channel_href_map_links.xml",
    "wellformed/cdf/channel_lastmod.xml",
    "wellformed/cdf/channel_lastmod_parsed.xml",
}


@needs_corpus
def test_known_counts() -> None:
    results = outcomes()
    with_items = [o for o in results.values() if o.feed is not None and o.feed.items]
    assert len(results) == 2107
    assert len(with_items) == 1195
    assert sum(len(o.feed.items) for o in with_items if o.feed) == 1219
    assert {o.path for o in results.values() if o.error} == NOT_FEEDS


@needs_corpus
def test_json_feed_example() -> None:
    feed = outcomes()["json/example.json"].feed
    assert feed is not None
    assert (feed.title, feed.link, feed.format) == (
        "My Example Feed",
        "https://example.org/",
        "jsonfeed10",
    )
    assert [(i.key, i.title, i.link) for i in feed.items] == [
        ("2", "post 2", "https://example.org/second-item"),
        ("1", "", "https://example.org/initial-post"),
    ]
    second, first = feed.items
    assert second.content_text == "This is a second item."
    assert second.tags == ("test", "JSON")
    assert [(m.url, m.mime_type, m.length) for m in second.enclosures] == [
        ("https://example.org/second-item-show.mp4", "video/mp4", 12000000)
    ]
    assert (first.author, first.content_text) == ("you", "Hello, world!")


@needs_corpus
@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("encoding/euc-kr.xml", "\ub144"),
        ("wellformed/atom10/feed_title.xml", "Example Atom"),
        ("wellformed/rss/channel_title.xml", "Example feed"),
    ],
    ids=["euc-kr", "atom10", "rss"],
)
def test_known_feed_titles(path: str, title: str) -> None:
    feed = outcomes()[path].feed
    assert feed is not None and feed.title == title
