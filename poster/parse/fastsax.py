"""Run feedparser's own element handlers with a lean core, for the fast XML reader.

feedparser spends most of its time in the core of its SAX handler: one ``handle_data`` per
character chunk that expat reports (every entity reference and line break starts a new one),
and a ``pop`` per element that copies and re-reads its state. :class:`FastFeedParser` keeps every
``_start_*``/``_end_*`` handler of feedparser (so the feed data and entries it builds are the ones
feedparser builds) and replaces only that core with versions that do the same work for the
documents it accepts: no ``xml:base``, no markup inside text constructs, no XHTML or base64
content, HTML sanitizing and relative URI resolution off (as :mod:`poster.parse.xmlfeed` asks).
Anything outside that raises :class:`Unsupported`, and the caller reads the document with
feedparser instead.

The methods mirror feedparser 6.0 (``feedparser/mixin.py``): each keeps the order of the
original's steps so the two can be read side by side.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import Any

from feedparser.api import StrictFeedParser
from feedparser.html import _cp1252
from feedparser.util import FeedParserDict

XHTML = "application/xhtml+xml"

# The elements feedparser returns early from ``pop`` (their handlers store them).
_TAG_ELEMENTS = ("category", "tags", "itunes_keywords")
# Bare elements that keep feedparser's text input and image contexts open.
_TEXTINPUT_CHILDREN = ("title", "link", "description", "name")
_IMAGE_CHILDREN = ("title", "link", "description", "url", "href", "width", "height")
_BASE_ATTRIBUTES = ("xml:base", "base")
_QUERY_VARIABLE = re.compile("&([A-Za-z0-9_]+);")
_C1_CONTROLS = re.compile("[\x80-\x9f]")
# Text without U+0080-U+00BF has no C1 control and no UTF-8 continuation byte read as
# ISO-8859-1, so repair_text keeps it as it is. In UTF-8 those characters, and only they, are
# written with the byte C2: looking for it in the encoded text is faster than a pattern.
_REPAIRABLE = b"\xc2"
# feedparser takes any backend.userland.com namespace for RSS.
_USERLAND = "http://backend.userland.com/rss"
_ANY_USERLAND = "backend.userland.com/rss"
# Elements whose namespace feedparser adds as an xmlns attribute.
_XMLNS_ELEMENTS = {
    ("math", "http://www.w3.org/1998/Math/MathML"),
    ("svg", "http://www.w3.org/2000/svg"),
}

Attrs = dict[str, str]
# An attribute as xml.sax reports it: namespace, local name, qualified name, value.
Attribute = tuple[str | None, str, str, str]
# A handler name, its namespace prefix, and its start and end handlers (functions or None).
Handlers = tuple[str, str, Any, Any]

_HANDLERS: dict[str, Any] = {}


class Unsupported(Exception):
    """Signal a construct the fast reader does not reproduce; feedparser reads the document."""


class FastFeedParser(StrictFeedParser):  # type: ignore[misc]
    """feedparser's strict parser whose handlers are driven with whole text nodes.

    Give it the events of a document in order (``startPrefixMapping``, ``start_element``,
    ``handle_data``, ``end_element``); read ``feeddata``, ``entries`` and ``version`` after.
    """

    # The state of feedparser's that the core reads and writes.
    decls: dict[str, str]
    lang: str | None
    namespaces_in_use: dict[str, str]
    _matchnamespaces: dict[str, str]
    contentparams: dict[str, Any]

    def __init__(self) -> None:
        # No Content-Location and no Content-Language are given, as on the feedparser path.
        super().__init__("", None, "utf-8")
        self.resolve_relative_uris = False
        self.sanitize_html = False
        # Names depend on the namespaces declared so far; a declaration forgets them.
        self._opening_names: dict[str, tuple[str, str | None]] = {}
        self._closing_names: dict[str, str] = {}
        self._handler_names: dict[str, Handlers] = {}

    def track_namespace(self, prefix: str | None, uri: str) -> None:
        """Record a namespace declaration as feedparser does, forgetting the names known."""
        super().track_namespace(prefix, uri)
        self._opening_names.clear()
        self._closing_names.clear()
        self._handler_names.clear()

    def start_element(self, tag: str, attributes: Sequence[Attribute]) -> None:
        """Open an element named ``{namespace}local``, as ``startElementNS`` does."""
        name, xmlns = self._opening_name(tag)
        if not (attributes or xmlns or self.decls):
            self.unknown_starttag(name, [])
            return
        attrs_d: Attrs = self.decls
        self.decls = {}
        if xmlns:
            attrs_d["xmlns"] = xmlns
        for namespace, local, _, value in attributes:
            prefix = self._matchnamespaces.get((namespace or "").lower(), "")
            attrs_d[(prefix + ":" + local if prefix else local).lower()] = value
        for _, _, qname, value in attributes:
            attrs_d[qname.lower()] = value
        self.unknown_starttag(name, list(attrs_d.items()))

    def end_element(self, tag: str) -> None:
        """Close an element named ``{namespace}local``, as ``endElementNS`` does."""
        name = self._closing_names.get(tag)
        if name is None:
            name = self._closing_names[tag] = self._name_closing(tag)
        self.unknown_endtag(name)

    def _opening_name(self, tag: str) -> tuple[str, str | None]:
        """Return feedparser's name for an opening tag, and the xmlns it adds to it."""
        known = self._opening_names.get(tag)
        if known is None:
            known = self._opening_names[tag] = self._name_opening(tag)
        return known

    def _name_opening(self, tag: str) -> tuple[str, str | None]:
        """Name an opening tag as feedparser's ``startElementNS`` does."""
        namespace, localname = sax_name(tag)
        lowernamespace = (namespace or "").lower()
        if _ANY_USERLAND in lowernamespace:
            namespace = lowernamespace = _USERLAND
        prefix = self._matchnamespaces.get(lowernamespace)
        localname = localname.lower()
        xmlns = namespace if (localname, namespace) in _XMLNS_ELEMENTS else None
        if prefix:
            return prefix.lower() + ":" + localname, xmlns
        return self._declared_prefix(namespace, localname).lower(), xmlns

    def _name_closing(self, tag: str) -> str:
        """Name a closing tag as feedparser's ``endElementNS`` does."""
        namespace, localname = sax_name(tag)
        prefix = self._matchnamespaces.get((namespace or "").lower(), "")
        if prefix:
            return (prefix + ":" + localname).lower()
        return self._declared_prefix(namespace, localname).lower()

    def _declared_prefix(self, namespace: str | None, localname: str) -> str:
        """Prefix a name in an unknown namespace with the first prefix declared for it."""
        if namespace:
            for name, value in self.namespaces_in_use.items():
                if name and value == namespace:
                    return name + ":" + localname
        return localname

    def unknown_starttag(self, tag: str, attrs: list[tuple[str, str]]) -> None:
        """Open an element: track its language and namespaces, then call its handler."""
        self.depth += 1
        attrs_d = self._normalized(attrs) if attrs else {}
        self._track_language(tag, attrs_d)
        if self.incontent:
            # feedparser turns such content into XHTML and serializes the markup itself.
            raise Unsupported(f"markup inside a text construct: {tag}")
        name, prefix, opener, _ = self._handlers(tag)
        if not prefix:
            # feedparser's hack for empty textinput/image elements of ill-formed feeds.
            if tag not in _TEXTINPUT_CHILDREN:
                self.intextinput = 0
            if tag not in _IMAGE_CHILDREN:
                self.inimage = 0
        if opener is not None:
            try:
                opener(self, attrs_d)
                return
            except AttributeError:
                pass
        # An element without a handler keeps its text under its name, or its attributes.
        if not attrs_d:
            self.push(name, 1)
        else:
            self._get_context()[name] = attrs_d

    def _normalized(self, attrs: list[tuple[str, str]]) -> Attrs:
        """Return attributes as handlers get them, tracking the namespaces they declare."""
        attrs = [self._normalize_attributes(attr) for attr in attrs]
        attrs_d = dict(attrs)
        if any(name in attrs_d for name in _BASE_ATTRIBUTES):
            raise Unsupported("xml:base")
        for prefix, uri in attrs:
            if prefix.startswith("xmlns:"):
                self.track_namespace(prefix[6:], uri)
            elif prefix == "xmlns":
                self.track_namespace(None, uri)
        return attrs_d

    def _track_language(self, tag: str, attrs_d: Attrs) -> None:
        """Keep feedparser's ``lang`` and its stack (the base URI never changes here)."""
        lang = attrs_d.get("xml:lang", attrs_d.get("lang")) if attrs_d else None
        if lang == "":
            lang = None
        elif lang is None:
            lang = self.lang
        if lang and tag in ("feed", "rss", "rdf:RDF"):
            self.feeddata["language"] = lang.replace("_", "-")
        self.lang = lang
        self.langstack.append(lang)

    def _handlers(self, tag: str) -> Handlers:
        """Return a tag's handler name (standard prefix, ``_``, local name), its prefix, and
        the ``_start_``/``_end_`` handlers of that name."""
        known = self._handler_names.get(tag)
        if known is None:
            prefix, suffix = tag.split(":", 1) if ":" in tag else ("", tag)
            prefix = self.namespacemap.get(prefix, prefix)
            name = (prefix + "_" if prefix else "") + suffix
            known = (name, prefix, _handler("_start_" + name), _handler("_end_" + name))
            self._handler_names[tag] = known
        return known

    def unknown_endtag(self, tag: str) -> None:
        """Close an element: call its handler, or store its text under its name."""
        name, _, _, closer = self._handlers(tag)
        if closer is None:
            self.pop(name)
        else:
            try:
                closer(self)
            except AttributeError:
                self.pop(name)
        if self.incontent:
            raise Unsupported(f"element closed inside a text construct: {tag}")
        if self.langstack:
            self.langstack.pop()
            if self.langstack:
                self.lang = self.langstack[-1]
        self.depth -= 1

    def push_content(
        self, tag: str, attrs_d: Attrs, default_content_type: str, expecting_text: int
    ) -> None:
        """Open a text construct, refusing the kinds whose text feedparser rewrites."""
        self.incontent += 1
        if self.lang:
            self.lang = self.lang.replace("_", "-")
        kind = self.map_content_type(attrs_d.get("type", default_content_type))
        # A plain dict: FeedParserDict's key aliases do not apply to these keys.
        self.contentparams = {"type": kind, "language": self.lang, "base": self.baseuri}
        if kind == XHTML or self._is_base64(attrs_d, self.contentparams):
            raise Unsupported(f"{kind} content")
        self.push(tag, expecting_text)

    def handle_data(self, text: str, escape: int = 1) -> None:
        """Add text to the innermost open element (XHTML content is refused when opened)."""
        if self.elementstack:
            self.elementstack[-1][2].append(text)

    def pop(self, element: str, strip_whitespace: int = 1) -> str | None:
        """Close the innermost element if it is ``element``; store and return its text."""
        if not self.elementstack or self.elementstack[-1][0] != element:
            return None
        element, expecting_text, pieces = self.elementstack.pop()
        output: str = "".join(pieces)
        if strip_whitespace:
            output = output.strip()
        if not expecting_text:
            return output
        # guid elements with isPermaLink="false" are not URIs.
        if element in self.can_be_relative_uri and output and (element != "id" or self.guidislink):
            output = self.resolve_uri(output)
        params = self.contentparams
        if params:
            # Some feed formats leave consumers to guess whether plain text is HTML.
            guess = not self.version.startswith("atom") and params.get("type") == "text/plain"
            if guess and self.looks_like_html(output):
                params["type"] = "text/html"
            params.pop("mode", None)
            params.pop("base64", None)
        output = repair_text(output)
        if element in _TAG_ELEMENTS:
            return output
        if element == "title" and -1 < self.title_depth <= self.depth:
            return output
        if self.inentry and not self.insource:
            self._store_in_entry(element, output)
        elif self.infeed or self.insource:
            self._store_in_context(element, output)
        return output

    def _store_in_entry(self, element: str, output: str) -> None:
        """Store an entry's element text where feedparser's ``pop`` stores it."""
        entry = self.entries[-1]
        if element == "content":
            entry.setdefault(element, [])
            entry[element].append(self._detail(output))
        elif element == "link":
            if not self.inimage:
                output = repair_query(output.replace("&amp;", "&"))
                entry[element] = output
                if output:
                    entry["links"][-1]["href"] = output
        else:
            if element == "description":
                element = "summary"
            depths = self.property_depth_map.setdefault(entry, {})
            old_value_depth = depths.get(element)
            if old_value_depth is None or self.depth <= old_value_depth:
                depths[element] = self.depth
                entry[element] = output
            if self.incontent:
                entry[element + "_detail"] = self._detail(output)

    def _store_in_context(self, element: str, output: str) -> None:
        """Store feed-level element text where feedparser's ``pop`` stores it."""
        context = self._get_context()
        if element == "description":
            element = "subtitle"
        context[element] = output
        if element == "link":
            output = repair_query(output)
            context[element] = output
            context["links"][-1]["href"] = output
        elif self.incontent:
            context[element + "_detail"] = self._detail(output)

    def _detail(self, value: str) -> Any:
        """Return a copy of the open text construct's parameters with its value."""
        # feedparser deep-copies; every value is a string or None, so a copy is the same.
        detail = FeedParserDict(self.contentparams)
        detail["value"] = value
        return detail


