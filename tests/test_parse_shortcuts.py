"""Check the short ways the parse takes for common values against the general ones."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET

import pytest
from feedparser.datetimes import _parse_date

import poster.parse as parse_package
from poster.models import FeedHints
from poster.parse import encoding, feeddates, fields, utf8
from poster.parse.dates import from_struct
from poster.parse.direct import may_repair
from poster.parse.directnames import attributes
from poster.parse.fastsax import _REPAIRABLE, Unsupported, repair_text
from poster.parse.fastxml import utf8_document
from poster.parse.feeddates import parse_feed_date
from poster.parse.hints import read_hints
from poster.parse.itemmedia import parse_length

PLAIN = [
    "Title",
    "A title of words",
    "  spaced \t out\n  title ",
    " leading",
    "trailing ",
    "two  spaces",
    "a\u2028line separator",
    "no\xa0break\u2003em space",
    "a > b",
    "x" * fields.LINE_LIMIT,
]


@pytest.mark.parametrize(
    "text",
    PLAIN,
    ids=[
        *("word", "words", "white-space", "leading", "trailing", "two-spaces", "line-separator"),
        *("unicode-space", "gt", "limit"),
    ],
)
@pytest.mark.parametrize("is_html", [None, False], ids=["guessed", "plain"])
def test_a_plain_line_is_its_words_joined(text: str, is_html: bool | None) -> None:
    assert fields.plain_line(text, is_html) == " ".join(text.split())


def test_the_space_is_the_only_printable_white_space() -> None:
    # plain_line keeps printable text with single spaces as it is: it has nothing else to split.
    white = (chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace())
    assert [char for char in white if char.isprintable()] == [" "]


@pytest.mark.parametrize(
    ("text", "is_html", "expected"),
    [
        ("Tom &amp; Jerry", False, "Tom & Jerry"),
        ("a <b>bold</b> move", None, "a bold move"),
        ("a <b>bold</b> move", False, "a <b>bold</b> move"),
        ("<p>one</p><p>two</p>", True, "one two"),
        ("plain words", True, "plain words"),
    ],
    ids=["entity", "guessed-markup", "plain-markup", "html", "html-without-markup"],
)
def test_a_line_with_markup_or_entities_takes_the_general_way(
    text: str, is_html: bool | None, expected: str
) -> None:
    assert fields.plain_line(text, is_html) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("\u0663", 3),
        ("\u00b2", None),
        (2.9, 2),
        (float("inf"), None),
        (float("nan"), None),
        (False, None),
        (b"12", None),
    ],
    ids=["arabic-indic-digit", "superscript", "float", "infinity", "nan", "false", "bytes"],
)
def test_lengths_of_other_kinds(value: object, expected: int | None) -> None:
    assert parse_length(value) == expected


SKIPS = (
    b"<skipHours><hour>3</hour><hour>24</hour></skipHours><skipDays><day>Sunday</day></skipDays>"
)


@pytest.mark.parametrize(
    ("body", "hours", "days"),
    [
        (b"<rss><channel>" + SKIPS + b"</channel></rss>", {0, 3}, {6}),
        (b"<rss><channel><skiphours><hour>3</hour></skiphours></channel></rss>", set(), set()),
        (b"<rss><channel><title>skipHours skipDays</title></channel></rss>", set(), set()),
    ],
    ids=["both", "wrong-case", "words-only"],
)
def test_skip_hours_and_days_are_read_from_the_body(
    body: bytes, hours: set[int], days: set[int]
) -> None:
    hints = read_hints({}, body)
    assert (hints.skip_hours, hints.skip_days) == (hours, days)


RSS = b"<rss version='2.0'><channel><title>T</title><item><title>I</title></item></channel></rss>"
CDATA_DOCTYPE = RSS.replace(
    b"<title>I", b"<description><![CDATA[<!DOCTYPE x>]]></description><title>I"
)
PROLOGS = {
    "none": (RSS, True),
    "doctype": (b"<!DOCTYPE rss SYSTEM 'x.dtd'>" + RSS, False),
    "entity": (b"<?xml version='1.0'?>\n<!DOCTYPE rss [<!ENTITY e 'x'>]>" + RSS, False),
    "doctype-after-comment": (b"<!-- <a> -->\n<!DOCTYPE rss>" + RSS, False),
    "doctype-after-instruction": (b"<?style a<b?><!DOCTYPE rss>" + RSS, False),
    "doctype-in-a-comment": (b"<!-- <!DOCTYPE rss> -->" + RSS, True),
    "doctype-in-an-instruction": (b"<?note <!DOCTYPE rss>?>" + RSS, True),
    "doctype-in-cdata": (CDATA_DOCTYPE, True),
}


@pytest.mark.parametrize(("body", "read"), PROLOGS.values(), ids=PROLOGS.keys())
def test_only_a_doctype_before_the_root_leaves_a_document_to_feedparser(
    body: bytes, read: bool
) -> None:
    document = utf8_document(body, {"content-type": "application/xml"}, {})
    assert (document is not None) is read


RFC822_EDGES = [
    "Wed, 1 May 2024 00:00:00 GMT",
    "Wed, 01 May 2024 24:00:00 GMT",
    "Wed, 01 May 2024 12:60:00 GMT",
    "Wed, 01 May 2024 12:00:00 +0260",
    "Wed, 01 May 2024 12:00:00 -0000",
    "Wed, 01 May 2024 12:00:00 +2359",
    "Mon, 01 Jan 0001 00:30:00 +0100",
    "Fri, 31 Dec 9999 23:30:00 -0100",
    "Sat, 29 Feb 2025 12:00:00 Z",
    "29 Feb 2024 12:00:00 UT",
    # Read by position (feeddates._laid_out) when laid out exactly so, else by the patterns.
    "Wed, 01 May 2024 12:00:00 GMT",
    "Xyz, 01 May 2024 12:00:00 GMT",
    "Wed,  1 May 2024 12:00:00 GMT",
    "Wed, 01 May 2024 12.00.00 GMT",
    "Wed, 01 Xyz 2024 12:00:00 GMT",
    "Wed, 0\u0661 May 2024 12:00:00 GMT",
    "Wed, 01 May \u0662024 12:00:00 GMT",
    "Wed, 01 May 2024 12:00:0\u0661 GMT",
    "Wed, 00 May 2024 12:00:00 GMT",
    "Wed, 01-May-2024 12:00:00 GMT",
    "Wed, 01 May 2024 12:00:00 +0000",
    "2024-05-01T12:00:00Z",
    "2024-05-01T12:00:00z",
    "2024-W18-3T12:00:00Z",
    "2024-05-01 12:00:00Z",
    "2024-05-01T12.00.00Z",
    "2024-05-01T12:00:60Z",
    "2024-05-0\u0661T12:00:00Z",
    "2024-05-01T12:00:00+",
    "2024-05-01T12:00:00+00:00",
    "2024-05-01T12:00:00-00:00",
    "2024-05-01T12:00:00+0000",
    # Read as written (feeddates._zulu) when laid out exactly so, else as above.
    "2024-05-01t12:00:00Z",
    "2024-05-01T24:00:00Z",
    "2024-02-30T12:00:00Z",
    "2024-13-01T12:00:00Z",
    "0001-01-01T00:00:00Z",
    "2024-05-01T12:00:0\u0661Z",
    "\u0662024-05-01T12:00:00Z",
    "2024-05-01T1a:00:00Z",
    "2024-0A-01T12:00:00Z",
    "2024/05/01T12:00:00Z",
    "2024-05-01T12-00-00Z",
    "2024-05-01X12:00:00Z",
]


@pytest.mark.parametrize("text", RFC822_EDGES)
def test_rfc822_edges_read_as_feedparser_reads_them(text: str) -> None:
    assert parse_feed_date(text) == from_struct(_parse_date(text))


def test_days_laid_out_before_and_past_those_kept_read_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feeddates, "_DAYS_WRITTEN", {})
    monkeypatch.setattr(feeddates, "_DAYS_KEPT", 3)
    days = [f"Wed, {day:02d} May 2024" for day in range(1, 7)] + ["Wed, 01 Xyz 2024"]
    # Each day twice, at two times: the second read of a kept day takes it from the table.
    dates = [f"{day} {time} GMT" for time in ("08:15:00", "23:59:59") for day in days]
    assert [parse_feed_date(d) for d in dates] == [from_struct(_parse_date(d)) for d in dates]
    assert len(feeddates._DAYS_WRITTEN) == 3


@pytest.mark.parametrize(
    "head",
    [b'<?xml version="1.0" encoding="utf-8"?>', b'<?xml version="1.0" encoding="iso-8859-1"?>'],
    ids=["utf-8", "latin-1"],
)
def test_a_kept_head_answers_each_document_as_converting_it_anew(
    monkeypatch: pytest.MonkeyPatch, head: bytes
) -> None:
    monkeypatch.setattr(utf8, "_HEADS", {})
    headers = {"content-type": "application/rss+xml"}
    body = head + b"\n<rss><channel><title>Caf\xc3\xa9</title></channel></rss>"
    answers = []
    for _ in range(2):
        outcome: dict[str, object] = {}
        pieces = utf8.utf8_pieces(body, headers, outcome)
        answers.append((b"".join(pieces), dict(outcome)))
        outcome["encoding"] = "changed by the caller"
    fresh: dict[str, object] = {}
    converted = utf8.convert_to_utf8(headers, body, fresh)
    assert answers == [(converted, fresh)] * 2
    assert len(utf8._HEADS) == 1


def test_attribute_names_are_keyed_alike_past_the_ones_remembered() -> None:
    names = [f"Name{n}" for n in range(1500)]
    element = ET.Element("link", {name: "Value" for name in names} | {"REL": "Self"})
    assert attributes(element) == {name.lower(): "Value" for name in names} | {"rel": "self"}
    assert attributes(element) == attributes(element)


RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


@pytest.mark.parametrize("repeat", [1, 2], ids=["first", "again"])
def test_namespaced_attributes_are_keyed_by_feedparsers_prefix(repeat: int) -> None:
    element = ET.Element("item", {f"{RDF}about": "http://e.com/1", "{urn:other}x": "y"})
    assert attributes(element) == {"rdf:about": "http://e.com/1"}


@pytest.mark.parametrize("name", ["base", "BASE", "{http://www.w3.org/XML/1998/namespace}base"])
def test_a_base_attribute_is_refused_every_time(name: str) -> None:
    for _ in range(2):
        with pytest.raises(Unsupported):
            attributes(ET.Element("link", {name: "http://e.com/"}))


BOUNDARIES = ["\x7f", "\x80", "\x9f", "\xa0", "\xbf", "\xc0", "\xc2", "\u0100", "\u0142", "\ud800"]


@pytest.mark.parametrize("char", BOUNDARIES, ids=[f"U+{ord(c):04X}" for c in BOUNDARIES])
def test_the_repairable_byte_is_found_exactly_for_u0080_to_u00bf(char: str) -> None:
    text = f"caf\u00e9 {char} Zu\u0308rich"
    found = _REPAIRABLE in text.encode("utf-8", "surrogatepass")
    assert found is bool(re.search("[\x80-\xbf]", text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jos\u00c3\u00a9", "Jos\u00e9"),
        ("price \u0080 10", "price \u20ac 10"),
        ("caf\u00e9 \u041a\u0438\u0457\u0432", "caf\u00e9 \u041a\u0438\u0457\u0432"),
    ],
    ids=["utf8-read-as-latin1", "c1-control", "nothing-to-repair"],
)
def test_repair_text(text: str, expected: str) -> None:
    assert repair_text(text) == expected


@pytest.mark.parametrize(
    ("text", "repairs"),
    [
        ("plain text & more", False),
        ("caf\u00e9 K\u00f6ln \u0141\u00f3d\u017a \u041a\u0438\u0457\u0432", False),
        ("no\u00a0break", True),
        ("\u00bf", True),
        ("\u0080", True),
        ("\u00c0 \u00ff \u0100", False),
        ("a reference &#160;", True),
        ("a reference &#xA0;", True),
        ("a reference &#233;", True),
        ("fragments #a #b and &amp; alone", False),
        ("# at the start &amp;", False),
        ("".join(f"<a href='#{n}'/>" for n in range(40)) + "&amp; then &#38;", True),
        ("".join(f"<a href='#{n}'/>" for n in range(40)) + "&amp; alone", False),
    ],
)
def test_a_document_may_need_repair_when_it_can_hold_u0080_to_u00bf(
    text: str, repairs: bool
) -> None:
    assert may_repair(text.encode("utf-8")) is repairs


@pytest.mark.parametrize("char", BOUNDARIES, ids=[f"U+{ord(c):04X}" for c in BOUNDARIES])
def test_a_document_holding_a_repairable_character_in_any_spelling_may_need_repair(
    char: str,
) -> None:
    repairable = bool(re.search("[\x80-\xbf]", char))
    for spelled in (char, f"&#{ord(char)};", f"&#x{ord(char):x};"):
        body = f"<title>caf\u00e9 {spelled}</title>".encode("utf-8", "surrogatepass")
        assert may_repair(body) or not repairable


DECLARATIONS = [
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss/>',
    b"<?xml version='1.0' encoding='ISO-8859-1' standalone='yes'?><rss/>",
    b'\xef\xbb\xbf<?xml version="1.0"?><rss/>',
    b'\xef\xbb\xbf  <?xml version="1.0" encoding="windows-1251"?><rss/>',
    b"<rss version='2.0'><channel/></rss>",
    b'<?xml version="1.0" encoding="utf-8"' + b" " * 2000 + b"?><rss/>",
    b'<?xml version="1.0"' + b" " * 1000 + b'encoding="koi8-r"?><rss/>',
    b"<!-- > --><?xml encoding='utf-16'?><rss/>",
    b">",
    b"",
]


@pytest.mark.parametrize("body", DECLARATIONS)
@pytest.mark.parametrize(
    "content_type", ["application/xml", "text/xml", "application/rss+xml; charset=utf-8", ""]
)
def test_declared_encodings_are_read_alike_from_the_head_kept_and_the_first_kilobyte(
    monkeypatch: pytest.MonkeyPatch, body: bytes, content_type: str
) -> None:
    monkeypatch.setattr(encoding, "_DECLARED", {})
    expected = list(encoding._declared(content_type, body[:1024]))
    answers = [encoding.declared_encodings(content_type, body) for _ in range(2)]
    answers[0].append("changed by the caller")
    assert answers == [[*expected, "changed by the caller"], expected]
    assert encoding.declared_encodings(content_type, body) == expected


@pytest.mark.parametrize(
    ("body", "json"),
    [
        (b"<rss/>", False),
        ("<?xml version='1.0'?><rss/>".encode("utf-16-le"), False),
        ("<?xml version='1.0'?><rss/>".encode("utf-32-be"), False),
        (b"\xef\xbb\xbf<rss/>", False),
        (b' \n{"items": []}', True),
        ('["a"]'.encode("utf-16"), True),
        (b"\xef\xbb\xbf[1]", True),
    ],
    ids=["xml", "xml-utf-16-le", "xml-utf-32-be", "xml-bom", "object", "array-utf-16", "array-bom"],
)
def test_a_body_starts_like_json_only_when_it_opens_a_json_value(body: bytes, json: bool) -> None:
    assert parse_package._starts_like_json(body) is json


@pytest.mark.parametrize(
    ("meta", "body"),
    [
        ({}, b"<rss><channel><title>t</title></channel></rss>"),
        ({"ttl": None, "sy_updatebase": None}, b"<rss/>"),
        ({"ttl": "60"}, b"<rss/>"),
        ({"sy_updateperiod": "daily", "sy_updatefrequency": "2"}, b"<rss/>"),
        ({"sy_updatebase": "2024-05-01T00:00:00Z"}, b"<rss/>"),
        ({}, b"<rss><channel>" + SKIPS + b"</channel></rss>"),
    ],
    ids=["nothing", "keys-of-nothing", "ttl", "period", "base", "skips"],
)
def test_hints_of_a_feed_that_gives_none_are_the_defaults(
    meta: dict[str, object], body: bytes
) -> None:
    hints = read_hints(meta, body)
    says_nothing = all(value is None for value in meta.values()) and b"<skip" not in body
    assert (hints == FeedHints()) is says_nothing
    assert (hints.ttl, hints.update_frequency) == (
        60 if meta.get("ttl") else None,
        2 if meta.get("sy_updatefrequency") else 1,
    )
