"""Follow dotted paths such as ``data.0.posts`` into parsed JSON."""

from __future__ import annotations


class Missing:
    """Mark a path that leads nowhere (distinct from a JSON ``null``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


def lookup(document: object, path: str) -> object:
    """Return the value at dotted ``path`` in ``document``, or ``MISSING``.

    An empty path is the document itself; a numeric step indexes a list.
    """
    value = document
    for step in path.split(".") if path else ():
        if isinstance(value, dict):
            # dict.get skips the key aliases of feedparser's dict subclass.
            value = dict.get(value, step, MISSING)
        elif isinstance(value, list) and _is_index(step):
            index = int(step)
            if not -len(value) <= index < len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value


def _is_index(step: str) -> bool:
    """Tell whether a path step is a list index (a non-negative or negative integer)."""
    digits = step.lstrip("-")
    return digits.isascii() and digits.isdigit()
