"""Check how the direct reader builds a document's tree: small ones whole, large ones checked.

A document up to 256 KiB is parsed whole and its depth and namespace declarations looked at
after; a larger one is refused as soon as its nesting shows. Either way the result must be the
one the feedparser path gives, and the same documents must be refused.
"""

from __future__ import annotations

import pytest
from support.samefeed import feed_differences, fetched

from poster.config import FeedConfig
from poster.errors import ParseError
from poster.parse import parse
from poster.parse.direct import parse_direct
from poster.parse.xmlfeed import parse_xml

DC = "http://purl.org/dc/elements/1.1/"
SMALL = 256 * 1024


def read_alike(body: str) -> bool:
    """Tell whether the direct reader reads the document and gives the feedparser path's feed."""
    result = fetched(body.encode(), "application/rss+xml")
    feed = FeedConfig("tree", result.url)
    mine = parse_direct(result, feed)
    return mine is not None and feed_differences(mine, parse_xml(result, feed)) == []


def rss(items: str, root: str = f"<rss version='2.0' xmlns:dc='{DC}'>") -> str:
    """Return an RSS document with the given root start tag and items."""
    return f"{root}<channel><title>T</title>{items}</channel></rss>"


def nested(depth: int, padding: int = 0) -> str:
    """Return an item holding elements nested ``depth`` deep, then ``padding`` bytes of text."""
    return (
        "<item><title>Deep</title><guid>g</guid>" + "<x>" * depth + "</x>" * depth
        + "<description>" + "p" * padding + "</description></item>"
    )  # fmt: skip


def test_a_small_document_of_many_shallow_elements_is_read_alike() -> None:
    items = "".join(
        f"<item><title>{n}</title><guid>g{n}</guid><dc:creator>A</dc:creator></item>"
        for n in range(400)
    )
    assert read_alike(rss(items))


@pytest.mark.parametrize("padding", [0, SMALL], ids=["small", "large"])
def test_elements_nested_up_to_the_limit_are_not_refused(padding: int) -> None:
    result = fetched(rss(nested(996, padding)).encode())
    assert [item.title for item in parse(result, FeedConfig("tree", result.url)).items] == ["Deep"]


@pytest.mark.parametrize("padding", [0, SMALL], ids=["small", "large"])
def test_elements_nested_past_the_limit_are_refused(padding: int) -> None:
    body = rss(nested(1001, padding)).encode()
    with pytest.raises(ParseError, match="nested more than 1000 deep"):
        parse_direct(fetched(body), FeedConfig("tree", "https://example.org/"))


ROOTS = {
    "declarations-only": f"<rss version='2.0' xmlns:dc='{DC}'>",
    "gt-in-a-value-before-them": f"<rss version='2.0' note='a>b' xmlns:dc='{DC}'>",
    "after-a-comment-and-instruction": (
        f"<!-- <a> --><?style <b>?><rss version='2.0' xmlns:dc='{DC}'>"
    ),
    "xmlns-in-a-value": f"<rss version='2.0' note='xmlns' xmlns:dc='{DC}'>",
}


@pytest.mark.parametrize("padding", [0, SMALL], ids=["small", "large"])
@pytest.mark.parametrize("root", ROOTS.values(), ids=ROOTS.keys())
def test_namespaces_declared_on_the_root_are_read_alike(root: str, padding: int) -> None:
    item = "<item><title>I</title><dc:creator>Jo</dc:creator><description>{}</description></item>"
    assert read_alike(rss(item.format("p" * padding), root))


@pytest.mark.parametrize("padding", [0, SMALL], ids=["small", "large"])
def test_a_namespace_declared_below_the_root_is_left_to_the_others(padding: int) -> None:
    item = (
        f"<item><title>I</title><d:creator xmlns:d='{DC}'>Jo</d:creator>"
        f"<description>{'p' * padding}</description></item>"
    )
    result = fetched(rss(item).encode(), "application/rss+xml")
    assert parse_direct(result, FeedConfig("tree", result.url)) is None


@pytest.mark.parametrize("padding", [0, SMALL], ids=["small", "large"])
def test_the_depth_limit_counts_the_root_as_the_first_level(padding: int) -> None:
    # rss, channel and item are the first three levels; 997 more make 1,000.
    feed = FeedConfig("tree", "https://example.org/")
    parse_direct(fetched(rss(nested(997, padding)).encode()), feed)
    with pytest.raises(ParseError, match="nested more than 1000 deep"):
        parse_direct(fetched(rss(nested(998, padding)).encode()), feed)
