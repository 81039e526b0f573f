"""Check that feeds in legacy encodings, declared in the XML or in HTTP, read as correct text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from poster.config import FeedConfig
from poster.errors import ParseError
from poster.frozen import replace
from poster.models import FetchResult, ParsedFeed, Validators
from poster.parse import parse
from poster.parse.direct import parse_direct
from poster.parse.encoding import MISLABELLED, settle
from poster.parse.pieces import decodes
from poster.parse.xmlfeed import response_headers

FEEDS = Path(__file__).parent / "data" / "feeds"
URL = "https://enc.example.com/feed.xml"

CYRILLIC = (
    "Новости дня",
    "Съешь же ещё этих мягких французских булок",
    "Широкая электрификация южных губерний даст мощный толчок подъёму сельского хозяйства.",
)
LATIN = (
    "Größe & Café",
    "Naïve façade: «déjà vu»",
    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
)


def parse_file(
    name: str, content_type: str | None, headers: tuple[tuple[str, str], ...] = ()
) -> ParsedFeed:
    """Parse a fixture as fetched with the given Content-Type."""
    result = FetchResult(
        feed="test",
        url=URL,
        status=200,
        body=(FEEDS / name).read_bytes(),
        validators=Validators(),
        content_type=content_type,
        headers=headers,
    )
    return parse(result, FeedConfig(name="test", url=URL))


CASES = [
    # declared in the XML prolog only
    ("rss20_windows1251.xml", None, CYRILLIC),
    ("rss20_windows1251.xml", "application/rss+xml", CYRILLIC),
    ("rss20_windows1251.xml", "text/xml", CYRILLIC),
    ("rss20_koi8r.xml", None, CYRILLIC),
    ("rss20_iso88591.xml", None, LATIN),
    ("rss20_iso88591.xml", "text/xml", LATIN),
    # declared in HTTP only
    ("rss20_koi8r_undeclared.xml", "text/xml; charset=koi8-r", CYRILLIC),
    ("rss20_koi8r_undeclared.xml", "application/rss+xml; charset=KOI8-R", CYRILLIC),
    # declared in both
    ("rss20_windows1251.xml", "text/html; charset=windows-1251", CYRILLIC),
    # UTF-8 served with a wrong single-byte charset: the bytes plainly are UTF-8
    ("rss20_utf8_cyrillic.xml", "text/xml; charset=windows-1251", CYRILLIC),
    ("rss20_utf8_cyrillic.xml", "text/xml; charset=iso-8859-1", CYRILLIC),
    ("rss20_utf8_cyrillic.xml", None, CYRILLIC),
]


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    CASES,
    ids=[f"{name.removesuffix('.xml')}-{ctype or 'no-content-type'}" for name, ctype, _ in CASES],
)
def test_text_comes_out_right(
    name: str, content_type: str | None, expected: tuple[str, str, str]
) -> None:
    feed = parse_file(name, content_type)
    first = feed.items[0]
    assert (feed.title, first.title, first.content_text) == expected


def test_charset_from_the_headers_when_content_type_is_bare() -> None:
    headers = (("Content-Type", "text/xml; charset=koi8-r"),)
    feed = parse_file("rss20_koi8r_undeclared.xml", "text/xml", headers)
    assert feed.items[0].title == CYRILLIC[1]


def test_undeclared_legacy_bytes_need_the_http_charset() -> None:
    # Without any declaration the bytes are not UTF-8 and no guess makes them Cyrillic.
    feed = parse_file("rss20_koi8r_undeclared.xml", "application/xml")
    assert feed.items[0].title != CYRILLIC[1]
    assert (
        parse_file("rss20_koi8r_undeclared.xml", "text/xml; charset=koi8-r").items[0].title
        == (CYRILLIC[1])
    )


def test_fixtures_really_are_in_legacy_encodings() -> None:
    raw = (FEEDS / "rss20_windows1251.xml").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert CYRILLIC[1].encode("windows-1251") in raw
    assert CYRILLIC[1].encode("koi8-r") in (FEEDS / "rss20_koi8r.xml").read_bytes()
    assert LATIN[1].encode("iso-8859-1") in (FEEDS / "rss20_iso88591.xml").read_bytes()


REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "feedparser-tests"
# A DOCTYPE sends a document to feedparser's own reader instead of the ElementTree one.
PATHS = {"fast": b"", "feedparser": b'<!DOCTYPE rss [<!ENTITY c "(c)">]>\n'}


def crafted(title: bytes, encoding: str = "utf-8", doctype: bytes = b"") -> bytes:
    """Return an RSS document with one item titled with the raw bytes ``title``."""
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'.encode()
        + doctype
        + b"<rss version='2.0'><channel><title>Feed</title><item><title>"
        + title
        + b"</title><link>https://enc.example.com/1</link></item></channel></rss>"
    )


def parse_bytes(body: bytes, content_type: str | None = None) -> ParsedFeed:
    """Parse a body as fetched with the given Content-Type."""
    result = FetchResult("test", URL, 200, body, Validators(), content_type)
    return parse(result, FeedConfig(name="test", url=URL))


@pytest.mark.parametrize("path", PATHS, ids=list(PATHS))
@pytest.mark.parametrize(
    ("damage", "expected", "warning"),
    [
        (b"\xff", "Привет\ufffd мир", "1 invalid byte in UTF-8 replaced"),
        (b"\xd0", "Привет\ufffd мир", "1 invalid byte in UTF-8 replaced"),
        (b"\x80\xfe", "Привет\ufffd мир", "2 invalid bytes in UTF-8 replaced"),
    ],
    ids=["stray-ff", "truncated-sequence", "two-bytes"],
)
def test_invalid_bytes_in_utf8_keep_the_rest_of_the_text(
    path: str, damage: bytes, expected: str, warning: str
) -> None:
    body = crafted("Привет".encode() + damage + " мир".encode(), doctype=PATHS[path])
    feed = parse_bytes(body)
    assert feed.items[0].title == expected
    assert feed.warnings == (warning,)


def test_a_lone_legacy_byte_in_ascii_text_is_read_as_windows_1252() -> None:
    # No valid UTF-8 text to keep: reading the document as windows-1252 gets the letter right.
    feed = parse_bytes(crafted(b"Caf\xe9 menu"))
    assert feed.items[0].title == "Café menu"
    assert feed.warnings == (MISLABELLED,)


def test_a_legacy_document_declared_utf8_is_not_turned_into_replacement_characters() -> None:
    body = crafted("Съешь же ещё".encode("windows-1251") + "ё".encode())
    assert "\ufffd" not in parse_bytes(body).items[0].title


@pytest.mark.parametrize("path", PATHS, ids=list(PATHS))
@pytest.mark.parametrize(
    ("encoding", "content_type", "declared"),
    [
        ("windows-1252", None, "windows-1252"),
        ("iso-8859-1", "application/rss+xml", "iso-8859-1"),
        ("utf-8", "text/xml; charset=windows-1252", "windows-1252"),
        ("windows-1252", "text/xml", "windows-1252"),
        ("koi8-r", "application/xml", "koi8-r"),
    ],
    ids=["xml-decl", "xml-decl-latin1", "http-charset", "text-xml-then-decl", "xml-decl-koi8"],
)
def test_utf8_labelled_single_byte_is_read_as_utf8(
    path: str, encoding: str, content_type: str | None, declared: str
) -> None:
    body = crafted("Price: 5 € — Größe".encode(), encoding, PATHS[path])
    feed = parse_bytes(body, content_type)
    assert feed.items[0].title == "Price: 5 € — Größe"
    assert feed.warnings == (f"declared {declared} but is UTF-8; read as UTF-8",)


@pytest.mark.parametrize(
    ("encoding", "text"),
    [("windows-1251", "Новости Заречья"), ("windows-1252", "Größe & Café"), ("koi8-r", "Привет")],
)
def test_text_in_its_declared_single_byte_charset_stays_as_declared(
    encoding: str, text: str
) -> None:
    feed = parse_bytes(crafted(text.encode(encoding), encoding))
    assert (feed.items[0].title, feed.warnings) == (text, ())


def test_the_shipped_windows_1251_sample_reads_as_declared() -> None:
    body = (REPO / "samples" / "zarechye-1251.xml").read_bytes()
    feed = parse_bytes(body, "application/rss+xml")
    assert (feed.title, feed.warnings) == ("Новости Заречья", ())
    assert feed.items[0].title == "Открылся новый каток в парке Победы"


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")
# The two corpus documents that are UTF-8 with a stray byte; every other one is left alone.
REPAIRED = {
    "encoding/bozo_invalid-bytes-with-bom.xml": "Valid UTF8: ѨInvalid UTF8: Espa\ufffda",
    "encoding/bozo_linenoise.xml": "’<>”\ufffd",
}


def corpus_files() -> list[Path]:
    """Return the corpus's XML documents."""
    return sorted(CORPUS.rglob("*.xml")) if CORPUS.is_dir() else []


