"""Share fixtures across test modules."""

import logging
from collections.abc import Iterator

import pytest
from feedserver import FeedServer

from poster import secrets
from poster.logs import NOISY_LOGGERS
from poster.secrets import RedactingFilter


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """Run a FeedServer on 127.0.0.1 for one test."""
    with FeedServer() as server:
        yield server


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Drop log handlers a test installed (``main`` writes to that test's captured stderr)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    for name, old in noisy.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def clean_redaction(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give install_redaction fresh state and undo what it did to logging afterwards."""
    fresh = RedactingFilter()
    monkeypatch.setattr(secrets, "_FILTER", fresh)
    monkeypatch.setattr(secrets, "_factory_installed", False)
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)
    for handler in logging.getLogger().handlers:
        handler.removeFilter(fresh)
