"""Check the direct reader's short paths: they keep exactly what the general ones keep.

An entry's bare elements take the handlers of ``poster.parse.directquick``; over every XML file
of feedparser's corpus, the generated feeds and the farm's feeds, the feed data and entries
the reader collects are the same as with the general handlers alone. Documents that declare
the same namespaces share their element names, which stay bounded.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from feedparser.datetimes import _parse_date
from support import samefeed
from support.samefeed import SYNTHETIC, fetched

from poster.models import Body, Item, Media
from poster.parse import direct, directquick, directread
from poster.parse.dates import from_struct
from poster.parse.directnames import Names, names_for
from poster.parse.fastxml import mirrored_document
from poster.parse.feeddates import parse_feed_date

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import farm as farms


def collected(body: bytes, handlers: dict[str, Any]) -> tuple[object, ...]:
    """Return what the direct reader collects from a document with these entry handlers."""
    read = mirrored_document(fetched(body))
    if read is None:
        return ("left to the other readers",)
    with pytest.MonkeyPatch.context() as patch:
        # Fresh names for each reading: the routes of shared ones name the handlers of before.
        patch.setattr(direct, "names_for", Names)
        patch.setattr(directread, "ENTRY_HANDLERS", handlers)
        try:
            reader = direct._read(read[0])
        except Exception as exc:
            return ("refused", type(exc).__name__)
    if reader is None:
        return ("not read here",)
    return reader.version, reader.meta, reader.entries


def differs(body: bytes) -> bool:
    """Tell whether the short paths collect other data than the general handlers.

    The general handlers look at every text for feedparser's repair, as if the document could
    need it; the short paths look only where ``may_repair`` says a text can.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(direct, "may_repair", lambda data: True)
        general = collected(body, {})
    return collected(body, directquick.ENTRY_HANDLERS) != general


@samefeed.needs_corpus
def test_corpus_files_are_collected_alike_on_the_short_paths() -> None:
    found: dict[str, list[str]] = {}
    read = 0
    for path in samefeed.corpus_files():
        relative = str(path.relative_to(samefeed.CORPUS))
        body = path.read_bytes()
        read += len(collected(body, {})) == 3
        if differs(body):
            found.setdefault(samefeed.folder(relative), []).append(relative)
    assert found == {}
    assert read >= 900


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_generated_feeds_are_collected_alike_on_the_short_paths(name: str) -> None:
    body = SYNTHETIC[name]()
    assert collected(body, {})[0] != "not read here"
    assert not differs(body)


FARM = [
    farms.FeedSpec(index, kind, style, encoding)
    for index, (kind, style, encoding) in enumerate(
        (kind, style, encoding)
        for kind in ("rss", "atom", "rdf")
        for style in farms.STYLES
        for encoding in ("utf-8", "windows-1251")
    )
]


@pytest.mark.parametrize("spec", FARM, ids=[f"{s.kind}-{s.style}-{s.encoding}" for s in FARM])
def test_farm_feeds_are_collected_alike_on_the_short_paths(
    tmp_path: Path, spec: farms.FeedSpec
) -> None:
    (tmp_path / spec.kind).mkdir()
    farms.write_feed(tmp_path, spec, extra=7)
    body = (tmp_path / spec.path).read_bytes()
    assert not differs(body)


ENTRIES = {
    "guessed-html-title": "<title>a &lt;b&gt;bold&lt;/b&gt; move</title>",
    "typed-title": "<title type='html'>a &lt;b&gt;bold&lt;/b&gt;</title>",
    "empty-title-then-title": "<title> </title><title>Second</title><title>Third</title>",
    "second-description-is-content": "<description>one</description><description>two</description>",
    "content-then-description": "<content:encoded>c</content:encoded><description>d</description>",
    "summary-then-content": "<itunes:summary>s &amp;amp; t</itunes:summary><content:encoded/>",
    "dates-repeated": "<pubDate>Wed, 01 May 2024 12:00:00 GMT</pubDate><dc:date>2024-05</dc:date>",
    "bad-date": "<pubDate>yesterday</pubDate>",
    "categories": "<category>a</category><category>a</category><dc:subject> </dc:subject>",
    "category-after-a-termless-one": "<category domain='http://d/'/><category>t</category>",
    "category-with-a-domain": "<category domain='http://d/'>Topic</category><category>a</category>",
    "category-with-a-term": "<category term='t' scheme='s' label='L'/><category term='t'/>",
    "category-attributes-unseen": "<category x:y='z'>a</category>",
    "mis-decoded-utf8": "<title>Jos&#195;&#169;</title><description>caf&#195;&#169;</description>",
    "guid-permalink-then-link": "<guid>http://e.org/g</guid><link>http://e.org/l</link>",
    "link-then-guid-permalink": "<link>http://e.org/l</link><guid>http://e.org/g</guid>",
    "guid-not-permalink": "<guid isPermaLink='false'>urn:x:1</guid>",
    "guid-permalink-spelled-otherwise": "<guid isPermaLink='False'>a</guid>",
    "guid-permalink-in-lower-case": "<guid ispermalink='false'>a</guid>",
    "guid-two-attributes": "<guid isPermaLink='true' x:y='z'>http://e.org/g</guid>",
    "guid-empty": "<guid> </guid><link>http://e.org/l</link>",
    "guid-slashes-repaired": "<guid>http:///e.org/g</guid>",
    "guid-mis-decoded-utf8": "<guid isPermaLink='false'>caf&#195;&#169;</guid>",
    "link-empty": "<link/><link> </link>",
    "link-with-query": "<link>http://e.org/?a=1&amp;b=2&amp;c;=3</link>",
    "link-slashes-repaired": "<link>http:///e.org/l</link>",
    "link-mis-decoded-utf8": "<link>http://e.org/caf&#195;&#169;</link>",
    "enclosure-url": "<enclosure url='http://e.org/a.mp3' type='Audio/MPEG' length='1'/>",
    "enclosure-url-and-uri": "<enclosure url='http://e.org/a' uri='http://e.org/u'/>",
    "enclosure-empty-url-and-href": "<enclosure url='' href='http://e.org/h'/>",
    "enclosure-href-only": "<enclosure href='http://e.org/h' type='image/jpeg'/>",
    "date-mis-decoded-utf8": "<pubDate>Mi&#195;&#169;, 01 May 2024 12:00:00 GMT</pubDate>",
}


