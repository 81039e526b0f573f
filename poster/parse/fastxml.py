"""Read well-formed RSS 0.9x/2.0, RSS 1.0 and Atom 1.0 with ElementTree, as feedparser would.

feedparser reads a feed through Python SAX callbacks, one per chunk of text that expat reports.
Here expat runs once inside ElementTree's C parser and the tree is handed to feedparser's own
element handlers (:mod:`poster.parse.fastsax`) a whole text node at a time, so the feed data and
entries are the ones the feedparser path builds, and :func:`poster.parse.xmlfeed.assemble` turns
them into the same Items. :func:`parse_fast` returns None whenever it cannot be sure of that,
and the caller reads the document with feedparser.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import feedparser

from poster.config import FeedConfig
from poster.frozen import frozen
from poster.models import FetchResult, ParsedFeed
from poster.parse.fastsax import Attribute, FastFeedParser, Unsupported, sax_name
from poster.parse.pieces import pieces
from poster.parse.utf8 import utf8_pieces
from poster.parse.xmlfeed import assemble, is_empty_feed, response_headers

__all__ = ["FeedData", "parse_fast", "read_fast"]

# The feedparser core that fastsax mirrors is the one of these releases.
MIRRORED_RELEASES = "6.0."
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF"
_ATOM = "{http://www.w3.org/2005/Atom}feed"
# The prefix bound to the XML namespace by definition (Namespaces in XML 1.0 §3).
_XML_SCOPE = {"xml": "http://www.w3.org/XML/1998/namespace"}

Element = ET.Element
Declarations = dict[Element, list[tuple[str, str]]]
Scope = dict[str, str]
Document = Sequence[bytes | memoryview]


@frozen
class FeedData:
    """What feedparser's handlers built from a document, as ``feedparser.parse`` returns it."""

    feed: Mapping[str, Any]
    entries: Sequence[Mapping[str, Any]]
    version: str
    bozo: bool


def parse_fast(result: FetchResult, feed: FeedConfig) -> ParsedFeed | None:
    """Return the feed read with ElementTree, or None when the feedparser path must read it."""
    return fast_feed(read_fast(result), result, feed)


def fast_feed(data: FeedData | None, result: FetchResult, feed: FeedConfig) -> ParsedFeed | None:
    """Return the feed for what ``read_fast`` read of the result, or None when it is unsure."""
    if data is None:
        return None
    if not data.entries and not is_empty_feed(data.version, data.bozo, data.feed):
        return None
    return assemble(data.feed, data.entries, data.version, result, feed)


def read_fast(result: FetchResult) -> FeedData | None:
    """Return feedparser's data for the body, read with ElementTree, or None if unsure.

    It reads only well-formed documents without a DOCTYPE, in an encoding feedparser's rules
    pick and can decode, whose root is RSS 0.9x/2.0 ``rss``, RSS 1.0 ``rdf:RDF`` or Atom 1.0
    ``feed``. The feed data and entries are feedparser's own, so a ``key`` path reads the same.
    """
    read = mirrored_document(result)
    if read is None:
        return None
    document, bozo = read
    try:
        root, parser = _run_handlers(document)
    except Exception:
        # Ill-formed XML (feedparser's lenient parser reads it), constructs not mirrored
        # (Unsupported), and errors that feedparser's handlers raise alike: its path decides.
        return None
    version: str = parser.version
    if not _known_root(root.tag, version):
        return None
    return FeedData(parser.feeddata, parser.entries, version, bozo)


def mirrored_document(
    result: FetchResult,
    *,
    utf8: bool | None = False,
    headers: dict[str, str] | None = None,
) -> tuple[Document, bool] | None:
    """Return the body as ``utf8_document`` gives it and whether feedparser found it at fault.

    None when the installed feedparser is not a release these readers mirror, or when
    ``utf8_document`` leaves the body to feedparser. ``utf8`` says the body is known to
    decode as UTF-8, or with None that the XML parser is to tell (``utf8_pieces``);
    ``headers`` are the result's ``response_headers``, when the caller has them.
    """
    if not feedparser.__version__.startswith(MIRRORED_RELEASES):
        return None
    if headers is None:
        headers = response_headers(result)
    outcome: dict[str, Any] = {}
    document = utf8_document(result.body or b"", headers, outcome, utf8=utf8)
    return None if document is None else (document, bool(outcome.get("bozo")))


