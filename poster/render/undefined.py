"""Say what a template asked for that does not exist, in the template's own terms."""

from __future__ import annotations

from jinja2 import StrictUndefined
from jinja2.utils import missing

from poster.models import FeedMeta, Item, Media

__all__ = ["CONTEXT_NAMES", "FriendlyUndefined"]

CONTEXT_NAMES = ("item", "feed", "message_type", "limit", "now")
"""The variables every template is given."""
_GLOBALS = ("range", "dict", "lipsum", "cycler", "joiner", "namespace")
# How a template reaches an object of each type; media hang off item.image, item.enclosures.
_NAMES = {Item: "item", FeedMeta: "feed", Media: "media"}
# What a value of a plain type is called, which has no fields a template reads.
_PLAIN = {str: "a text", int: "a number", float: "a number", bool: "a yes/no value"}


class FriendlyUndefined(StrictUndefined):
    """Fail on any use of a missing value, naming it as the template wrote it, with a guess."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name = self._undefined_name
        if self._undefined_obj is missing:
            return _message(str(name), _guess(str(name), (*CONTEXT_NAMES, *_GLOBALS)))
        owner = self._undefined_obj
        if isinstance(owner, list | tuple):
            return _in_list(name, owner)
        plain = _PLAIN.get(type(owner))
        if plain is not None:
            return f"{plain} has no field {name!r}"
        prefix = _NAMES.get(type(owner), type(owner).__name__)
        if not isinstance(name, str):
            return f"{prefix}[{name!r}] is undefined"
        fields = [field for field in dir(owner) if not field.startswith("_")]
        guess = _guess(name, fields)
        return _message(f"{prefix}.{name}", f"{prefix}.{guess}" if guess else None)


def _in_list(name: object, owner: list[object] | tuple[object, ...]) -> str:
    """Say what a list (``item.enclosures``, ``item.tags``) lacks, and how to guard against it."""
    if not owner:
        return (
            f"[{name!r}] of an empty list is undefined: test the list first, as in "
            "{% if item.enclosures %}"
        )
    count = f"{len(owner)} item{'s' if len(owner) > 1 else ''}"
    if isinstance(name, int):
        return f"[{name}] of a list of {count} is undefined (the first is [0], the last [-1])"
    return f"a list ({count}) has no field {name!r}; take one of its items first, as [0]"


def _guess(name: str, known: tuple[str, ...] | list[str]) -> str | None:
    """Return the known name closest to ``name``, if one is close."""
    import difflib  # here: only a template's mistake needs a guess

    found = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return found[0] if found else None


def _message(path: str, guess: str | None) -> str:
    """Return "<path> is undefined", with the guess when there is one."""
    return f"{path} is undefined (did you mean {guess}?)" if guess else f"{path} is undefined"
