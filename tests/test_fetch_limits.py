"""Test the limits that hold against hostile sources: the deadline and compression bombs."""

from __future__ import annotations

import functools
import gzip
import ipaddress
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from dripserver import DripServer
from feedserver import FeedServer, Route

from poster import errors
from poster.config import FeedConfig, load_config
from poster.fetch.addresses import AddressPolicy, ResolveCache, Resolver
from poster.fetch.client import FeedClient
from poster.fetch.connections import Connection
from poster.fetch.feed import deadline_of, fetch, make_client
from poster.fetch.inflate import PIECE, UnaskedCoding, decoded
from poster.fetch.transport import StdlibTransport

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
        feed = FeedConfig(name="slow", url=server.url(scheme=scheme), timeout=5.0, deadline=0.3)
        started = time.monotonic()
        with pytest.raises(errors.FetchTimeout) as caught:
            fetch(feed, client)
        elapsed = time.monotonic() - started
    assert str(caught.value) == (
        f"feed 'slow': {feed.url}: not fetched within the 0.3s deadline (deadline)"
    )
    # The message names the deadline, not the 5 s timeout: every wait between drips is far
    # shorter. The bound leaves room for the first https read's TLS context on a loaded machine.
    assert 0.3 <= elapsed < 2.0
    assert server.served == 0


@contextmanager
def _blackhole() -> Iterator[int]:
    """Yield a port on 127.0.0.1 that never completes a connection: its backlog is full."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    queued: list[socket.socket] = []
    try:
        while True:  # one connection fills the backlog; the next SYN is dropped, unanswered
            probe = socket.socket()
            queued.append(probe)
            probe.settimeout(0.2)
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        yield port
    finally:
        for probe in queued:
            probe.close()
        listener.close()


def _fetch_late(resolve: Resolver | ResolveCache, url: str) -> tuple[str, float]:
    """Fetch ``url`` with a 5 s timeout and a 0.3 s deadline; return the error and the time."""
    transport = StdlibTransport(policy=AddressPolicy(resolve=resolve))
    feed = FeedConfig(name="late", url=url, timeout=5.0, deadline=0.3)
    started = time.monotonic()
    with make_client(transport=transport) as client, pytest.raises(errors.FetchTimeout) as caught:
        fetch(feed, client)
    return str(caught.value), time.monotonic() - started


def test_connecting_stops_at_the_deadline() -> None:
    # Two addresses that never answer: without the deadline, each would take the 5 s timeout.
    with _blackhole() as port:
        url = f"http://feed.test:{port}/feed"
        error, elapsed = _fetch_late(lambda host, port: ("127.0.0.1", "127.0.0.1"), url)
    assert error == f"feed 'late': {url}: not fetched within the 0.3s deadline (deadline)"
    assert 0.3 <= elapsed < 1.5


@pytest.mark.parametrize("cached", [True, False], ids=["resolve-cache", "plain-resolver"])
def test_resolving_stops_at_the_deadline(cached: bool) -> None:
    release = threading.Event()

    def stuck(host: str, port: int) -> tuple[str, ...]:
        release.wait(5)  # getaddrinfo takes no timeout: a dead resolver holds it this long
        return ("127.0.0.1",)

    url = "http://stuck.test/feed"
    try:
        error, elapsed = _fetch_late(ResolveCache(stuck) if cached else stuck, url)
    finally:
        release.set()
    assert error == f"feed 'late': {url}: not fetched within the 0.3s deadline (deadline)"
    assert 0.3 <= elapsed < 1.5


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


def test_deadline_and_allow_private_are_feed_keys(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    path = tmp_path / "feeds.toml"
    path.write_text(
        '[defaults]\ndeadline = "45s"\n'
        '[[feeds]]\nname = "a"\nurl = "https://example.org/feed"\n'
        '[[feeds]]\nname = "b"\nurl = "https://example.org/b"\ndeadline = 90\n'
        "allow_private = true\n"
    )
    config = load_config(path)
    assert [feed.deadline for feed in config.feeds] == [45.0, 90.0]
    assert [feed.allow_private for feed in config.feeds] == [False, True]


# --- compression bombs -------------------------------------------------------------------------

CAP = 1 << 20


@functools.cache
def bomb(wbits: int, size: int = 16 << 20) -> bytes:
    """Return ``size`` zero bytes compressed with ``wbits`` (gzip, zlib or raw deflate)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1 << 20)
    return b"".join([*(packer.compress(block) for _ in range(size >> 20)), packer.flush()])