@needs_corpus
def test_settling_changes_no_corpus_document_but_the_damaged_utf8_ones() -> None:
    changed = {}
    for path in corpus_files():
        result = FetchResult("c", "", 200, path.read_bytes(), Validators())
        settled = settle(result, response_headers(result)["content-type"])
        if settled.result is not result or settled.warnings not in ((), (MISLABELLED,)):
            changed[str(path.relative_to(CORPUS))] = settled.warnings
    assert changed == {name: ("1 invalid byte in UTF-8 replaced",) for name in REPAIRED}


@needs_corpus
def test_settling_says_utf8_only_of_bodies_that_decode_as_utf8() -> None:
    said = 0
    for path in corpus_files():
        result = FetchResult("c", "", 200, path.read_bytes(), Validators())
        settled = settle(result, response_headers(result)["content-type"])
        if settled.utf8:
            said += 1
            assert decodes(settled.result.body or b"", "utf-8"), path
    assert said > 10


@pytest.mark.parametrize(
    ("body", "content_type", "utf8"),
    [
        ("<rss>café</rss>".encode(), "application/xml", True),
        ("<rss>café</rss>".encode(), "text/xml; charset=windows-1252", True),
        (b"<rss>caf\xc3\xa9 \xc3\xa9t\xc3\xa9 \xff</rss>", "application/xml", True),
        ("<rss>café</rss>".encode("iso-8859-1"), "text/xml; charset=iso-8859-1", False),
        (b"<rss>cafe</rss>", "application/xml", False),
    ],
    ids=["utf-8", "utf-8-labelled-windows-1252", "damaged-utf-8", "iso-8859-1", "ascii"],
)
def test_settling_tells_which_bodies_it_found_to_be_utf8(
    body: bytes, content_type: str, utf8: bool
) -> None:
    assert settle(FetchResult("t", URL, 200, body, Validators()), content_type).utf8 is utf8


