"""Test the limits that hold against hostile sources: the deadline of a whole fetch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dripserver import DripServer

from poster import errors
from poster.config import FeedConfig, load_config
from poster.feedclient import FeedClient
from poster.fetch import deadline_of, fetch, make_client

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"


@pytest.fixture
def client() -> Iterator[FeedClient]:
    """Yield a client with the real transport."""
    with make_client() as http:
        yield http


@pytest.mark.parametrize(
    ("prefix", "drip"),
    [
        pytest.param(HEAD + b"Connection: close\r\n\r\n", RSS, id="body-until-close"),
        pytest.param(HEAD + b"Content-Length: %d\r\n\r\n" % len(RSS), RSS, id="content-length"),
        pytest.param(
            HEAD + b"Transfer-Encoding: chunked\r\n\r\n",
            b"".join(b"1\r\n%s\r\n" % bytes([c]) for c in RSS) + b"0\r\n\r\n",
            id="chunked",
        ),
        pytest.param(b"", HEAD + b"Content-Length: %d\r\n\r\n" % len(RSS) + RSS, id="headers"),
        pytest.param(b"\x16\x03\x03\x40\x00", bytes(16384), id="tls-handshake"),
    ],
)
def test_a_dripping_source_stops_at_the_deadline(
    client: FeedClient, prefix: bytes, drip: bytes, request: pytest.FixtureRequest
) -> None:
    scheme = "https" if request.node.callspec.id == "tls-handshake" else "http"
    with DripServer(prefix, drip, interval=0.02) as server:
        feed = FeedConfig(name="slow", url=server.url(scheme=scheme), timeout=1.0, deadline=0.3)
        started = time.monotonic()
        with pytest.raises(errors.FetchTimeout) as caught:
            fetch(feed, client)
        elapsed = time.monotonic() - started
    assert str(caught.value) == (
        f"feed 'slow': {feed.url}: not fetched within the 0.3s deadline (deadline)"
    )
    assert 0.3 <= elapsed < 1.0  # every read came well within the 1 s timeout
    assert server.served == 0


def test_a_source_within_the_deadline_is_read(client: FeedClient) -> None:
    prefix = HEAD + b"Content-Length: %d\r\n\r\n" % len(RSS)
    with DripServer(prefix + RSS[:-4], RSS[-4:], interval=0.01) as server:
        result = fetch(FeedConfig(name="ok", url=server.url(), deadline=5.0), client)
    assert result.body == RSS


def test_a_transport_without_a_watchdog_stops_between_pieces() -> None:
    def pieces() -> Iterator[bytes]:
        yield RSS[:10]
        yield RSS[10:]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Stream(pieces()))

    feed = FeedConfig(name="slow", url="https://feeds.example.org/feed", deadline=1e-9)
    mocked = make_client(transport=httpx.MockTransport(answer))
    with mocked, pytest.raises(errors.FetchTimeout, match=r"within the 1e-09s deadline"):
        fetch(feed, mocked)


class _Stream(httpx.SyncByteStream):
    """A response body that arrives in the given pieces."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces


@pytest.mark.parametrize(
    ("options", "seconds"),
    [
        pytest.param({}, 60.0, id="default-3x-timeout"),
        pytest.param({"timeout": 5.0}, 15.0, id="3x-own-timeout"),
        pytest.param({"timeout": 5.0, "deadline": 8.0}, 8.0, id="own-deadline"),
    ],
)
def test_deadline_defaults_to_three_timeouts(options: dict[str, float], seconds: float) -> None:
    assert deadline_of(FeedConfig(name="a", url="https://a.example/", **options)) == seconds  # type: ignore[arg-type]


def test_deadline_is_a_feed_key(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    path = tmp_path / "feeds.toml"
    path.write_text(
        '[defaults]\ndeadline = "45s"\n'
        '[[feeds]]\nname = "a"\nurl = "https://example.org/feed"\n'
        '[[feeds]]\nname = "b"\nurl = "https://example.org/b"\ndeadline = 90\n'
    )
    config = load_config(path)
    assert [feed.deadline for feed in config.feeds] == [45.0, 90.0]
