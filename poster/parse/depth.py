"""Measure how deeply a document's XML elements nest, without building anything from it.

feedparser keeps a frame of state per open element and its time grows faster than the depth, so
a 3 MB document of 400,000 nested elements costs it 150 MB and most of a minute. No feed nests
its elements more than a few dozen deep; ``too_deep`` lets the reader refuse one that does
before feedparser sees it.
"""

from __future__ import annotations

from xml.parsers import expat

from poster.parse.pieces import pieces

MAX_DEPTH = 1000
"""Elements a feed's XML may nest inside one another."""


class _TooDeep(Exception):
    """The document went past the depth limit; raised from expat's callback to stop it."""


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Tell whether the document opens more than ``limit`` elements inside one another."""
    parser = expat.ParserCreate()
    depth = 0

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > limit:
            raise _TooDeep

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        for piece in pieces(body):
            parser.Parse(piece, False)
        parser.Parse(b"", True)
    except _TooDeep:
        return True
    except (expat.ExpatError, ValueError, LookupError):
        # An ill-formed document, or an encoding expat lacks or Python does not know: the
        # readers' own rules decide on it.
        return False
    return False
