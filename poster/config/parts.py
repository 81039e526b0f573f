"""Define the parts of a configuration only some use: item rules, quiet hours, a JSON mapping.

``poster.config.settings`` names them too; they live apart so that a configuration without them,
and the commands that only read one, never build their classes.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from poster.frozen import frozen

if TYPE_CHECKING:
    import regex


@frozen
class Rule:
    """One include or exclude rule: a keyword or a ``/regex/flags``, as written and compiled.

    The pattern is compiled by ``regex``, whose matching takes a deadline: a rule that
    backtracks without end on some item (``/(a|aa)+$/``) stops there instead of holding the
    interpreter, and every other feed, for good.
    """

    source: str
    pattern: regex.Pattern[str]

    def found_in(self, text: str) -> bool:
        """Tell whether the rule occurs in ``text``; raise ``TimeoutError`` past the deadline."""
        return self.pattern.search(text, timeout=RULE_SECONDS) is not None


RULE_SECONDS = 0.25
"""The longest one rule may take on one item's text."""


@frozen
class JsonMapping:
    """Where a mapped JSON API keeps its items and which fields to use (dotted paths)."""

    items: str = ""
    id: str | None = None
    title: str | None = None
    link: str | None = None
    content: str | None = None
    text: str | None = None
    summary: str | None = None
    image: str | None = None
    published: str | None = None
    updated: str | None = None
    author: str | None = None
    tags: str | None = None


@frozen
class QuietHours:
    """A daily window of local time in which nothing is posted; it may cross midnight."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, moment: time) -> bool:
        """Tell whether the local time of day ``moment`` falls in the window."""
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def end_after(self, local: datetime) -> datetime:
        """Return the first end of the window after the local ``local``, in UTC."""
        zone = local.tzinfo
        ends = datetime.combine(local.date(), self.end, tzinfo=zone)
        if ends <= local:
            ends = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return ends.astimezone(UTC)
