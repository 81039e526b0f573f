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

from poster.config import FeedConfig
from poster.models import Body, Item, Media
from poster.parse import direct, directquick, directread
from poster.parse.dates import from_struct
from poster.parse.directitem import author_of, build_item
from poster.parse.directnames import Names, names_for
from poster.parse.fastxml import mirrored_document
from poster.parse.feeddates import parse_feed_date

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import farm as farms


def collected(body: bytes, handlers: dict[str, Any], simple: bool = False) -> tuple[object, ...]:
    """Return what the direct reader collects from a document with these entry handlers.

    With ``simple`` the items of the commonest shape are read in one pass (``simple_reader``),
    and the entries are given as the Items built of them, with the feed's data; without it,
    as the entries collected.
    """
    read = mirrored_document(fetched(body))
    if read is None:
        return ("left to the other readers",)
    with pytest.MonkeyPatch.context() as patch:
        # Fresh names for each reading: the routes of shared ones name the handlers of before.
        patch.setattr(direct, "names_for", Names)
        patch.setattr(directread, "ENTRY_HANDLERS", handlers)
        if not simple:
            patch.setattr(directread, "simple_reader", lambda version: None)
        try:
            reader = direct._read(read[0])
        except Exception as exc:
            return ("refused", type(exc).__name__)
    if reader is None:
        return ("not read here",)
    if not simple:
        return reader.version, reader.meta, reader.entries
    return reader.version, reader.meta, built(reader.entries, reader.meta, reader.version)


def built(entries: list[Any], meta: dict[str, Any], version: str) -> list[tuple[object, ...]]:
    """Return the Items of the collected entries, each with its summary and its parts."""
    inherited = author_of(meta) if version.startswith("atom") else None
    feed = FeedConfig(name="quick", url=samefeed.URL)
    items = [build_item(entry, feed, samefeed.URL, inherited) for entry in entries]
    return [(item, item.summary, item.body.parts) for item in items]


