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
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplatesNotFound,
    TemplateSyntaxError,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from poster.config import FeedConfig
from poster.errors import RenderError
from poster.models import FeedMeta, Item
from poster.render.filters import FILTERS

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

    def __init__(self, templates_dir: Path, clock: Callable[[], datetime]) -> None:
        self.templates_dir = templates_dir
        self._clock = clock
        self._env = SandboxedEnvironment(
            loader=FileSystemLoader(templates_dir),
            undefined=StrictUndefined,
            autoescape=False,  # the output is Viber plain text, not HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters.update(FILTERS)

    def render(
        self, item: Item, feed: FeedConfig, meta: FeedMeta, type: str, kind: str, limit: int
    ) -> str:
        """Run the feed's template for message ``type`` at a ``kind`` of destination."""
        try:
            return self._template(feed, type, kind).render(
                item=item,
                feed=meta,
                message_type=type,
                limit=limit,
                now=self._clock(),
            )
        except TEMPLATE_FAILURES as exc:
            raise RenderError(feed.name, item.key, self._describe(exc)) from exc

    def _template(self, feed: FeedConfig, type: str, kind: str) -> Template:
        """Return the feed's template, else `<kind>/<type>.j2`, `<type>.j2` or `default.j2`."""
        if feed.template:
            return self._env.get_template(feed.template)
        return self._env.select_template([f"{kind}/{type}.j2", f"{type}.j2", DEFAULT_TEMPLATE])

    def _describe(self, exc: BaseException) -> str:
        """Say what went wrong in which template and on which line, for the operator."""
        if isinstance(exc, TemplatesNotFound):
            names = ", ".join(repr(str(name)) for name in exc.templates)
            return f"none of the templates {names} is in {self.templates_dir}"
        if isinstance(exc, TemplateNotFound):
            return f"template {exc.name!r} is not in {self.templates_dir}"
        if isinstance(exc, TemplateSyntaxError):
            return f"template {exc.name!r} line {exc.lineno}: syntax error: {exc.message}"
        where = self._where(exc)
        if isinstance(exc, SecurityError):
            return f"{where}: blocked by the sandbox: {exc}"
        if isinstance(exc, TemplateError):
            return f"{where}: {exc}"
        return f"{where}: {type(exc).__name__}: {exc}"

    def _where(self, exc: BaseException) -> str:
        """Name the template and line the error came from, found in the traceback."""
        root = os.path.abspath(self.templates_dir)
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            path = os.path.abspath(frame.filename)
            if path.startswith(root + os.sep):
                return f"template {os.path.relpath(path, root)!r} line {frame.lineno}"
        return "template"