def utf8_document(
    body: bytes, headers: dict[str, str], outcome: dict[str, Any], *, utf8: bool | None = False
) -> Document | None:
    """Return the document as feedparser's strict parser gets it, or None when it would not.

    feedparser picks the encoding from the HTTP charset, the XML declaration and the BOM
    (RFC 3023), decodes and re-encodes the text as UTF-8 under a new XML declaration, and
    reads the document with its lenient parser when no encoding works. What it found wrong on
    the way (its "bozo" flag) goes into ``outcome``. Documents with a DOCTYPE are left to it:
    it rewrites their entity declarations, and expat treats undefined entities differently
    under ElementTree and xml.sax once a DTD is declared.
    """
    document = utf8_pieces(body, headers, outcome, utf8=utf8)
    if document is None or not outcome.get("encoding"):
        return None
    # Past its first piece, the document is the body's.
    if _declares_doctype(body) or _declares_doctype(bytes(document[0])):
        return None
    return document


def _declares_doctype(data: bytes) -> bool:
    """Tell whether the prolog, before the first element, holds a DOCTYPE (or may hold one).

    XML allows a DOCTYPE, and the entity declarations inside it, only there (XML 1.0 §2.8);
    expat refuses one anywhere else. Comments and processing instructions are stepped over,
    anything else that opens with "<!" counts as one.
    """
    start = data.find(b"<")
    while start >= 0:
        if data.startswith(b"<!--", start):
            end, skip = data.find(b"-->", start + 4), 3
        elif data.startswith(b"<?", start):
            end, skip = data.find(b"?>", start + 2), 2
        else:
            return data.startswith(b"<!", start)
        start = data.find(b"<", end + skip) if end >= 0 else -1
    return False


def _run_handlers(document: Document) -> tuple[Element, FastFeedParser]:
    """Parse the document and run feedparser's handlers over it; return the root and them."""
    root, declarations = _read_tree(document)
    parser = FastFeedParser()
    _feed_element(parser, root, declarations, _XML_SCOPE)
    return root, parser


def _read_tree(document: Document) -> tuple[Element, Declarations]:
    """Parse the document; return its root and the namespace declarations of each element."""
    parser: ET.XMLPullParser[Any] = ET.XMLPullParser(events=("start-ns", "start"))
    for data in document:
        for piece in pieces(data):
            parser.feed(piece)
    parser.close()
    return _declarations(parser.read_events())


def _declarations(events: Iterable[Any]) -> tuple[Element, Declarations]:
    """Return the first element and, for each element, the namespaces declared on it."""
    root: Element | None = None
    found: Declarations = {}
    pending: list[tuple[str, str]] = []
    for event, value in events:
        if event == "start-ns":
            pending.append(value)
            continue
        root = value if root is None else root
        if pending:
            found[value], pending = pending, []
    if root is None:
        raise Unsupported("no root element")
    return root, found


def _feed_element(
    parser: FastFeedParser, element: Element, declarations: Declarations, scope: Scope
) -> None:
    """Send an element and its subtree to the parser as the SAX events expat would give."""
    declared = declarations.get(element, ())
    if declared:
        scope = {**scope, **dict(declared)}
    for prefix, uri in declared:
        parser.startPrefixMapping(prefix, uri)
    attrib = element.attrib
    parser.start_element(element.tag, _sax_attributes(attrib, scope) if attrib else ())
    if element.text:
        parser.handle_data(element.text)
    for child in element:
        _feed_element(parser, child, declarations, scope)
        if child.tail:
            parser.handle_data(child.tail)
    parser.end_element(element.tag)


def _sax_attributes(attrib: dict[str, str], scope: Scope) -> list[Attribute]:
    """Return the attributes as xml.sax's expat reader reports them, with qualified names."""
    found = []
    for key, value in attrib.items():
        namespace, local = sax_name(key)
        qname = local if namespace is None else _qualified(namespace, local, scope)
        found.append((namespace, local, qname, value))
    return found


def _qualified(namespace: str, local: str, scope: Scope) -> str:
    """Return ``prefix:local`` for a namespaced attribute, its prefix found from the scope."""
    # ElementTree drops the prefix as written; it is certain only when one prefix is bound.
    prefixes = [prefix for prefix, uri in scope.items() if prefix and uri == namespace]
    if len(prefixes) != 1:
        raise Unsupported(f"cannot tell the prefix of the attribute {local!r}")
    return f"{prefixes[0]}:{local}"


def _known_root(tag: str, version: str) -> bool:
    """Tell whether the root and the version feedparser gave it are ones read here."""
    if tag == _ATOM:
        return version == "atom10"
    if tag == _RDF:
        return version == "rss10"
    # feedparser names an rss root in any namespace by its RSS version; RSS 0.90 is RDF.
    return sax_name(tag)[1] == "rss" and version.startswith("rss") and version != "rss090"
