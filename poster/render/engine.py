"""Find, compile and run the feed templates inside Jinja's sandbox.

With ``filters``, the only part of the render stage that imports Jinja, and it is loaded on first
use, so a pass that renders nothing never pays for Jinja.
"""

from __future__ import annotations

import os
import posixpath
import stat
import traceback
from collections.abc import Callable, Hashable
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import (
    FileSystemLoader,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplatesNotFound,
    TemplateSyntaxError,
)
from jinja2 import meta as jinja_meta
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path

from poster.config import FeedConfig
from poster.errors import RenderError, TemplateUnusable
from poster.models import FeedMeta, Item
from poster.render.compiled import Facts, OwnBytecodeCache, bytecode_cache
from poster.render.filters import FILTERS
from poster.render.limits import BoundedEnvironment, Limits, bound_filter
from poster.render.undefined import FriendlyUndefined

DEFAULT_TEMPLATE = "default.j2"
MAX_TEMPLATE_BYTES = 1024 * 1024
"""The largest template file read: a template is a few hundred bytes, not a document."""


class TemplateFileError(TemplateError):
    """A template file that cannot be a template: too large, or not UTF-8."""


class CappedLoader(FileSystemLoader):
    """Jinja's file loader, refusing a template file over ``MAX_TEMPLATE_BYTES`` unread.

    A file that is not UTF-8 is a template error naming it; one the machine will not let poster
    read (a folder or file without the rights) raises the ``OSError``, where Jinja's loader
    would call it missing.
    """

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        """Return the template's source, its path and whether it is still up to date."""
        for folder in self.searchpath:
            path = posixpath.join(folder, *split_template_path(template))
            try:
                info = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if info.st_size > MAX_TEMPLATE_BYTES:
                raise TemplateFileError(
                    f"{template!r} is larger than {MAX_TEMPLATE_BYTES >> 20} MiB; is it a template?"
                )
            with open(path, "rb") as file:
                data = file.read(MAX_TEMPLATE_BYTES + 1)
            return _text(template, data), os.path.normpath(path), _unchanged(path, info.st_mtime)
        raise TemplateNotFound(template)


def shown(value: object) -> object:
    """Return what ``{{ value }}`` prints: nothing for ``None`` (an item without an author),
    where Jinja would print "None"."""
    return "" if value is None else value


