"""Render an item through a sandboxed Jinja template into a Channels Post API message.

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
from poster.messages import Message
from poster.models import FeedMeta, Item
from poster.render.build import build_message
from poster.render.media import choose_type, possible_types
from poster.render.sample import SAMPLE_ITEM, sample_meta

if TYPE_CHECKING:
    from poster.render.engine import Templates
    from poster.render.limits import Limits

__all__ = ["SAMPLE_ITEM", "Renderer", "choose_type"]

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

    def __init__(
        self,
        templates_dir: Path,
        *,
        clock: Callable[[], datetime] = _utc_now,
        limits: Limits | None = None,
    ) -> None:
        self.templates_dir = templates_dir
        self._clock = clock
        self._limits = limits
        self._templates: Templates | None = None
        self._lock = threading.Lock()

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
        return clean_output(self._engine().render(item, feed, meta, kind))

    def _engine(self) -> Templates:
        """Return the templates, their Jinja environment built on first use and only once."""
        # The lock keeps threads that render at the same time from building two environments.
        with self._lock:
            if self._templates is None:
                # Imported here: a pass with nothing to render never pays for loading Jinja.
                from poster.render.engine import Templates

                self._templates = Templates(self.templates_dir, self._clock, self._limits)
            return self._templates


def clean_output(text: str) -> str:
    """Strip the output, drop characters no post may hold and keep at most one blank line."""
    text = _INVALID.sub("", text.replace("\r\n", "\n"))
    text = _LINE_END_SPACE.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()
