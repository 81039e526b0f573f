"""Render an item through a sandboxed Jinja template into a Channels Post API message.

Template errors of every kind become one ``RenderError`` naming the template and line, so a
broken template skips the item instead of stopping the feed.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
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
from poster.messages import Message
from poster.models import FeedMeta, Item
from poster.render.build import build_message, text_limit
from poster.render.filters import FILTERS
from poster.render.media import choose_type, possible_types
from poster.render.sample import SAMPLE_ITEM, sample_meta

__all__ = ["SAMPLE_ITEM", "Renderer", "choose_type"]

DEFAULT_TEMPLATE = "default.j2"

# Errors a template can cause while running: Jinja's own and those of the Python operations it
# performs (1/0, "a" + 1, a missing key, a runaway recursive macro).
_TEMPLATE_FAILURES = (
    TemplateError,
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
    AttributeError,
    RecursionError,
)
# C0 controls other than tab and newline, DEL, and lone surrogates: never valid in a post.
_INVALID = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_LINE_END_SPACE = re.compile(r"[ \t]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")


def _utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class Renderer:
    """Render items with the templates in one directory.

    Templates are compiled once and compiled again only when their file changes, so an edited
    template takes effect on the next item without a restart.
    """

    def __init__(self, templates_dir: Path, *, clock: Callable[[], datetime] = _utc_now) -> None:
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

    def render(self, item: Item, feed: FeedConfig, meta: FeedMeta) -> Message:
        """Return the message for ``item``: the feed's fixed message, or the rendered item."""
        if feed.fixed is not None:
            return feed.fixed
        kind = choose_type(item, feed)
        text = self._render_text(item, feed, meta, kind)
        return build_message(kind, item, text, feed.name)

    def check(self, feed: FeedConfig, meta: FeedMeta | None = None) -> Message:
        """Render the sample item with every template ``feed`` may use; return its message."""
        meta = meta or sample_meta(feed.name, feed.url)
        for kind in possible_types(feed):
            self._render_text(SAMPLE_ITEM, feed, meta, kind)
        return self.render(SAMPLE_ITEM, feed, meta)

    def _render_text(self, item: Item, feed: FeedConfig, meta: FeedMeta, kind: str) -> str:
        """Run the feed's template for ``kind`` and return its cleaned output."""
        try:
            output = self._template(feed, kind).render(
                item=item,
                feed=meta,
                message_type=kind,
                limit=text_limit(kind),
                now=self._clock(),
            )
        except _TEMPLATE_FAILURES as exc:
            raise RenderError(feed.name, item.key, self._describe(exc)) from exc
        return clean_output(output)

    def _template(self, feed: FeedConfig, kind: str) -> Template:
        """Return the feed's own template, else ``<kind>.j2``, else ``default.j2``."""
        if feed.template:
            return self._env.get_template(feed.template)
        return self._env.select_template([f"{kind}.j2", DEFAULT_TEMPLATE])

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


def clean_output(text: str) -> str:
    """Strip the output, drop characters no post may hold and keep at most one blank line."""
    text = _INVALID.sub("", text.replace("\r\n", "\n"))
    text = _LINE_END_SPACE.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()