@pytest.mark.parametrize(
    ("encoding", "wbits", "chunked"),
    [
        pytest.param("gzip", 31, False, id="gzip"),
        pytest.param("deflate", 15, False, id="deflate-zlib"),
        pytest.param("deflate", -15, False, id="deflate-raw"),
        pytest.param("gzip", 31, True, id="gzip-chunked"),
        pytest.param("gzip", 0, False, id="gzip-many-members"),
    ],
)
def test_a_compression_bomb_is_refused_within_the_cap(
    feed_server: FeedServer, client: FeedClient, encoding: str, wbits: int, chunked: bool
) -> None:
    headers = {"Content-Type": "application/rss+xml", "Content-Encoding": encoding}
    body = bomb(wbits) if wbits else bomb(31, 1 << 20) * 16
    feed_server.routes["/bomb"] = Route(200, headers, body, chunked=chunked)
    feed = FeedConfig(name="bomb", url=feed_server.url("/bomb"), max_bytes=CAP)
    tracemalloc.start()
    try:
        with pytest.raises(errors.ResponseTooLarge, match=f"larger than the {CAP} byte cap"):
            fetch(feed, client)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The body up to the cap (its buffer grows by an eighth at most), plus working buffers: the
    # 64 KiB read from the socket, zlib's window and a few pieces. Inflating a read at once: 16 MiB.
    assert peak < CAP * 9 // 8 + 256 * 1024


def test_a_body_near_the_cap_is_held_once(feed_server: FeedServer, client: FeedClient) -> None:
    body = b"<rss>" + b" " * (CAP - 16) + b"</rss>"
    feed_server.routes["/big"] = Route(200, {"Content-Type": "application/rss+xml"}, body)
    feed = FeedConfig(name="big", url=feed_server.url("/big"), max_bytes=CAP)
    tracemalloc.start()
    try:
        result = fetch(feed, client)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.body == body
    # Growing the body and then copying it out would hold it twice at the end of the read.
    assert peak < CAP * 9 // 8 + 256 * 1024