@needs_corpus
@pytest.mark.parametrize("name", REPAIRED)
def test_damaged_corpus_documents_keep_their_valid_text(name: str) -> None:
    feed = parse_bytes((CORPUS / name).read_bytes())
    text = feed.title or feed.items[0].summary
    assert text.strip() == REPAIRED[name]


@needs_corpus
def test_corpus_utf8_documents_mislabelled_as_windows_1252_read_as_labelled_right() -> None:
    compared = 0
    for path in corpus_files():
        body = path.read_bytes()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text.isascii() or b"<!DOCTYPE" in body:
            continue
        try:
            right = parse_bytes(body, "application/xml; charset=utf-8")
        except ParseError:
            continue
        wrong = parse_bytes(body, "application/rss+xml; charset=windows-1252")
        assert texts(wrong) == texts(right), path
        # Bytes windows-1252 leaves undefined (0x81, 0x8d, ...) already make feedparser move on.
        if legible(body, "windows-1252"):
            assert wrong.warnings == ("declared windows-1252 but is UTF-8; read as UTF-8",)
        assert texts(wrong) == texts(right), path
        compared += 1
    assert compared >= 10


def legible(body: bytes, encoding: str) -> bool:
    """Tell whether the whole body decodes in ``encoding``."""
    try:
        body.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def texts(feed: ParsedFeed) -> list[str]:
    """Return the feed's title and each item's title and text."""
    return [feed.title, *(part for i in feed.items for part in (i.title, i.content_text))]


def test_invalid_bytes_in_a_json_feed_keep_the_rest_of_the_text() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "Feed", "items": '
        b'[{"id": "1", "title": "'
        + "Привет".encode()
        + b"\xff"
        + ' мир", '.encode()
        + b'"content_text": "x"}]}'
    )
    feed = parse_bytes(body, "application/feed+json")
    assert feed.items[0].title == "Привет\ufffd мир"
    assert feed.warnings == ("1 invalid byte in UTF-8 replaced",)


NAMED = (
    b'<rss version="2.0"><channel><title>t</title>'
    b"<item><title>A</title><guid>a</guid></item></channel></rss>"
)


@pytest.mark.parametrize(
    "label",
    ["base64", "hex", "rot13", "zlib_codec", "uu", "quopri", "bz2", "undefined", "punycode"],
)
def test_a_codec_that_is_no_text_encoding_or_cannot_read_the_body_is_never_a_crash(
    label: str,
) -> None:
    body = f'<?xml version="1.0" encoding="{label}"?>'.encode() + NAMED
    read_or_refused(
        FetchResult(feed="enc", url=URL, status=200, body=body, validators=Validators())
    )


