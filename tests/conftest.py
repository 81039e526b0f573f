"""Share fixtures across test modules."""

from collections.abc import Iterator

import pytest
from feedserver import FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """Run a FeedServer on 127.0.0.1 for one test."""
    with FeedServer() as server:
        yield server
