"""Collect a feed's data and entries from an ElementTree, doing what feedparser's handlers do.

:class:`Reader` walks the tree once and keeps, for the feed and for each entry, the keys of
feedparser's result that poster reads, each set the way feedparser's handler for that element
sets it (``feedparser/namespaces/_base.py``, ``dc.py``, ``itunes.py``, ``mediarss.py`` and the
core of ``mixin.py``, whose order of steps each method keeps; those for tags and media are in
:mod:`poster.parse.directmedia`). An element is either one of those, one whose handler
touches nothing poster reads (``HARMLESS``), or one without a handler, whose text feedparser
stores under its name. Anything else raises ``Unsupported``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from poster.parse import directmedia
from poster.parse.directcontext import (
    AUTHOR_PARTS,
    CAPTURED,
    FEED_TAGS,
    HARMLESS,
    HTML_LINK_TYPES,
    IMAGE_PARTS,
    RESERVED,
    Attrs,
    Context,
    enforce_href,
    is_base64,
    keep_link,
    leaf_value,
    looks_like_html,
    map_content_type,
    save_author,
    sync_author_detail,
    uri,
)
from poster.parse.directnames import Names, attributes, has_handler, leaves, text
from poster.parse.directquick import ENTRY_HANDLERS
from poster.parse.directsimple import Simple, SimpleReader, simple_reader
from poster.parse.fastsax import XHTML, Unsupported, repair_query, repair_text
from poster.parse.feeddates import parse_feed_date
from poster.parse.itemcap import MAX_ITEMS

# The entry tags whose route is kept, at most, for the documents that share their names.
ROUTES_KEPT = 256


class Reader:
    """Walk a feed's tree, keeping feedparser's state between elements as its handlers do."""

    def __init__(self, names: Names, version: str, repairs: bool = True) -> None:
        self.names = names
        self.version = version
        self.meta: Context = {}
        self.entries: list[Context | Simple] = []
        self.title_depth = -1
        self.has_content = False
        self.guidislink = False
        self.routes: dict[str, tuple[str, Handler]] = names.routes
        self.unread = 0
        """Entries past ``MAX_ITEMS``, left unread."""
        self.repairs = repairs
        """Whether the document's text may hold what ``repair_text`` changes (``may_repair``)."""
        self.simple: SimpleReader | None = simple_reader(version)
        """What reads an item of the commonest shape in one pass, while items are of it."""
        self.inert: dict[str, str] = {}
        """The keys of the tags met inside an element without a handler that may be there:
        without a handler of their own, and neither reserved nor captured."""

    # The document's structure: feed-level elements, then entries.

    def channel(self, element: ET.Element, depth: int) -> None:
        """Read an RSS ``channel`` or the Atom ``feed``: the feed's elements and its entries."""
        self._no_cdf(element)
        keys, name = self.names.known, self.names.key
        for child in element:
            key = keys.get(child.tag) or name(child.tag)
            if key in ("item", "entry"):
                self.entry(child, depth + 1)
            elif key == "image":
                self.image(child, depth + 1)
            else:
                self.element(child, key, self.meta, depth + 1, False)

    def entry(self, element: ET.Element, depth: int) -> None:
        """Read one item or entry (``_start_item``, its children, ``_end_item``)."""
        if len(self.entries) >= MAX_ITEMS:
            self.unread += 1
            return
        if self.simple is not None:
            simple = self.simple(self, element, depth + 1)
            if simple is not None:
                self.entries.append(simple)
                self.has_content = False
                return
            # A document's items mostly share their shape: after one that is not the simple
            # one, the others are read the general way without a look.
            self.simple = None
        context: Context = {}
        if element.keys():
            about = self._no_cdf(element).get("rdf:about")
            if about:
                context["id"] = about
        self.entries.append(context)
        self.guidislink = False
        self.title_depth = -1
        routes, route = self.routes, self.route
        depth += 1
        for child in element:
            key, handler = routes.get(child.tag) or route(child.tag)
            handler(self, child, key, context, depth, True)
        self.has_content = False

    def route(self, tag: str) -> tuple[str, Handler]:
        """Return the key and handler of an entry's child, found once per tag of the document."""
        key = self.names.key(tag)
        route = (key, ENTRY_HANDLERS.get(key) or HANDLERS.get(key) or Reader.element)
        if len(self.routes) < ROUTES_KEPT:
            self.routes[tag] = route
        return route

    def image(self, element: ET.Element, depth: int) -> None:
        """Read a feed's ``image``: nothing poster reads, but its title resets the title rule."""
        self.title_depth = -1
        for child in leaves(element):
            key = self.names.key(child.tag)
            if key not in IMAGE_PARTS:
                raise Unsupported(f"{key} in image")
            if key == "title" and text(child).strip():
                self.title_depth = depth + 1

    def element(
        self, element: ET.Element, key: str, context: Context, depth: int, in_entry: bool
    ) -> None:
        """Read one element of the feed or of an entry."""
        handler = HANDLERS.get(key)
        if not in_entry and key in FEED_TAGS:
            self._feed_tags(element)
        elif handler is not None:
            handler(self, element, key, context, depth, in_entry)
        elif key in HARMLESS:
            text(element)
        elif key == "itunes_owner" and not in_entry and not self.version.startswith("atom"):
            leaves(element)  # sets the publisher, and the author of a feed only Atom reads
        elif has_handler(key) or key in RESERVED:
            raise Unsupported(f"element {key}")
        else:
            self.generic(element, key, context)

    def generic(self, element: ET.Element, key: str, context: Context) -> None:
        """Keep an element without a handler as feedparser does: its text under its name."""
        if key in CAPTURED:
            text(element)
            context[key] = attributes(element) if element.attrib else leaf_value(element)
            return
        inert = self.inert
        for child in element:
            tag = child.tag
            child_key = inert.get(tag)
            if child_key is None:
                child_key = self.names.key(tag)
                if has_handler(child_key) or child_key in RESERVED or child_key in CAPTURED:
                    raise Unsupported(f"element {child_key} inside {key}")
                inert[tag] = child_key
            if len(child):  # a leaf that is not captured keeps nothing
                self.generic(child, child_key, context)

    def _feed_tags(self, element: ET.Element) -> None:
        """Check that the feed's own tags hold nothing but iTunes categories."""
        for child in element.iter():
            if child is not element and self.names.key(child.tag) != "itunes_category":
                raise Unsupported(f"{child.tag} in a category")

    def _no_cdf(self, element: ET.Element) -> dict[str, str]:
        """Return the attributes of a channel or entry, refusing CDF's ``lastmod``/``href``."""
        attrs = attributes(element)
        if "lastmod" in attrs or "href" in attrs:
            raise Unsupported("CDF attributes")
        return attrs

    # Text constructs: push_content, pop and what each handler does after.

    def construct(self, element: ET.Element, default: str) -> tuple[str, str]:
        """Return a text construct's value and type, as ``push_content`` then ``pop`` give them."""
        kind = default
        if element.keys():
            attrs = attributes(element)
            kind = map_content_type(attrs.get("type", default))
            if kind == XHTML or is_base64(attrs, kind):
                raise Unsupported(f"{kind} content")
        if len(element):
            raise Unsupported(f"markup inside {element.tag}")
        value = (element.text or "").strip()
        if not value.isascii() and self.repairs:
            value = repair_text(value)
        # feedparser guesses HTML in RSS's plain text when it has a closing tag or an entity.
        if kind == "text/plain" and ("<" in value or "&" in value) and self.guesses_html(value):
            kind = "text/html"
        return value, kind

    def guesses_html(self, value: str) -> bool:
        """Tell whether feedparser takes a plain-text construct for HTML (not in Atom)."""
        return not self.version.startswith("atom") and bool(looks_like_html(value))

    def title(self, element: ET.Element, key: str, context: Context, depth: int, _: bool) -> None:
        """Keep the first non-empty title at a depth (``_end_title`` and ``title_depth``)."""
        value, kind = self.construct(element, "text/plain")
        if not -1 < self.title_depth <= depth:
            context["title"] = value
            context["title_detail"] = (value, kind)
        if value:
            self.title_depth = depth

    def description(
        self, element: ET.Element, key: str, context: Context, depth: int, in_entry: bool
    ) -> None:
        """Read a description or summary; a second one is content (``_start_description``)."""
        if "summary" in context and not self.has_content:
            self._content(element, context, "text/plain", in_entry)
            return
        summary = key in ("summary", "itunes_summary")
        value, kind = self.construct(element, "text/plain" if summary else "text/html")
        name = "summary" if summary or in_entry else "subtitle"
        context[name] = value
        context[name + "_detail"] = (value, kind)

    def content(
        self, element: ET.Element, key: str, context: Context, depth: int, in_entry: bool
    ) -> None:
        """Read Atom content or content:encoded (``_start_content``, ``_end_content``)."""
        self._content(element, context, "text/plain" if key == "content" else "text/html", in_entry)

    def _content(self, element: ET.Element, context: Context, default: str, in_entry: bool) -> None:
        """Store a content value; plain text and HTML are copied to the summary if it has none."""
        self.has_content = True
        value, kind = self.construct(element, default)
        if in_entry:
            context.setdefault("content", []).append((value, kind))
        else:
            context["content"] = value
        context.setdefault("summary", value)

    # Links, ids, dates.

    def link(
        self, element: ET.Element, key: str, context: Context, depth: int, in_entry: bool
    ) -> None:
        """Read a link: Atom's attributes, or RSS's text (``_start_link``, ``pop``)."""
        value = text(element)
        if not element.attrib:
            attrs = {"rel": "alternate", "type": "text/html"}
            self._text_link(value.strip(), context, in_entry, attrs)
            return
        attrs = attributes(element)
        rel = attrs.setdefault("rel", "alternate")
        kind = attrs.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
        if "url" in attrs or "uri" in attrs:
            enforce_href(attrs)
        href = attrs.get("href")
        if href is None:
            self._text_link(value.strip(), context, in_entry, attrs)
            return
        if ":///" in href:
            href = attrs["href"] = uri(href)
        keep_link(context, attrs, in_entry)
        # The type is lower-cased: map_content_type would only name "html" and "xhtml" in full.
        if rel == "alternate" and kind in HTML_LINK_TYPES:
            context["link"] = href

    def _text_link(self, value: str, context: Context, in_entry: bool, attrs: Attrs) -> None:
        """Store a link written as text, and add it to the links (``_start_link``, ``pop``)."""
        keep_link(context, attrs, in_entry)
        value = uri(value)
        if not value.isascii():
            value = repair_text(value)
        # Without "&" neither the entity nor a query variable can be there to repair.
        if in_entry:
            if "&" in value:
                value = repair_query(value.replace("&amp;", "&"))
            context["link"] = value
            if value:
                attrs["href"] = value
        else:
            value = repair_query(value)
            context["link"] = attrs["href"] = value

    def guid(self, element: ET.Element, key: str, context: Context, depth: int, _: bool) -> None:
        """Read an RSS guid or an Atom id; a permalink is the link when there is none."""
        attrs = attributes(element) if element.attrib else {}
        self.guidislink = attrs.get("ispermalink", "true") == "true"
        value = text(element).strip()
        if value and self.guidislink:
            value = uri(value)
        if not value.isascii():
            value = repair_text(value)
        context["id"] = value
        context.setdefault("guidislink", self.guidislink and "link" not in context)
        if self.guidislink:
            context.setdefault("link", value)

    def published(
        self, element: ET.Element, key: str, context: Context, depth: int, _: bool
    ) -> None:
        """Read a publication date (``_end_published``); the last one counts."""
        context["published"] = parse_feed_date(leaf_value(element))

    def updated(self, element: ET.Element, key: str, context: Context, depth: int, _: bool) -> None:
        """Read an update date (``_end_updated``); the last one counts."""
        context["updated"] = parse_feed_date(leaf_value(element))

    # Authors.

    def author(self, element: ET.Element, key: str, context: Context, depth: int, _: bool) -> None:
        """Read an author: Atom's name/email/uri, or RSS/Dublin Core text (``_start_author``)."""
        context.setdefault("authors", []).append({})
        for child in leaves(element):
            part = AUTHOR_PARTS.get(self.names.key(child.tag))
            if part is None:
                raise Unsupported(f"{child.tag} in author")
            save_author(context, part, text(child).strip())
        pieces = [element.text or "", *(child.tail or "" for child in element)]
        context["author"] = repair_text("".join(pieces).strip())
        sync_author_detail(context)

    def contributor(
        self, element: ET.Element, key: str, context: Context, depth: int, _: bool
    ) -> None:
        """Read a contributor: only its own names, which poster does not read."""
        for child in leaves(element):
            if self.names.key(child.tag) not in AUTHOR_PARTS:
                raise Unsupported(f"{child.tag} in contributor")

    def source(self, element: ET.Element, key: str, context: Context, depth: int, _: bool) -> None:
        """Read an RSS source: nothing poster reads, but it resets the title rule."""
        text(element)
        self.title_depth = -1


