"""Check that reading a large XML document holds little beside its body, and reads the same.

Memory is counted with tracemalloc, which sees every allocation of the interpreter, expat and
ElementTree, so the figures do not depend on the allocator or on other threads.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from feedparser.encodings import convert_to_utf8
from support import bombs

from poster.config import FeedConfig
from poster.config.parts import JsonMapping
from poster.models import FetchResult, Validators
from poster.parse import parse
from poster.parse.depth import too_deep
from poster.parse.encoding import settle
from poster.parse.itemcap import MAX_ITEMS, over_cap
from poster.parse.utf8 import utf8_pieces
from poster.parse.xmlfeed import response_headers

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feedparser-tests"
SIZE = 10_000_000
RSS = "application/rss+xml"


def fetched(body: bytes, content_type: str = RSS) -> FetchResult:
    """Return a fetch result carrying ``body``."""
    return FetchResult(
        feed="large",
        url="https://example.org/feed.xml",
        status=200,
        body=body,
        validators=Validators(),
        content_type=content_type,
        headers=(("content-type", content_type),),
        fetched_at=datetime.now(UTC),
    )


def held_beside(run: Callable[[], object]) -> int:
    """Return the most bytes ``run`` held at once, beyond what existed before it started."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def non_ascii_document() -> bytes:
    """Return a valid UTF-8 feed of about SIZE bytes whose one title is mostly Cyrillic."""
    words = "слово word ".encode() * (SIZE // 16)
    return bombs.rss([("large-1", words)])


def test_a_large_document_is_read_holding_little_more_than_its_text_twice() -> None:
    body = bombs.huge_title(SIZE)
    result = fetched(body)
    feed = FeedConfig(name="large", url=result.url)
    found: list[Any] = []
    held = held_beside(lambda: found.append(parse(result, feed)))
    # The title's text is in the tree, and feedparser's handler strips a copy of it; the
    # document itself is never decoded or copied whole.
    assert held < 2.2 * len(body), f"{held / len(body):.2f} times the body"
    [item] = found[0].items
    assert item.title.startswith("word word")


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(lambda body: settle(fetched(body), RSS), id="settle"),
        pytest.param(too_deep, id="too_deep"),
    ],
)
def test_checks_of_a_large_document_hold_a_small_part_of_it(
    check: Callable[[bytes], object],
) -> None:
    body = non_ascii_document()
    assert held_beside(lambda: check(body)) < len(body) / 8


def converted_alike(body: bytes, content_type: str | None) -> bool:
    """Tell whether the pieces join to feedparser's own conversion, with the same outcome.

    The pieces are made twice: knowing nothing of the body, and knowing what settling it found.
    """
    headers = {"content-type": content_type} if content_type is not None else {}
    theirs: dict[str, Any] = {}
    expected = convert_to_utf8(dict(headers), body, theirs)
    return all(
        pieces_alike(body, headers, expected, theirs, utf8)
        for utf8 in {False, known_utf8(body, content_type)}
    )


def pieces_alike(
    body: bytes, headers: dict[str, str], expected: bytes, theirs: dict[str, Any], utf8: bool
) -> bool:
    """Tell whether utf8_pieces, told ``utf8``, gives feedparser's conversion and outcome."""
    mine: dict[str, Any] = {}
    pieces = utf8_pieces(body, dict(headers), mine, utf8=utf8)
    joined = b"".join(bytes(piece) for piece in pieces)
    same_error = type(mine.get("bozo_exception")) is type(theirs.get("bozo_exception"))
    keys = ("encoding", "bozo")
    return (
        joined == expected
        and same_error
        and [mine.get(k) for k in keys] == [theirs.get(k) for k in keys]
    )


def known_utf8(body: bytes, content_type: str | None) -> bool:
    """Return whether settling the body, unchanged, found that it decodes as UTF-8."""
    result = FetchResult("memory", "", 200, body, Validators(), content_type)
    settled = settle(result, response_headers(result)["content-type"])
    return settled.utf8 and settled.result.body is body


