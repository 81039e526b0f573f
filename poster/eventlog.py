"""Give a module a logger that loads logging, and sets it up, only when it is first used.

A command that may log nothing, such as ``status`` on a sound state, sets logging up with
``deferred_setup``: the standard library's ``logging`` (with ``traceback`` and ``string``,
several milliseconds) then loads with the first event, and never if there is none. Modules on
such a command's path take their logger from ``logger`` instead of ``logging.getLogger``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import logging

_pending: list[str] = []
"""The level to set logging up at when an event is first logged, while a command defers it."""


@contextmanager
def deferred_setup(level: str) -> Iterator[None]:
    """Set logging up at ``level`` on the block's first event, or now if logging is loaded."""
    if "logging" in sys.modules:
        _set_up(level)
        yield
        return
    _pending[:] = [level]
    try:
        yield
    finally:
        _pending.clear()


def logger(name: str) -> logging.Logger:
    """Return the logger called ``name``, loading logging when it is first used."""
    return cast("logging.Logger", _Deferred(name))


class _Deferred:
    """Stand for ``logging.getLogger(name)`` until an attribute of it is first asked for."""

    __slots__ = ("_name", "_real")

    def __init__(self, name: str) -> None:
        self._name = name
        self._real: logging.Logger | None = None

    def __getattr__(self, attribute: str) -> Any:
        if _pending:
            _set_up(_pending.pop())
        if self._real is None:
            import logging

            self._real = logging.getLogger(self._name)
        return getattr(self._real, attribute)


def _set_up(level: str) -> None:
    """Send events at ``level`` or above to stderr, as every command does."""
    from poster.logs import setup_logging

    setup_logging(level)
