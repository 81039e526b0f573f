"""Undo what code under test did to logging: handlers it added, levels it set."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from poster.logs import NOISY_LOGGERS


@contextmanager
def logging_kept() -> Iterator[None]:
    """Drop root handlers added inside, closing them, and put back the levels from before."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)
        for name, old in noisy.items():
            logging.getLogger(name).setLevel(old)