CONTENT_TYPES = [
    None,
    "application/xml",
    "application/rss+xml; charset=utf-8",
    "application/atom+xml; charset=iso-8859-1",
    "text/xml",
    "text/xml; charset=UTF-8",
    "text/html",
]
DECLARATION = b'<?xml version="1.0" encoding="%s"?>'
DOCUMENTS = {
    "no-declaration": b"<rss><channel><title>caf\xc3\xa9</title></channel></rss>",
    "utf-8": DECLARATION % b"utf-8" + b"\n<rss><title>caf\xc3\xa9</title></rss>",
    "bom": b"\xef\xbb\xbf" + DECLARATION % b"UTF-8" + b"<rss><title>caf\xc3\xa9</title></rss>",
    "latin-1": DECLARATION % b"iso-8859-1" + b"\n<rss><title>caf\xe9</title></rss>",
    "utf8-declared-latin-1": DECLARATION % b"iso-8859-1" + b"<rss><t>caf\xc3\xa9</t></rss>",
    "ascii": DECLARATION % b"us-ascii" + b"<rss><title>cafe</title></rss>",
    "one-line-second-encoding": (
        b"<?xml version='1.0'?><rss><t>encoding='koi8-r' ?></t><t>\xc3\xa9</t></rss>"
    ),
    "declaration-over-lines": b'<?xml version="1.0"\n encoding="utf-8"?><rss>\xc3\xa9</rss>',
    "invalid-utf-8": DECLARATION % b"utf-8" + b"\n<rss><title>caf\xff</title></rss>",
    "utf-16": ("\ufeff" + '<?xml version="1.0"?><rss>café</rss>').encode("utf-16-le"),
    "no-tag-end": b"<?xml version='1.0'",
    "empty": b"",
}


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("body", list(DOCUMENTS.values()), ids=list(DOCUMENTS))
def test_pieces_join_to_feedparsers_conversion(body: bytes, content_type: str | None) -> None:
    assert converted_alike(body, content_type)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no feedparser test corpus at {CORPUS}")
@pytest.mark.parametrize("content_type", CONTENT_TYPES[:5])
def test_pieces_join_to_feedparsers_conversion_over_the_corpus(content_type: str | None) -> None:
    paths = sorted(CORPUS.rglob("*.xml"))
    differ = [p.name for p in paths if not converted_alike(p.read_bytes(), content_type)]
    assert (differ, len(paths) > 2000) == ([], True)


def test_a_utf8_body_is_passed_on_without_a_copy() -> None:
    body = non_ascii_document()
    head, *rest = utf8_pieces(body, {"content-type": RSS}, {})
    assert head.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert all(isinstance(piece, memoryview) and piece.obj is body for piece in rest)


def _rss(items: int, ill_formed: bool = False) -> bytes:
    """Return an RSS document of ``items`` tiny items, the last one's title ill-formed if asked."""
    body = "".join(f"<item><guid>i{n}</guid></item>" for n in range(items))
    odd = "<item><guid>odd</guid><title>a & b</title></item>" if ill_formed else ""
    return f"<rss version='2.0'><channel><title>t</title>{odd}{body}</channel></rss>".encode()


def _json_feed(items: int) -> bytes:
    listed = ",".join(f'{{"id": "i{n}"}}' for n in range(items))
    return f'{{"version": "https://jsonfeed.org/version/1.1", "items": [{listed}]}}'.encode()


@pytest.mark.parametrize(
    ("body", "content_type", "kind", "listed", "last"),
    [
        (_rss(MAX_ITEMS + 5), RSS, "xml", MAX_ITEMS + 5, "i9999"),
        (_rss(MAX_ITEMS + 5, ill_formed=True), RSS, "xml", MAX_ITEMS + 6, "i9998"),
        (_json_feed(MAX_ITEMS + 5), "application/feed+json", "auto", MAX_ITEMS + 5, "i9999"),
    ],
    ids=["rss", "rss-ill-formed-read-by-feedparser", "json-feed"],
)
def test_a_document_of_more_items_than_the_cap_gives_its_first_ones_and_says_so(
    body: bytes, content_type: str, kind: str, listed: int, last: str
) -> None:
    parsed = parse(fetched(body, content_type), FeedConfig(name="large", url="x", format=kind))
    assert len(parsed.items) == MAX_ITEMS and parsed.items[-1].key == last
    assert parsed.warnings[-1] == over_cap(listed)


def test_a_mapped_json_api_of_more_items_than_the_cap_gives_its_first_ones() -> None:
    listed = ",".join(f'{{"id": "i{n}", "t": "x"}}' for n in range(MAX_ITEMS + 2))
    feed = FeedConfig(
        name="large", url="x", format="json", json=JsonMapping(items="data", id="id", title="t")
    )
    parsed = parse(fetched(f'{{"data": [{listed}]}}'.encode(), "application/json"), feed)
    assert [item.key for item in parsed.items[:2]] == ["i0", "i1"]
    assert len(parsed.items) == MAX_ITEMS and parsed.warnings == (over_cap(MAX_ITEMS + 2),)


def test_feedparser_is_given_the_document_cut_before_its_first_item_past_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import poster.parse.fastxml as fastxml

    given: list[bytes] = []
    read_fast = fastxml.parse_fast

    def spying(result: FetchResult, feed: FeedConfig) -> object:
        given.append(result.body or b"")
        return read_fast(result, feed)

    monkeypatch.setattr(fastxml, "parse_fast", spying)
    body = _rss(MAX_ITEMS + 500, ill_formed=True)
    parse(fetched(body), FeedConfig(name="large", url="x"))
    [cut] = given
    assert cut.count(b"<item>") == MAX_ITEMS and body.startswith(cut)
