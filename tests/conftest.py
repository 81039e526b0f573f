"""Share fixtures across test modules."""

import logging
from collections.abc import Iterator

import pytest
from feedserver import FeedServer


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
    noisy = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "apscheduler")}
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    for name, old in noisy.items():
        logging.getLogger(name).setLevel(old)