def test_compressed_bytes_count_against_the_cap(
    feed_server: FeedServer, client: FeedClient
) -> None:
    noise = bytes(range(256)) * 64
    stored = zlib.compressobj(0, zlib.DEFLATED, 31)  # level 0: bigger than what it holds
    body = stored.compress(noise) + stored.flush()
    headers = {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
    feed_server.routes["/stored"] = Route(200, headers, body, chunked=True)
    feed = FeedConfig(name="big", url=feed_server.url("/stored"), max_bytes=len(noise) + 1)
    with pytest.raises(errors.ResponseTooLarge):
        fetch(feed, client)


def test_a_compressed_feed_within_the_cap_is_read(
    feed_server: FeedServer, client: FeedClient
) -> None:
    headers = {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
    feed_server.routes["/feed"] = Route(200, headers, gzip.compress(RSS * 1000), chunked=True)
    result = fetch(FeedConfig(name="ok", url=feed_server.url("/feed")), client)
    assert result.body == RSS * 1000


TEXT = bytes(range(256)) * 1024 + b"end"


def _deflate(data: bytes, wbits: int) -> bytes:
    """Compress ``data`` with ``wbits``."""
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "body", "split"),
    [
        pytest.param("gzip", _deflate(TEXT, 31), 1 << 20, id="gzip"),
        pytest.param("x-gzip", _deflate(TEXT, 31), 1 << 20, id="x-gzip"),
        pytest.param("gzip", _deflate(TEXT, 31), 1, id="gzip-byte-by-byte"),
        pytest.param("deflate", _deflate(TEXT, 15), 1, id="deflate-zlib-byte-by-byte"),
        pytest.param("deflate", _deflate(TEXT, -15), 1 << 20, id="deflate-raw"),
        pytest.param("Deflate , GZIP", _deflate(_deflate(TEXT, 15), 31), 7, id="stacked"),
        pytest.param("gzip", _deflate(TEXT, 31) + b"trailing junk", 5000, id="trailing-bytes"),
        pytest.param("gzip", _deflate(TEXT[:9], 31) + _deflate(TEXT[9:], 31), 5000, id="members"),
        pytest.param(
            "gzip", _deflate(TEXT[:9], 31) + _deflate(TEXT[9:], 31), 1, id="members-byte-by-byte"
        ),
        pytest.param(
            "gzip",
            b"".join(_deflate(TEXT[i : i + 4096], 31) for i in range(0, len(TEXT), 4096)),
            1 << 20,
            id="many-members-in-one-read",
        ),
        pytest.param(None, TEXT, 5000, id="none"),
        pytest.param("identity", TEXT, 5000, id="identity"),
    ],
)
def test_decoded_undoes_the_encoding(encoding: str | None, body: bytes, split: int) -> None:
    pieces = [body[i : i + split] for i in range(0, len(body), split)]
    out = list(decoded(pieces, encoding))
    assert b"".join(out) == TEXT
    assert max(len(piece) for piece in out) <= PIECE


@pytest.mark.parametrize(
    ("encoding", "named"),
    [("br", "br"), ("zstd", "zstd"), ("gzip, BR", "br"), ("compress", "compress")],
)
def test_an_unasked_encoding_is_refused_by_name(encoding: str, named: str) -> None:
    with pytest.raises(UnaskedCoding, match=f"encoded as {named}, which poster did not ask for"):
        decoded([b"\x8b\x00", b"raw"], encoding)


def test_an_unasked_encoding_is_left_as_it_is_when_not_strict() -> None:
    assert b"".join(decoded([b"\x8b\x00", b"raw"], "br", strict=False)) == b"\x8b\x00raw"


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        pytest.param("gzip", _deflate(TEXT, 31)[:-1], id="gzip-without-its-last-byte"),
        pytest.param("gzip", _deflate(TEXT, 31)[:100], id="gzip-cut-early"),
        pytest.param("gzip", b"\x1f", id="gzip-one-byte"),
        pytest.param("gzip", _deflate(b"a", 31) + _deflate(TEXT, 31)[:50], id="second-member-cut"),
        pytest.param("deflate", _deflate(TEXT, 15)[:-2], id="deflate-zlib-cut"),
        pytest.param("deflate", _deflate(TEXT, -15)[:500], id="deflate-raw-cut"),
    ],
)
def test_a_stream_cut_short_is_a_body_cut_short(encoding: str, body: bytes) -> None:
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
    with pytest.raises(httpx.RemoteProtocolError, match="cut short"):
        b"".join(decoded(pieces, encoding))


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_corrupt_body_is_a_decoding_error(encoding: str) -> None:
    with pytest.raises(httpx.DecodingError):
        b"".join(decoded([b"\x1f\x8b\x08\x00 this is not gzip"], encoding))


def test_a_connection_opened_close_to_its_deadline_gives_later_waits_the_whole_timeout() -> None:
    # The connect waits no longer than the deadline leaves; a TLS handshake after it must not
    # inherit that wait, or its own timeout would race the watchdog and name the wrong limit.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        conn = Connection("127.0.0.1", listener.getsockname()[1], timeout=5.0)
        conn.addresses = (ipaddress.ip_address("127.0.0.1"),)
        conn.deadline = time.monotonic() + 0.3
        try:
            conn.connect()
            assert conn.sock.gettimeout() == 5.0
        finally:
            conn.unguard()
            conn.close()
