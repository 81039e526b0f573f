"""Read well-formed RSS 2.0, RSS 1.0 and Atom 1.0 straight into Items, as feedparser would.

expat builds the tree inside ElementTree's C parser; :class:`poster.parse.directread.Reader`
walks it once, doing for each element what feedparser's handler for it does to the keys poster
reads, and :mod:`poster.parse.directitem` builds the Items. The result equals the feedparser
path's (``tests/test_parse_direct.py`` checks it over feedparser's corpus). :func:`parse_direct`
returns None for anything it does not fully understand (a DOCTYPE, an encoding feedparser would
not pick, ill-formed XML, xml:base, XHTML or base64 content, markup inside a text construct,
an element whose handler it does not mirror, a ``key`` path into feedparser's entries), and the
caller reads the document another way. It refuses a document nested too deeply as it reads.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import chain, islice
from typing import Any

from poster.config import FeedConfig
from poster.errors import ParseError
from poster.models import FetchResult, ParsedFeed
from poster.parse.depth import MAX_DEPTH
from poster.parse.directitem import author_of, build_item, title_of
from poster.parse.directnames import attributes, names_for
from poster.parse.directread import Reader
from poster.parse.fastsax import Unsupported
from poster.parse.fastxml import Document, mirrored_document
from poster.parse.fields import relation
from poster.parse.hints import read_hints
from poster.parse.itemcap import over_cap
from poster.parse.itemmedia import absolute

__all__ = ["parse_direct"]

_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF"
_ATOM = "{http://www.w3.org/2005/Atom}feed"
# The key settings that name a field rather than a path into feedparser's entry.
_FIELD_KEYS = (None, "guid", "id", "link", "title")
# Bytes parsed between two looks at the depth: few enough elements that a document nested
# too deeply is refused before much of its tree is built.
_PIECE = 16 * 1024
# The largest document whose tree is built before its depth is known: the tree of this many
# bytes of empty elements takes 6 MB flat and 10 MB nested (tracemalloc), as a document only
# a little smaller but within the depth limit would.
_SMALL = 256 * 1024
_PIECE_MOST = 1024 * 1024
"""The largest piece fed while a long token goes on: nesting in it is seen late, so its tree
is kept to tens of megabytes."""
_MARKS_LOOKED = 16
"""The "#" bytes looked at one by one for a character reference, before a search for "&#"."""
_AMPERSAND = ord("&")


class _TooDeep(Exception):
    """The document nests its elements past the limit."""


def parse_direct(
    result: FetchResult,
    feed: FeedConfig,
    *,
    utf8: bool | None = False,
    headers: dict[str, str] | None = None,
) -> ParsedFeed | None:
    """Return the feed read straight from its tree, or None when another reader must read it.

    ``utf8`` says the body is known to decode as UTF-8 (``poster.parse.encoding.settle``); None
    says that expat is to tell as it reads the body, which it refuses if it is not UTF-8.
    ``headers`` are the result's ``response_headers``, when the caller has them.
    """
    if feed.key not in _FIELD_KEYS:
        return None
    read = mirrored_document(result, utf8=utf8, headers=headers)
    if read is None:
        return None
    document, bozo = read
    try:
        reader = _read(document)
    except _TooDeep:
        raise ParseError(
            feed.name, f"not a feed: XML elements nested more than {MAX_DEPTH} deep"
        ) from None
    except Exception:
        # Ill-formed XML, constructs not mirrored (Unsupported), and anything else that goes
        # wrong on an unusual document alike: the readers that run feedparser's handlers decide.
        return None
    if reader is None:
        return None
    # An empty feed is one only when feedparser found nothing wrong or it has a title, as in
    # poster.parse.xmlfeed.is_empty_feed.
    empty_but_read = bool(reader.version and not bozo) or bool(title_of(reader.meta))
    if not reader.entries and not empty_but_read:
        return None
    return _assemble(reader, result, feed)


def _read(document: Document) -> Reader | None:
    """Parse the document and walk its tree; None when its root is not one read here."""
    data = _whole(document)
    # A large document's text is looked at piece by piece, as feedparser's repair does.
    repairs = data is None or may_repair(data)
    root, declarations = _tree(document, data)
    del data
    names = names_for(declarations)
    key = names.key(root.tag)
    attrs = attributes(root)
    if root.tag == "rss":
        version = _rss_version(names.version, attrs)
        if version == "rss090":
            return None
        reader = Reader(names, version, repairs)
        for child in root:
            if names.key(child.tag) != "channel":
                raise Unsupported(f"{child.tag} in rss")
            reader.channel(child, 2)
        return reader
    if root.tag == _ATOM and names.version == "atom10":
        reader = Reader(names, names.version, repairs)
        reader.channel(root, 1)
        return reader
    if root.tag == _RDF and names.version == "rss10" and key == "rdf_rdf":
        reader = Reader(names, names.version, repairs)
        _rdf(reader, root)
        return reader
    return None


def _rss_version(declared: str, attrs: dict[str, str]) -> str:
    """Return the version feedparser gives an ``rss`` root (``_start_rss``)."""
    if declared.startswith("rss"):
        return declared
    written = attrs.get("version", "")
    version = _RSS_VERSIONS.get(written) or ("rss20" if written.startswith("2.") else "rss")
    return version


def _rdf(reader: Reader, root: ET.Element) -> None:
    """Walk an RSS 1.0 document: its channel, and its items and image beside the channel."""
    for child in root:
        key = reader.names.key(child.tag)
        if key == "channel":
            reader.channel(child, 2)
        elif key == "item":
            reader.entry(child, 2)
        elif key == "image":
            reader.image(child, 2)
        else:
            reader.element(child, key, reader.meta, 2, False)


def _tree(document: Document, data: bytes | None) -> tuple[ET.Element, list[tuple[str, str]]]:
    """Parse the document; return its root and the namespaces declared on the root.

    ``data`` is a small document whole, as ``_whole`` gives it (None for a larger one).
    Raises _TooDeep for elements nested past the limit, and Unsupported for a namespace
    declared below the root (feedparser's names would change inside the document). A document
    larger than a small one is refused as soon as the nesting shows, before its tree is whole.
    """
    if data is None:
        return _checked_tree(document)
    # A small tree costs no more than a flat one of its size: build it, then look at it. The
    # parser is kept to have its root; the pull parser around it reports the declarations.
    parser = ET.XMLParser()
    declared: ET.XMLPullParser[Any] = ET.XMLPullParser(events=("start-ns",), _parser=parser)
    view = memoryview(data)
    # Up to the first ">" of the root's start tag, only the root can declare a namespace.
    head = _root_tag_end(data)
    declared.feed(view[:head])
    events: Any = declared.read_events()
    declarations: list[tuple[str, str]] = [value for _, value in events]
    declared.feed(view[head:])
    root = parser.close()
    # A declaration reported past the root's first ">" may be below it: the checked reading
    # tells, and refuses it then.
    if any(True for _ in declared.read_events()):
        return _checked_tree(document)
    if not _nests_within(root, MAX_DEPTH):
        raise _TooDeep
    return root, declarations


def _whole(document: Document) -> bytes | None:
    """Return a small document as one bytes object, or None for one larger than that."""
    if sum(len(data) for data in document) > _SMALL:
        return None
    return b"".join(document)


def may_repair(data: bytes) -> bool:
    """Tell whether the text of a UTF-8 document may hold a character ``repair_text`` changes.

    It changes only text holding a character from U+0080 to U+00BF, which UTF-8 writes as the
    byte C2 and one more; any other way to write one is a character reference (``&#160;``):
    a document read here declares no DOCTYPE, so it has no other entities.
    """
    # A search for one byte is the quickest there is: these come first.
    if b"\xc2" in data:
        return True
    if b"&" not in data:
        return False
    mark = data.find(b"#")
    for _ in range(_MARKS_LOOKED):
        if mark < 0:
            return False
        if mark > 0 and data[mark - 1] == _AMPERSAND:
            return True
        mark = data.find(b"#", mark + 1)
    # Many a "#" not after "&" (fragments, colours): the slower search for the pair at once.
    return mark >= 0 and data.find(b"&#", mark - 1) >= 0


def _root_tag_end(data: bytes) -> int:
    """Return the offset past the first ``>`` after the root's ``<`` (0 when there is none).

    A ``>`` inside an attribute value ends the search early: the declarations are then
    reported later, and the caller reads the document another way.
    """
    opening = data.find(b"<")
    while opening >= 0 and data[opening + 1 : opening + 2] in (b"?", b"!"):
        opening = data.find(b"<", opening + 1)
    return data.find(b">", opening) + 1 if opening >= 0 else 0


def _nests_within(root: ET.Element, limit: int) -> bool:
    """Tell whether the tree's elements nest ``limit`` deep at most."""
    if next(islice(root.iter(), limit, None), None) is None:  # ``limit`` elements at most
        return True
    level = [root]
    for _ in range(limit):
        level = list(chain.from_iterable(level))
        if not level:
            return True
    return False


def _checked_tree(document: Document) -> tuple[ET.Element, list[tuple[str, str]]]:
    """Parse the document, checking the depth of its elements and where namespaces are declared."""
    parser: ET.XMLPullParser[Any] = ET.XMLPullParser(events=("start-ns", "start", "end"))
    root: ET.Element | None = None
    declarations: list[tuple[str, str]] = []
    depth, size = 0, _PIECE
    for data in document:
        view, start = memoryview(data), 0
        while start < len(view):
            piece = view[start : start + size]
            start += len(piece)
            parser.feed(piece)
            events: Any = list(parser.read_events())
            # expat reads a token it has not seen the end of (an attribute or a comment of
            # megabytes) from its start again with each piece, which costs time in the square
            # of its length: while pieces end nothing, each is twice the last.
            size = _PIECE if events else min(2 * size, _PIECE_MOST)
            for event, value in events:
                if event == "start":
                    depth += 1
                    if depth > MAX_DEPTH:
                        raise _TooDeep
                    root = value if root is None else root
                elif event == "end":
                    depth -= 1
                elif root is not None:
                    raise Unsupported("namespace declared below the root")
                else:
                    declarations.append(value)
    parser.close()
    if root is None:
        raise Unsupported("no root element")
    return root, declarations


def _assemble(reader: Reader, result: FetchResult, feed: FeedConfig) -> ParsedFeed:
    """Return the ParsedFeed for what the reader collected."""
    meta = reader.meta
    base = result.url
    inherited = author_of(meta) if reader.version.startswith("atom") else None
    hubs, topic = _own_links(meta.get("links", ()), base)
    return ParsedFeed(
        title=title_of(meta),
        link=absolute(meta.get("link"), base),
        items=tuple([build_item(entry, feed, base, inherited) for entry in reader.entries]),
        format=reader.version or "xml",
        warnings=(over_cap(len(reader.entries) + reader.unread),) if reader.unread else (),
        hubs=hubs,
        topic=topic,
        hints=read_hints(meta, result.body or b""),  # which reads the hints' keys alone
    )


def _own_links(links: list[dict[str, str]], base: str) -> tuple[tuple[str, ...], str | None]:
    """Return the feed's hubs and its first self link, made absolute, in one look at its links."""
    hubs: list[str] = []
    topic = None
    for link in links:
        rel = relation(link.get("rel"))
        if rel == "hub" or (rel == "self" and topic is None):
            url = absolute(link.get("href"), base)
            if url is None:
                continue
            if rel == "hub":
                hubs.append(url)
            else:
                topic = url
    return tuple(hubs), topic
