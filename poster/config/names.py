"""Check the names ``feeds.toml`` uses: feeds, destinations, dotted JSON paths and templates."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from poster.config.values import Context, Convert, did_you_mean, each, fail, need, text

_FEED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def feed_name(value: object, ctx: Context) -> str:
    """Check a feed name: a letter or digit, then letters, digits, ``_``, ``.`` or ``-``."""
    if type(value) is str and _FEED_NAME.fullmatch(value):
        return value  # the name of almost every feed: checked once, not first as any text
    name = text(value, ctx)
    if not _FEED_NAME.fullmatch(name):
        raise fail(f"{name!r} is not a valid feed name", "use letters, digits, _ . and -")
    return name


def names(value: object, ctx: Context) -> tuple[str, ...]:
    """Check a non-empty array of names (of destinations), each once."""
    found = tuple(each(enumerate_subs(need(value, list, "an array of names")), _name))
    if not found:
        raise fail("is empty", "name at least one destination, or remove the key to post to all")
    return tuple(dict.fromkeys(found))


def enumerate_subs(values: list[object]) -> list[tuple[str, object]]:
    """Pair each array element with its ``[index]`` sub-key."""
    return [(f"[{index}]", value) for index, value in enumerate(values)]


def _name(value: object) -> str:
    """Check one destination name."""
    name = need(value, str, "a string")
    if not _FEED_NAME.fullmatch(name):
        raise fail(f"{name!r} is not a valid name", "use letters, digits, _ . and -")
    return name


def dotted_path(*, allow_empty: bool) -> Convert:
    """Return a check for a dotted field path such as ``data.posts`` (``""`` if allowed)."""

    def convert(value: object, _ctx: Context) -> str:
        path = need(value, str, "a string")
        if path == "" and allow_empty:
            return path
        if not path or any(not part.strip() for part in path.split(".")):
            raise fail(f"{path!r} is not a dotted path", 'write field names joined by ".": a.b.c')
        return path

    return convert


def template_name(value: object, ctx: Context) -> str:
    """Check a template file name and, when the templates folder exists, that it is there."""
    name = text(value, ctx)
    parts = PurePosixPath(name).parts
    if name.startswith("/") or "\\" in name or ".." in parts:
        raise fail(f"{name!r} is not a file name inside the templates folder", "write e.g. news.j2")
    folder = ctx.templates_dir
    if folder is not None and not (folder / name).is_file():
        present = (p.name for p in folder.iterdir() if p.is_file())
        hint = did_you_mean(name, present, "templates there")
        raise fail(f"template {name!r} is not in {str(folder)!r}", hint)
    return name
