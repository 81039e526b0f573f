"""Define one thing wrong with a configuration file, as ``ConfigError`` lists them.

``poster.errors`` names it too; it lives apart so that reading a configuration without
problems never makes its class.
"""

from __future__ import annotations

from poster.frozen import frozen


@frozen
class ConfigProblem:
    """One thing wrong with a configuration file, located by file, feed and key."""

    file: str
    key: str
    message: str
    feed: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.feed is not None:
            where += f": feed {self.feed!r}"
        where += f": {self.key}" if self.key else ""
        text = f"{where}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text