@pytest.mark.parametrize("charset", ["utf-16", "base64", "undefined"])
def test_an_http_charset_that_cannot_read_the_body_is_never_a_crash(charset: str) -> None:
    result = FetchResult(
        feed="enc", url=URL, status=200, body=b'<?xml version="1.0"?>' + NAMED,
        validators=Validators(), content_type=f"application/rss+xml; charset={charset}",
    )  # fmt: skip
    read_or_refused(result)
    assert not decodes(b"QUJD", "base64")


def read_or_refused(result: FetchResult) -> None:
    """Check that ``NAMED`` is read right, or refused as no feed, never a crash."""
    try:
        parsed = parse(result, FeedConfig(name="enc", url=URL))
    except ParseError as exc:
        assert str(exc).startswith("feed 'enc': not a feed:")
    else:
        assert [item.title for item in parsed.items] == ["A"]


def test_legacy_bytes_labelled_utf8_are_read_with_a_note_that_they_may_be_garbled() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Привет</title><guid>a</guid></item></channel></rss>"
    ).encode("cp1251")
    result = FetchResult(feed="enc", url=URL, status=200, body=body, validators=Validators())
    parsed = parse(result, FeedConfig(name="enc", url=URL))
    assert len(parsed.items) == 1
    assert parsed.warnings == (MISLABELLED,)


def _xml_reads(body: bytes) -> bool:
    """Tell whether expat, through ElementTree, reads a document."""
    try:
        ET.fromstring(body)
    except ET.ParseError:
        return False
    return True


INVALID_UTF8 = [
    *(bytes([lead]) for lead in range(0x80, 0x100)),
    *(bytes([lead, 0x80]) for lead in (0xC0, 0xC1, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF)),
    b"\xe0\x80\x80",
    b"\xe0\x9f\xbf",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xf0\x80\x80\x80",
    b"\xf0\x8f\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\xc3\xa9\xa9",
]
PLACES = [
    b"<a>x@y</a>",
    b"<a b='@'/>",
    b"<a><![CDATA[@]]></a>",
    b"<a><!--@--></a>",
    b"<a/><!--@-->",
    b"<a><?pi @?></a>",
    b"<a@/>",
]


@pytest.mark.parametrize("place", PLACES)
def test_expat_refuses_every_byte_sequence_that_is_not_utf8(place: bytes) -> None:
    # The direct reader leaves a body declared UTF-8 unchecked for expat to refuse.
    head = b"<?xml version='1.0' encoding='utf-8'?>"
    for sequence in INVALID_UTF8:
        assert not _xml_reads(head + place.replace(b"@", sequence)), sequence
    assert _xml_reads(head + place.replace(b"@", "é".encode()))


UNCHECKED = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
    "<title>Café, été, déjà</title>{}</channel></rss>"
)
DAMAGED = {
    "title": "<item><title>caf\udcff</title><guid>g</guid></item>",
    "attribute": "<item><title>a</title><enclosure url='https://e.org/\udcff.mp3'/></item>",
    "comment": "<!-- \udcff --><item><title>a</title></item>",
    "cdata": "<item><description><![CDATA[caf\udcff]]></description></item>",
    "last": "<item><title>a</title></item><!-- caf\udcff -->",
}


@pytest.mark.parametrize("inner", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_body_declared_utf8_that_is_not_reads_as_settled_first(inner: str) -> None:
    body = UNCHECKED.format(inner).encode("utf-8", "surrogateescape")
    result = FetchResult("t", URL, 200, body, Validators())
    feed = FeedConfig(name="t", url=URL)
    assert parse_direct(result, feed, utf8=None) is None
    settled = settle(result, response_headers(result)["content-type"])
    assert settled.warnings == ("1 invalid byte in UTF-8 replaced",)
    direct = parse_direct(settled.result, feed, utf8=settled.utf8)
    assert direct is not None
    assert parse(result, feed) == replace(direct, warnings=settled.warnings)


def test_a_body_declared_utf8_that_is_reads_as_settled_first() -> None:
    body = UNCHECKED.format("<item><title>café</title><guid>g</guid></item>").encode()
    result = FetchResult("t", URL, 200, body, Validators())
    feed = FeedConfig(name="t", url=URL)
    settled = settle(result, response_headers(result)["content-type"])
    assert (settled.result, settled.warnings, settled.utf8) == (result, (), True)
    assert parse(result, feed) == parse_direct(result, feed, utf8=True)
    assert parse_direct(result, feed, utf8=None) == parse_direct(result, feed, utf8=True)