def differs(body: bytes) -> bool:
    """Tell whether the short paths collect other data than the general handlers.

    The general handlers look at every text for feedparser's repair, as if the document could
    need it; the short paths look only where ``may_repair`` says a text can. The handlers'
    entries are compared as collected; the items read in one pass, as the Items built.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(direct, "may_repair", lambda data: True)
        general = collected(body, {})
    if collected(body, directquick.ENTRY_HANDLERS) != general:
        return True
    return collected(body, directquick.ENTRY_HANDLERS, simple=True) != _built(general)


def _built(read: tuple[object, ...]) -> tuple[object, ...]:
    """Return a reading of entries as the reading of the Items built of them."""
    if len(read) != 3:
        return read
    version, meta, entries = read
    assert isinstance(version, str) and isinstance(meta, dict) and isinstance(entries, list)
    return version, meta, built(entries, meta, version)


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
    # Shapes read in one pass (directsimple.simple_reader), or left to the handlers.
    "simple-every-child": (
        "<title>T</title><link>http://e.org/l</link><guid isPermaLink='false'>g</guid>"
        "<pubDate>Wed, 01 May 2024 12:00:00 GMT</pubDate><category>a</category>"
        "<category>b</category><category>a</category><category> </category>"
        "<description>d &lt;b&gt;x&lt;/b&gt;</description><comments>http://e.org/c</comments>"
        "<enclosure url='http://e.org/a.jpg' type='Image/JPEG' length='12'/>"
        "<enclosure url='http://e.org/b.mp3' type=' audio/mpeg ' length=' 7 '/>"
    ),
    "simple-permalink-guid-is-the-link": "<guid>http://e.org/g</guid><title></title>",
    "simple-link-after-a-permalink-guid": "<guid>http://e.org/g</guid><link>http://e.org/l</link>",
    "simple-empty-link-after-a-guid": "<guid>http://e.org/g</guid><link/>",
    "simple-html-title": "<title>a &lt;b&gt;bold&lt;/b&gt; move</title><title>again</title>",
    "simple-both-dates": "<dc:date>2024-05-01T12:00:00Z</dc:date><pubDate>bad</pubDate>",
    "simple-two-links": "<link>http://e.org/a</link><link>http://e.org/b</link>",
    "simple-relative-urls": "<link>/a/b</link><enclosure url='/x.jpg'/><guid>/g</guid>",
    "simple-duration": "<itunes:duration>1:00</itunes:duration><enclosure url='http://e.org/a'/>",
    "simple-unknown-element": "<x:thing>v</x:thing><title>t</title><x:other a='b'/>",
    "simple-non-ascii": "<title>caf\u00e9 &#160;x</title><description>na\u00efve</description>",
    "simple-mis-decoded": "<category>caf&#195;&#169;</category><title>Jos&#195;&#169;</title>",
    "simple-enclosure-without-url": "<enclosure type='audio/mpeg' length='1'/>",
    "simple-enclosure-with-more": "<enclosure url='http://e.org/a' type='a/b' x:y='z'/>",
    "simple-category-with-a-domain": "<category domain='http://d/'>Topic</category>",
    "simple-author": "<author>jo@e.org (Jo)</author><title>t</title>",
    "simple-source": "<source url='http://e.org/'>S</source><title>t</title>",
    "simple-content": "<description>d</description><content:encoded>c</content:encoded>",
    "simple-long-guid": f"<guid isPermaLink='false'>{'g' * 3000}</guid>",
    "simple-content-first": "<content:encoded>c</content:encoded><description>d</description>",
    "simple-empty-content": "<content:encoded/><description>d</description>",
    "simple-content-repaired-to-a-space": (
        "<content:encoded>&#226;&#128;&#128;</content:encoded><description>d</description>"
    ),
    "simple-two-contents": "<content:encoded>a</content:encoded>" * 2,
    "simple-date-with-attributes": "<pubDate x:y='z'>Wed, 01 May 2024 12:00:00 GMT</pubDate>",
    "simple-two-dates": "<pubDate>2024-05-01T12:00:00Z</pubDate><pubDate>2024-05-02</pubDate>",
    "simple-empty-categories": "<category/><category> </category>",
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


def test_items_of_the_commonest_shape_are_read_in_one_pass(tmp_path: Path) -> None:
    spec = farms.FeedSpec(0, "rss", "small")
    (tmp_path / spec.kind).mkdir()
    farms.write_feed(tmp_path, spec)
    read = mirrored_document(fetched((tmp_path / spec.path).read_bytes()))
    assert read is not None
    reader = direct._read(read[0])
    assert reader is not None and reader.entries
    assert all(isinstance(entry, tuple) for entry in reader.entries)


@pytest.mark.parametrize(
    "after",
    [
        "<title>Channel</title><link>http://e.org/</link>",
        "<image><title>I</title></image>",
        "<item><author>a@e.org</author></item>",
        "<item><content:encoded>c</content:encoded></item><description>d</description>",
    ],
    ids=["title-and-link", "image", "an-item-of-another-shape", "content"],
)
def test_the_channel_after_items_read_in_one_pass_is_read_alike(after: str) -> None:
    body = (
        "<rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel>"
        "<item><title>One</title><guid>http://e.org/1</guid></item>"
        f"<item><title></title></item>{after}<item><description>d</description></item>"
        "</channel></rss>"
    ).encode()
    assert not differs(body)


ATOM_ENTRIES = {
    "farm-like": (
        "<title>T</title><id>urn:x:1</id><link rel='alternate' type='text/html' href='http://e.org/1'/>"
        "<link rel='enclosure' type='Image/JPEG' length='12' href='http://e.org/a.jpg'/>"
        "<published>2024-05-01T12:00:00Z</published><updated>2024-05-01T12:00:00Z</updated>"
        "<category term='a'/><category term='b' scheme='s' label='B'/><summary>s</summary>"
    ),
    "typed-constructs": (
        "<title type='html'>a &lt;b&gt;b&lt;/b&gt;</title><summary type='text'>s &amp; t</summary>"
        "<content type='html'>&lt;p&gt;c&lt;/p&gt;</content>"
    ),
    "content-then-summary": "<content>c</content><summary>s</summary>",
    "blank-content": "<content type='html'> </content><summary type='html'>s</summary>",
    "xhtml-content": "<content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>x</div></content>",
    "content-src": "<content src='http://e.org/c'/>",
    "id-is-the-link": "<id>http://e.org/1</id><link rel='self' href='http://e.org/s'/>",
    "links-in-turn": (
        "<link href='http://e.org/a'/><id>http://e.org/i</id><link href='http://e.org/b'/>"
        "<link rel='alternate' type='application/pdf' href='http://e.org/c'/>"
        "<link rel='ALTERNATE' type='HTML' href='http://e.org/d'/>"
    ),
    "alternate-of-another-type-last": (
        "<link href='http://e.org/a'/><link rel='alternate' type='application/pdf' href='http://e.org/c'/>"
    ),
    "enclosure-without-a-type": "<link rel='enclosure' href='http://e.org/a'/>",
    "link-with-more": "<link rel='alternate' hreflang='en' href='http://e.org/a'/>",
    "link-slashes": "<link href='http:///e.org/a'/>",
    "category-with-text": (
        "<category term=''>t</category><category>u</category><category term='u'/>"
    ),
    "author": "<author><name>A</name></author><title>t</title>",
    "two-titles": "<title>a</title><title>b</title>",
    "non-ascii": "<title>caf\u00e9</title><summary>Jos&#195;&#169;</summary><id>urn:\u00e9</id>",
    "unread-element": "<rights>r</rights><x:thing>v</x:thing><title>t</title>",
    "language": "<title xml:lang='en'>t</title>",
}
RDF_ITEMS = {
    "usual": (
        "<item rdf:about='http://e.org/1'><title>T</title><link>http://e.org/1</link>"
        "<description>d</description><dc:date>2024-05-01T12:00:00Z</dc:date>"
        "<dc:subject>s</dc:subject><dc:subject>s</dc:subject></item>"
    ),
    "guid-after-about": "<item rdf:about='http://e.org/1'><guid>http://e.org/g</guid></item>",
    "two-guids-after-about": (
        "<item rdf:about='http://e.org/1'><guid>http://e.org/g</guid><guid>x</guid></item>"
    ),
    "empty-about": "<item rdf:about=''><title>T</title></item>",
    "no-about": "<item><title>T</title><link>http://e.org/1</link></item>",
    "other-attribute": "<item rdf:about='http://e.org/1' rdf:ID='x'><title>T</title></item>",
    "about-then-another-shape": (
        "<item rdf:about='http://e.org/1'><title>T</title></item>"
        "<item rdf:about='http://e.org/2'><dc:creator>C</dc:creator></item>"
        "<item rdf:about='http://e.org/3'><title>U</title></item>"
    ),
}


@pytest.mark.parametrize("items", RDF_ITEMS.values(), ids=RDF_ITEMS.keys())
def test_rss10_items_of_every_shape_are_collected_alike_on_the_short_paths(items: str) -> None:
    body = (
        "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' "
        "xmlns='http://purl.org/rss/1.0/' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
        f"<channel rdf:about='http://e.org/'><title>c</title></channel>{items}</rdf:RDF>"
    ).encode()
    assert collected(body, {})[0] in ("rss10", "refused")
    assert not differs(body)


@pytest.mark.parametrize("children", ATOM_ENTRIES.values(), ids=ATOM_ENTRIES.keys())
def test_atom_entries_of_every_shape_are_collected_alike_on_the_short_paths(children: str) -> None:
    body = (
        "<feed xmlns='http://www.w3.org/2005/Atom' xmlns:x='urn:x'><title>f</title>"
        "<author><name>Feed author</name></author>"
        f"<entry>{children}</entry><entry><title>next</title></entry><title>late</title></feed>"
    ).encode()
    assert collected(body, {})[0] in ("atom10", "refused")
    assert not differs(body)
