"""Name elements and attributes the way feedparser's strict parser names them.

feedparser maps each namespace it knows to a standard prefix (``dc``, ``media``; ``""`` for RSS
and Atom), names an element of another namespace by the prefix the document declared for it,
and finds an element's handler by that name (``_start_dc_creator``). :class:`Names` gives the
same names for the namespaces a document declares on its root, and refuses (``Unsupported``)
documents whose prefixes would make feedparser's names depend on more than that.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from typing import Any

from feedparser.api import StrictFeedParser

from poster.parse.fastsax import Unsupported, sax_name

_MATCH: dict[str, str] = {
    uri.lower(): prefix for uri, prefix in StrictFeedParser.namespaces.items()
}
_STANDARD_PREFIXES = frozenset(_MATCH.values()) - {""}
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_USERLAND = "backend.userland.com/rss"
# The namespaces whose first declaration gives a document feedparser's version.
_VERSIONS = {
    "http://purl.org/rss/1.0/": "rss10",
    "http://www.w3.org/2005/atom": "atom10",
}
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"

Attributes = dict[str, str]
# The attributes whose values feedparser lower-cases.
_LOWERED = frozenset(("rel", "type"))
_KEYS: dict[str, str] = {}
"""The keys of the first attribute names met ("isPermaLink"), "" for those not seen."""
_KEYS_KEPT = 512
AS_WRITTEN: set[str] = set()
"""The attribute names met that are their own keys ("href", "type"), as many as _KEYS keeps."""
# The tags named, and the sets of declarations kept, at most: a document of made-up names
# costs its own reading, not memory kept for every later one.
_TAGS_KEPT = 1024
_SHARED_KEPT = 64


_SHARED: dict[tuple[tuple[str, str], ...], Names] = {}


@functools.cache
def has_handler(key: str) -> bool:
    """Tell whether feedparser has a ``_start_``/``_end_`` handler for an element's key."""
    return hasattr(StrictFeedParser, "_start_" + key) or hasattr(StrictFeedParser, "_end_" + key)


class Names:
    """feedparser's element keys and attributes for a document's root namespace declarations."""

    def __init__(self, declarations: list[tuple[str, str]]) -> None:
        self.version = ""
        self._prefixes: dict[str | None, str] = {}
        self._in_use: dict[str, str] = {}
        self.known: dict[str, str] = {}
        """The keys of the tags named so far."""
        self.routes: dict[str, Any] = {}
        """What the reader keeps for each tag of an entry named so far (its key and handler)."""
        for prefix, uri in declarations:
            self._declare(prefix or None, uri)

    def _declare(self, prefix: str | None, uri: str) -> None:
        """Track one declaration as feedparser's ``track_namespace`` does."""
        if not uri:
            return
        lower = uri.lower()
        if not self.version:
            if prefix is None and lower == _RSS090:
                self.version = "rss090"
            else:
                self.version = _VERSIONS.get(lower, "")
        standard = _MATCH.get(lower)
        if _USERLAND in lower or (prefix in _STANDARD_PREFIXES and standard != prefix):
            # A standard prefix bound to another namespace renames feedparser's handlers.
            raise Unsupported(f"namespace prefix {prefix!r} bound to {uri!r}")
        if standard is not None:
            self._prefixes[prefix] = standard
            self._in_use[standard] = uri
        else:
            self._in_use[prefix or ""] = uri

    def key(self, tag: str) -> str:
        """Return the key feedparser finds an element's handler by (``dc_creator``, ``title``)."""
        known = self.known.get(tag)
        if known is None:
            known = self._key(tag)
            if len(self.known) < _TAGS_KEPT:
                self.known[tag] = known
        return known

    def _key(self, tag: str) -> str:
        """Name a tag as ``startElementNS`` does, then map its prefix as ``_handlers`` does."""
        namespace, local = sax_name(tag)
        local = local.lower()
        standard = _MATCH.get((namespace or "").lower())
        name = standard + ":" + local if standard else self._declared(namespace, local).lower()
        if ":" not in name:
            return name
        prefix, suffix = name.split(":", 1)
        prefix = self._prefixes.get(prefix, prefix)
        return prefix + "_" + suffix if prefix else suffix

    def _declared(self, namespace: str | None, local: str) -> str:
        """Prefix a name in a namespace feedparser does not know with its declared prefix."""
        if namespace:
            for name, value in self._in_use.items():
                if name and value == namespace:
                    return name + ":" + local
        return local


def names_for(declarations: list[tuple[str, str]]) -> Names:
    """Return the Names of a root's namespace declarations, shared by the documents alike.

    A feed is read again at every poll, and most feeds declare the same few namespaces:
    naming each tag once for all of them saves a few microseconds per tag and document.
    """
    found = _SHARED.get(tuple(declarations))
    if found is None:
        found = Names(declarations)
        if len(_SHARED) < _SHARED_KEPT:
            _SHARED[tuple(declarations)] = found
    return found


def attributes(element: ET.Element) -> Attributes:
    """Return an element's attributes keyed as feedparser's handlers get them."""
    attrib = element.attrib
    if attrib.keys() <= AS_WRITTEN:
        # The usual attributes (href, url, type) are keyed by their own names: copy them.
        found = attrib.copy()
        if "type" in found:
            found["type"] = found["type"].lower()
        if "rel" in found:
            found["rel"] = found["rel"].lower()
        return found
    found = {}
    for name, value in attrib.items():
        key = _KEYS.get(name)
        if key is None:
            key = _attribute_key(name)
        if key:
            found[key] = value.lower() if key in _LOWERED else value
    return found


def _attribute_key(name: str) -> str:
    """Return the key of an attribute's name, "" for one feedparser does not see."""
    if name[0] != "{":
        key = name.lower()
        if key == "base":
            raise Unsupported("base attribute")
    elif name == _XML_BASE:
        raise Unsupported("xml:base")
    else:
        namespace, local = sax_name(name)
        standard = _MATCH.get((namespace or "").lower())
        if standard == "":
            # feedparser would key it by its bare name, beside the unqualified attributes.
            raise Unsupported(f"attribute {name!r}")
        key = "" if standard is None else (standard + ":" + local).lower()
    if len(_KEYS) < _KEYS_KEPT:
        _KEYS[name] = key
        if key == name:
            AS_WRITTEN.add(name)
    return key


def text(element: ET.Element) -> str:
    """Return the text of an element that holds no elements, or refuse one that does."""
    if len(element):
        raise Unsupported(f"markup inside {element.tag}")
    return element.text or ""


def leaves(element: ET.Element) -> Any:
    """Return the element's children after checking that none has children of its own."""
    for child in element:
        if len(child):
            raise Unsupported(f"markup inside {child.tag}")
    return element