def _handler(name: str) -> Any:
    """Return FastFeedParser's ``_start_*``/``_end_*`` function of this name, or None."""
    # Instances hold no attribute of such a name, so the class answers as getattr would.
    try:
        return _HANDLERS[name]
    except KeyError:
        found = _HANDLERS[name] = getattr(FastFeedParser, name, None)
        return found


def repair_query(link: str) -> str:
    """Turn query variables read as undefined entities (``?a=1&b;=2``) back, as feedparser does."""
    return _QUERY_VARIABLE.sub(r"&\g<1>", link) if "&" in link else link


def repair_text(output: str) -> str:
    """Undo UTF-8 read as ISO-8859-1 and map C1 controls to cp1252, as feedparser does."""
    if output.isascii() or _REPAIRABLE not in output.encode("utf-8", "surrogatepass"):
        return output
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        output = output.encode("iso-8859-1").decode("utf-8")
    # translate() looks up every character (slow for non-Latin text); most texts have no C1.
    return output.translate(_cp1252) if _C1_CONTROLS.search(output) else output


def sax_name(tag: str) -> tuple[str | None, str]:
    """Return the (namespace, local name) pair of an ElementTree name, as xml.sax reports it."""
    if not tag.startswith("{"):
        return None, tag
    namespace, _, local = tag[1:].rpartition("}")
    if len(namespace.split()) != 1:
        # xml.sax splits expat's "namespace local prefix" names at white space.
        raise Unsupported(f"white space in the namespace {namespace!r}")
    return namespace, local
