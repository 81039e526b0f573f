"""Check that feeds in legacy encodings, declared in the XML or in HTTP, read as correct text."""

from __future__ import annotations

from pathlib import Path

import pytest

from poster.config import FeedConfig
from poster.models import FetchResult, ParsedFeed, Validators
from poster.parse import parse

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