def _text(template: str, data: bytes) -> str:
    """Return a template file's text, or raise ``TemplateError`` for one not in UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateFileError(
            f"{template!r} is not UTF-8 text (a bad byte at offset {exc.start}); save it as UTF-8"
        ) from None


def _unchanged(path: str, mtime: float) -> Callable[[], bool]:
    """Return whether the file at ``path`` still has the modification time it was read with."""

    def uptodate() -> bool:
        try:
            return os.path.getmtime(path) == mtime
        except OSError:
            return False

    return uptodate


# Errors a template can cause while running: Jinja's own and those of the Python operations it
# performs (1/0, "a" + 1, a missing key, a runaway recursive macro).
TEMPLATE_FAILURES = (
    TemplateError,
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
    AttributeError,
    RecursionError,
    MemoryError,  # what the limits did not foresee fails the item, not the destination
)


WHOLE_TEMPLATE = (TemplateSyntaxError, TemplateNotFound, TemplateFileError)
"""Failures of the template as a whole, whatever the item (``TemplatesNotFound`` is a
``TemplateNotFound``)."""

_Outcome = str | tuple[str, BaseException]
"""A rendered text, or why it failed and the error behind it."""


class Templates:
    """Run the templates in one directory; each is compiled again only when its file changes.

    With ``fixed``, the templates are taken as unchanging for the object's life, as ``check``
    does: each is looked up and compiled once, and a template that never reads ``feed`` runs
    once per item and message type, its outcome shared by every feed that chose it. With
    ``compiled``, a folder, the compiled templates are kept there for the next process.
    """

    def __init__(
        self,
        templates_dir: Path,
        clock: Callable[[], datetime],
        limits: Limits | None = None,
        *,
        fixed: bool = False,
        compiled: Path | None = None,
    ) -> None:
        self.templates_dir = templates_dir
        self._clock = clock
        self._limits = limits or Limits()
        self._fixed = fixed
        self._reads_feed: dict[tuple[str | None, str, str], bool] = {}
        self._outcomes: dict[Hashable, _Outcome] = {}
        self._items: dict[int, Item] = {}
        """The items whose outcomes are kept, by id: kept alive so that no id is reused."""
        self._env = BoundedEnvironment(
            loader=CappedLoader(templates_dir),
            undefined=FriendlyUndefined,
            autoescape=False,  # the output is Viber plain text, not HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=not fixed,
            finalize=shown,
        )
        self._env.filters.update(FILTERS)
        # Every filter, Jinja's own too: center(10**9) must be refused before it runs.
        for name, function in list(self._env.filters.items()):
            self._env.filters[name] = bound_filter(name, function)
        self._env.bytecode_cache = bytecode_cache(compiled, self._env)

    def render(
        self, item: Item, feed: FeedConfig, meta: FeedMeta, type: str, kind: str, limit: int
    ) -> str:
        """Run the feed's template for message ``type`` at a ``kind`` of destination."""
        if self._fixed:
            outcome = self._shared_outcome(item, feed, meta, type, kind, limit)
        else:
            outcome = self._outcome(item, feed, meta, type, kind, limit)
        if isinstance(outcome, str):
            return outcome
        reason, exc = outcome
        if isinstance(exc, WHOLE_TEMPLATE):
            raise TemplateUnusable(feed.name, item.key, reason) from exc
        raise RenderError(feed.name, item.key, reason) from exc

    def _outcome(
        self, item: Item, feed: FeedConfig, meta: FeedMeta, type: str, kind: str, limit: int
    ) -> _Outcome:
        """Run the template and return its text, or why it failed."""
        template: Template | None = None
        try:
            template = self._template(feed, type, kind)
            context = {"item": item, "feed": meta, "message_type": type}
            context |= {"limit": limit, "now": self._clock()}
            return self._env.run(lambda: template.generate(context), self._limits)
        except TEMPLATE_FAILURES as exc:
            name = template.name if template is not None else None
            return self._describe(exc, name), exc

    def reads_feed(self, feed: FeedConfig, type: str, kind: str) -> bool:
        """Tell whether the template ``feed`` uses for ``type`` at ``kind`` may read ``feed``."""
        chosen = (feed.template, type, kind)
        if chosen not in self._reads_feed:
            self._reads_feed[chosen] = self._needs_feed(feed, type, kind)
        return self._reads_feed[chosen]

    def _shared_outcome(
        self, item: Item, feed: FeedConfig, meta: FeedMeta, type: str, kind: str, limit: int
    ) -> _Outcome:
        """Return the outcome of the same template run on the same values, running it once."""
        chosen = (feed.template, type, kind)
        reads_feed = self.reads_feed(feed, type, kind)
        # Hashing an item costs more than rendering it again would save: key it by identity.
        self._items.setdefault(id(item), item)
        key = (chosen, limit, id(item), meta if reads_feed else None)
        if key not in self._outcomes:
            self._outcomes[key] = self._outcome(item, feed, meta, type, kind, limit)
        return self._outcomes[key]

    def _needs_feed(self, feed: FeedConfig, type: str, kind: str) -> bool:
        """Tell whether the chosen template, or one it pulls in, may read ``feed``.

        A template that cannot be found or parsed fails alike for every feed; one that pulls in
        a template named at run time may read anything.
        """
        try:
            names = [self._template(feed, type, kind).name]
        except TEMPLATE_FAILURES:
            return False
        parsed: set[str] = set()
        while names:
            name = names.pop()
            if name is None:
                return True
            if name in parsed:
                continue
            parsed.add(name)
            try:
                source, _, _ = self._env.loader.get_source(self._env, name)  # type: ignore[union-attr]
                reads_feed, pulled_in = self._names(name, source)
            except TEMPLATE_FAILURES:
                return True
            if reads_feed:
                return True
            names += pulled_in
        return False

    def _names(self, name: str, source: str) -> Facts:
        """Return whether a template's source reads ``feed``, and the templates it pulls in.

        Parsing needs Jinja's lexer, whose patterns take longer to compile than the rest of
        ``check``'s renders: the compiled-template cache keeps the answer for the next process.
        """
        cache = self._env.bytecode_cache
        kept = cache.recall_facts(name, source) if isinstance(cache, OwnBytecodeCache) else None
        if kept is not None:
            return kept
        tree = self._env.parse(source, name)
        facts = (
            "feed" in jinja_meta.find_undeclared_variables(tree),
            tuple(jinja_meta.find_referenced_templates(tree)),
        )
        if isinstance(cache, OwnBytecodeCache):
            cache.keep_facts(name, source, facts)
        return facts

    def _template(self, feed: FeedConfig, type: str, kind: str) -> Template:
        """Return the feed's template, else `<kind>/<type>.j2`, `<type>.j2` or `default.j2`."""
        if feed.template:
            return self._env.get_template(feed.template)
        return self._env.select_template([f"{kind}/{type}.j2", f"{type}.j2", DEFAULT_TEMPLATE])

    def _describe(self, exc: BaseException, name: str | None) -> str:
        """Say what went wrong in which template and on which line, for the operator."""
        if isinstance(exc, TemplatesNotFound):
            names = ", ".join(repr(str(name)) for name in exc.templates)
            return f"none of the templates {names}{self._pulled_in(exc)} is in {self.templates_dir}"
        if isinstance(exc, TemplateNotFound):
            return f"template {exc.name!r}{self._pulled_in(exc)} is not in {self.templates_dir}"
        if isinstance(exc, TemplateSyntaxError):
            return f"template {exc.name!r} line {exc.lineno}: syntax error: {exc.message}"
        where = self._where(exc, name)
        if isinstance(exc, SecurityError):
            return f"{where}: blocked by the sandbox: {exc}"
        if isinstance(exc, TemplateError):
            return f"{where}: {exc}"
        return f"{where}: {type(exc).__name__}: {exc}"

    def _where(self, exc: BaseException, name: str | None) -> str:
        """Name the template and line the error came from, found in the traceback."""
        found = self._line(exc)
        if found is not None:
            return found
        return f"template {name!r}" if name else "template"

    def _pulled_in(self, exc: BaseException) -> str:
        """Name where a template that is not there was included, imported or extended from."""
        found = self._line(exc)
        return "" if found is None else f", pulled in at {found},"

    def _line(self, exc: BaseException) -> str | None:
        """Return the template and line of the folder's that raised ``exc``, if one did."""
        root = os.path.abspath(self.templates_dir)
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            path = os.path.abspath(frame.filename)
            if path.startswith(root + os.sep):
                return f"template {os.path.relpath(path, root)!r} line {frame.lineno}"
        return None