Handler = Callable[[Reader, ET.Element, str, Context, int, bool], None]

HANDLERS: dict[str, Handler] = {
    "title": Reader.title,
    "dc_title": Reader.title,
    "description": Reader.description,
    "dc_description": Reader.description,
    "summary": Reader.description,
    "itunes_summary": Reader.description,
    "content": Reader.content,
    "content_encoded": Reader.content,
    "fullitem": Reader.content,
    "link": Reader.link,
    "guid": Reader.guid,
    "id": Reader.guid,
    "pubdate": Reader.published,
    "published": Reader.published,
    "issued": Reader.published,
    "dcterms_issued": Reader.published,
    "updated": Reader.updated,
    "modified": Reader.updated,
    "lastbuilddate": Reader.updated,
    "dc_date": Reader.updated,
    "dcterms_modified": Reader.updated,
    "author": Reader.author,
    "managingeditor": Reader.author,
    "dc_creator": Reader.author,
    "dc_author": Reader.author,
    "itunes_author": Reader.author,
    "contributor": Reader.contributor,
    "category": directmedia.category,
    "dc_subject": directmedia.category,
    "keywords": directmedia.category,
    "media_category": directmedia.category,
    "itunes_category": directmedia.category,
    "itunes_keywords": directmedia.keywords,
    "media_keywords": directmedia.keywords,
    "enclosure": directmedia.enclosure,
    "media_content": directmedia.media_content,
    "media_thumbnail": directmedia.media_thumbnail,
    "media_group": directmedia.media_group,
    "itunes_image": directmedia.itunes_image,
    "itunes_link": directmedia.itunes_image,
    "source": Reader.source,
}
