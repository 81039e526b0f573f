"""Check that only one large body is read at a time, and that a fetch waits within its deadline.

A slow server on 127.0.0.1 sends most of a large body at once and the rest a byte at a time,
so its fetch holds the large slot for as long as the test needs; other fetches run beside it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from dripserver import DripServer
from feedserver import FeedServer, Route

from poster import errors
from poster.bodybudget import ALLOWANCE
from poster.config import FeedConfig
from poster.feedclient import FeedClient
from poster.fetch import fetch, make_client
from poster.models import FetchResult

LARGE = 2 * ALLOWANCE
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: %d\r\n\r\n"
TAIL = 20
RSS = {"Content-Type": "application/rss+xml"}


@pytest.fixture
def client() -> Iterator[FeedClient]:
    """Yield a client with the real transport."""
    with make_client() as http:
        yield http


@pytest.fixture
def slow_large() -> Iterator[DripServer]:
    """Serve a large body whose last bytes come one every 20 ms."""
    body = b" " * LARGE
    with DripServer(HEAD % LARGE + body[:-TAIL], body[-TAIL:], interval=0.02) as server:
        yield server


def holding(client: FeedClient, url: str, pool: ThreadPoolExecutor) -> Future[FetchResult]:
    """Start fetching the slow large body and return once it holds the large slot."""
    future = pool.submit(fetch, FeedConfig(name="slow", url=url, deadline=10.0), client)
    limit = time.monotonic() + 5.0
    while not client.budget.taken:
        assert time.monotonic() < limit and not future.done(), "the slot was never taken"
        threading.Event().wait(0.005)
    return future


def test_a_second_large_body_waits_and_fails_at_its_own_deadline(
    client: FeedClient, slow_large: DripServer, feed_server: FeedServer
) -> None:
    feed_server.routes["/large"] = Route(200, RSS, b" " * LARGE)
    feed_server.routes["/small"] = Route(200, RSS, b" " * (ALLOWANCE // 2))
    with ThreadPoolExecutor(1) as pool:
        slow = holding(client, slow_large.url(), pool)
        small = fetch(FeedConfig(name="small", url=feed_server.url("/small")), client)
        feed = FeedConfig(name="large", url=feed_server.url("/large"), deadline=0.2)
        with pytest.raises(errors.FetchTimeout) as caught:
            fetch(feed, client)
        assert not slow.done()
        assert len(slow.result().body or b"") == LARGE
    assert len(small.body or b"") == ALLOWANCE // 2
    assert str(caught.value) == (
        f"feed 'large': {feed.url}: not fetched within the 0.2s deadline (deadline), "
        "waiting while another feed's large body was read"
    )


def test_a_waiting_large_body_is_read_once_the_slot_is_free(
    client: FeedClient, slow_large: DripServer, feed_server: FeedServer
) -> None:
    feed_server.routes["/large"] = Route(200, RSS, b"x" * LARGE)
    with ThreadPoolExecutor(1) as pool:
        slow = holding(client, slow_large.url(), pool)
        result = fetch(FeedConfig(name="large", url=feed_server.url("/large")), client)
        assert slow.done()
    assert result.body == b"x" * LARGE
    assert not client.budget.taken


def test_a_refused_body_gives_its_slot_back(client: FeedClient, feed_server: FeedServer) -> None:
    feed_server.routes["/huge"] = Route(200, RSS, b" " * (3 * ALLOWANCE), chunked=True)
    feed = FeedConfig(name="huge", url=feed_server.url("/huge"), max_bytes=LARGE)
    for _ in range(2):
        with pytest.raises(errors.ResponseTooLarge):
            fetch(feed, client)
        assert not client.budget.taken
