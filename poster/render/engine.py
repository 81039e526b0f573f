"""Find, compile and run the feed templates inside Jinja's sandbox.

With ``filters``, the only part of the render stage that imports Jinja, and it is loaded on first
use, so a pass that renders nothing never pays for Jinja.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from jinja2 import (
    FileSystemLoader,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplatesNotFound,
    TemplateSyntaxError,
)
from jinja2.exceptions import SecurityError

from poster.config import FeedConfig
from poster.errors import RenderError
from poster.models import FeedMeta, Item
from poster.render.filters import FILTERS
from poster.render.limits import BoundedEnvironment, Limits, bound_filter
from poster.render.undefined import FriendlyUndefined

DEFAULT_TEMPLATE = "default.j2"

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
)


class Templates:
    """Run the templates in one directory; each is compiled again only when its file changes."""

    def __init__(
        self, templates_dir: Path, clock: Callable[[], datetime], limits: Limits | None = None
    ) -> None:
        self.templates_dir = templates_dir
        self._clock = clock
        self._limits = limits or Limits()
        self._env = BoundedEnvironment(
            loader=FileSystemLoader(templates_dir),
            undefined=FriendlyUndefined,
            autoescape=False,  # the output is Viber plain text, not HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters.update(FILTERS)
        # Every filter, Jinja's own too: center(10**9) must be refused before it runs.
        for name, function in list(self._env.filters.items()):
            self._env.filters[name] = bound_filter(name, function)

    def render(
        self, item: Item, feed: FeedConfig, meta: FeedMeta, type: str, kind: str, limit: int
    ) -> str:
        """Run the feed's template for message ``type`` at a ``kind`` of destination."""
        template: Template | None = None
        try:
            template = self._template(feed, type, kind)
            context = {"item": item, "feed": meta, "message_type": type}
            context |= {"limit": limit, "now": self._clock()}
            return self._env.run(lambda: template.generate(context), self._limits)
        except TEMPLATE_FAILURES as exc:
            name = template.name if template is not None else None
            raise RenderError(feed.name, item.key, self._describe(exc, name)) from exc

    def _template(self, feed: FeedConfig, type: str, kind: str) -> Template:
        """Return the feed's template, else `<kind>/<type>.j2`, `<type>.j2` or `default.j2`."""
        if feed.template:
            return self._env.get_template(feed.template)
        return self._env.select_template([f"{kind}/{type}.j2", f"{type}.j2", DEFAULT_TEMPLATE])

    def _describe(self, exc: BaseException, name: str | None) -> str:
        """Say what went wrong in which template and on which line, for the operator."""
        if isinstance(exc, TemplatesNotFound):
            names = ", ".join(repr(str(name)) for name in exc.templates)
            return f"none of the templates {names} is in {self.templates_dir}"
        if isinstance(exc, TemplateNotFound):
            return f"template {exc.name!r} is not in {self.templates_dir}"
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
        root = os.path.abspath(self.templates_dir)
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            path = os.path.abspath(frame.filename)
            if path.startswith(root + os.sep):
                return f"template {os.path.relpath(path, root)!r} line {frame.lineno}"
        return f"template {name!r}" if name else "template"
