"""Render an item through a sandboxed Jinja template into a destination-neutral ``Post``.

Template errors of every kind become one ``RenderError`` naming the template and line, so a
broken template skips the item instead of stopping the feed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from poster.config import FeedConfig
from poster.errors import RenderError
from poster.frozen import replace
from poster.lazy import names_from

if TYPE_CHECKING:
    from poster.destinations import Kind
    from poster.models import FeedMeta, Item, Post
    from poster.render.engine import Templates
    from poster.render.limits import Limits
    from poster.render.sample import SAMPLE_ITEM as SAMPLE_ITEM

__all__ = ["SAMPLE_ITEM", "Renderer"]

# The sample item is made on first use: a run renders the feeds' own items, when they changed.
__getattr__ = names_from(__name__, {"SAMPLE_ITEM": "poster.render.sample"})

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
    template takes effect on the next item without a restart; with ``fixed``, as for ``check``,
    they are taken as unchanging and each outcome that cannot differ between feeds is shared;
    with ``compiled``, a folder, the compiled templates are kept there for the next process.
    """

    def __init__(
        self,
        templates_dir: Path,
        *,
        clock: Callable[[], datetime] = _utc_now,
        limits: Limits | None = None,
        fixed: bool = False,
        compiled: Path | None = None,
    ) -> None:
        self.templates_dir = templates_dir
        self._clock = clock
        self._limits = limits
        self._fixed = fixed
        self._compiled = compiled
        self._cleaned: dict[str, str] = {}
        self._templates: Templates | None = None
        self._lock = threading.Lock()

    def render(self, item: Item, feed: FeedConfig, meta: FeedMeta, kind: Kind) -> Post:
        """Return the post of ``item`` for ``kind``: the feed's fixed message, or the rendering.

        The kind chooses the type; its text is left uncut, for the kind to fit to its limits.
        """
        from poster.items import Post  # here: a pass with nothing to render makes no item class

        if feed.fixed is not None:
            post = Post.of(item, feed.fixed.type, "", feed.name)
            return replace(post, fixed=feed.fixed)
        type = kind.choose_type(item, feed)
        return Post.of(item, type, self._render_text(item, feed, meta, type, kind), feed.name)

    def check(self, feed: FeedConfig, kind: Kind, meta: FeedMeta | None = None) -> Post:
        """Render the sample item with every template ``feed`` may use at ``kind``; raise the
        first failure."""
        failures = self.failures(feed, kind, meta)
        if failures:
            raise failures[0]
        from poster.render.sample import SAMPLE_ITEM, sample_meta  # here: only a check needs it

        return self.render(SAMPLE_ITEM, feed, meta or sample_meta(feed.name, feed.url), kind)

    def failures(
        self, feed: FeedConfig, kind: Kind, meta: FeedMeta | None = None
    ) -> list[RenderError]:
        """Render the sample item with every template ``feed`` may use at ``kind``; return
        each distinct failure, so that a second broken template is not hidden by the first."""
        from poster.render.sample import SAMPLE_ITEM, sample_meta  # here: only a check needs it

        meta = meta or sample_meta(feed.name, feed.url)
        found: dict[str, RenderError] = {}
        for type in kind.possible_types(feed):
            try:
                text = self._render_text(SAMPLE_ITEM, feed, meta, type, kind)
                if type == "text" and not text.strip():  # as a post of it would fail
                    from poster.items import Post

                    kind.compose(Post.of(SAMPLE_ITEM, type, text, feed.name))
            except RenderError as exc:
                found.setdefault(str(exc), exc)
        if not found:
            try:
                self.render(SAMPLE_ITEM, feed, meta, kind)
            except RenderError as exc:
                found[str(exc)] = exc
        return list(found.values())

    def reads_feed(self, feed: FeedConfig, kind: Kind) -> bool:
        """Tell whether a template ``check`` runs for ``feed`` at ``kind`` may read ``feed``.

        When none does, the check of another feed with the same settings but its name and url
        ends alike: the kinds choose types from a feed's settings, never its name or address.
        """
        from poster.render.sample import SAMPLE_ITEM  # here: only a check needs it

        if feed.fixed is not None:
            types = tuple(kind.possible_types(feed))
        else:
            types = (*kind.possible_types(feed), kind.choose_type(SAMPLE_ITEM, feed))
        engine = self._engine()
        return any(engine.reads_feed(feed, type, kind.name) for type in dict.fromkeys(types))

    def _render_text(
        self, item: Item, feed: FeedConfig, meta: FeedMeta, type: str, kind: Kind
    ) -> str:
        """Run the feed's template for ``type`` at ``kind`` and return its cleaned output."""
        limit = kind.text_limit(type)
        text = self._engine().render(item, feed, meta, type, kind.name, limit)
        if not self._fixed:
            return clean_output(text)
        if text not in self._cleaned:  # fixed templates give many feeds the same text
            self._cleaned[text] = clean_output(text)
        return self._cleaned[text]

    def _engine(self) -> Templates:
        """Return the templates, their Jinja environment built on first use and only once."""
        # The lock keeps threads that render at the same time from building two environments.
        with self._lock:
            if self._templates is None:
                # Imported here: a pass with nothing to render never pays for loading Jinja.
                from poster.render.engine import Templates

                self._templates = Templates(
                    self.templates_dir,
                    self._clock,
                    self._limits,
                    fixed=self._fixed,
                    compiled=self._compiled,
                )
            return self._templates


def clean_output(text: str) -> str:
    """Strip the output, drop characters no post may hold and keep at most one blank line."""
    text = _INVALID.sub("", text.replace("\r\n", "\n"))
    text = _LINE_END_SPACE.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def unreadable(templates_dir: Path, exc: OSError) -> str:
    """Say that a template in ``templates_dir`` cannot be read, and what to do about it."""
    reason = exc.strerror or exc
    return (
        f"cannot read a template in {templates_dir}: {reason}; make the templates readable by "
        "the user poster runs as"
    )