@pytest.mark.parametrize("children", ENTRIES.values(), ids=ENTRIES.keys())
def test_entries_of_every_shape_are_collected_alike_on_the_short_paths(children: str) -> None:
    body = rss(children)
    assert collected(body, {})[0] == "rss20"
    assert not differs(body)


@pytest.mark.parametrize(
    "children",
    [
        "<title>a<b>b</b></title>",
        "<category>a<b/></category>",
        "<link>a<b/></link>",
        "<guid>a<b/></guid>",
        "<enclosure url='http://e.org/a'><b/></enclosure>",
        "<pubDate>a<b/></pubDate>",
    ],
)
def test_elements_holding_markup_are_refused_alike_on_the_short_paths(children: str) -> None:
    assert collected(rss(children), directquick.ENTRY_HANDLERS) == ("refused", "Unsupported")
    assert not differs(rss(children))


def rss(children: str) -> bytes:
    """Return an RSS 2.0 document whose first item holds ``children``."""
    return (
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:x="urn:x" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>t</title>'
        f"<item>{children}</item><item><title>next</title></item></channel></rss>"
    ).encode()


def test_documents_declaring_the_same_namespaces_share_their_names() -> None:
    declarations = [("", "http://www.w3.org/2005/Atom"), ("media", "http://search.yahoo.com/mrss/")]
    assert names_for(declarations) is names_for(list(declarations))
    assert names_for(declarations) is not names_for(declarations[:1])


def test_shared_names_keep_a_bounded_number_of_tags() -> None:
    declarations = [("dc", "http://purl.org/dc/elements/1.1/"), ("x", "urn:made-up")]
    shared, fresh = names_for(declarations), Names(declarations)
    tags = [f"{{urn:made-up}}Tag{n}" for n in range(3000)]
    assert [shared.key(tag) for tag in tags] == [fresh.key(tag) for tag in tags]
    assert len(shared.known) <= 1024


@pytest.mark.parametrize(
    "texts",
    [
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"),
        ("Wed, 01 May 2024 12:00:00 GMT", "Wed, 01 May 2024 12:00:00 GMT", "2024-05-02"),
        ("", ""),
        ("yesterday", "yesterday", "2024-13-01T12:00:00Z"),
    ],
)
def test_dates_read_in_a_row_are_each_read_as_feedparser_reads_them(
    texts: tuple[str, ...],
) -> None:
    assert [parse_feed_date(t) for t in texts] == [from_struct(_parse_date(t)) for t in texts]


def test_an_item_of_its_fields_is_the_item_its_init_builds() -> None:
    body = Body("<p>x</p>", "x", "x")
    media = (Media("https://e.org/a.mp3", "audio/mpeg", 10),)
    image = Media("https://e.org/a.jpg")
    stamp = datetime(2024, 5, 1, tzinfo=UTC)
    fields = ("k", "T", "https://e.org/1", body, "Jo", stamp, None, ("a",), image, None, media)
    made = Item.of(*fields)
    built = Item(
        key="k", title="T", link="https://e.org/1", body=body, author="Jo", published=stamp,
        tags=("a",), image=image, enclosures=media,
    )  # fmt: skip
    assert made == built
    assert vars(made) == vars(built)
    assert (repr(made), hash(made)) == (repr(built), hash(built))
    with pytest.raises(FrozenInstanceError):
        made.title = "other"  # type: ignore[misc]


def test_a_deferred_body_read_by_many_threads_at_once_is_derived_once() -> None:
    calls: list[str] = []
    started = threading.Barrier(8)

    def derive(text: str, own: str | None = None) -> tuple[str, str, str]:
        calls.append(text)
        time.sleep(0.01)  # long enough for the other threads to ask meanwhile
        return f"<p>{text}</p>", text, own or text

    body = Body.deferred(derive, lambda text: text.upper(), "x")

    def read() -> tuple[str, str]:
        started.wait()
        return body.summary, body.parts[0]

    with ThreadPoolExecutor(8) as pool:
        read_by_each = set(pool.map(lambda _: read(), range(8)))
    assert read_by_each == {("X", "<p>x</p>")}
    assert calls == ["x"]
    assert body == Body("<p>x</p>", "x", "X")
