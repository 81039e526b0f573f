"""Test the feed reader's own HTTP/1.1 exchange: the answer's head, the request's, and its cost."""

from __future__ import annotations

import gzip
import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from feedserver import FeedServer

from poster import errors
from poster.config import FeedConfig
from poster.fetch.exchange import Answer, request_head
from poster.fetch.feed import fetch, make_client
from poster.models import Validators
from poster.store import Store


def _answer(raw: bytes, method: str = "GET") -> Answer:
    """Return the answer read from ``raw``, as it arrives on a connection."""
    mine, theirs = socket.socketpair()
    with theirs:
        theirs.sendall(raw)
    answer = Answer(mine, method)
    mine.close()  # the answer's reader keeps the socket open until it is closed
    answer.begin()
    return answer


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        pytest.param(
            b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\nDate: x\r\n\r\n',
            [(b"ETag", b'"a"'), (b"Date", b"x")],
            id="plain",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX-Long: one\r\n two\r\n\tthree\r\nContent-Length: 0\r\n\r\n",
            [(b"X-Long", b"one two three"), (b"Content-Length", b"0")],
            id="folded-lines-join-with-a-space",
        ),
        pytest.param(
            b'HTTP/1.1 304 Not Modified\r\nnot a field\r\nETag: "b"\r\n\r\n',
            [(b"ETag", b'"b"')],
            id="a-line-that-is-no-field-is-dropped",
        ),
        pytest.param(
            b'HTTP/1.1 304 Not Modified\r\nBad Name: 1\r\nETag:   "c"  \r\n\r\n',
            [(b"ETag", b'"c"')],
            id="a-name-with-a-space-is-dropped-and-values-are-trimmed",
        ),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n",
            [],
            id="an-interim-answer-is-skipped",
        ),
        pytest.param(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
            b'HTTP/1.1 304 Not Modified\r\nETag: "d"\r\n\r\n',
            [(b"ETag", b'"d"')],
            id="every-interim-answer-is-skipped",
        ),
    ],
)
def test_the_head_is_read_field_by_field(raw: bytes, fields: list[tuple[bytes, bytes]]) -> None:
    answer = _answer(raw)
    assert answer.fields == fields
    answer.close()


@pytest.mark.parametrize(
    ("raw", "method", "length", "chunked", "closes"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", 5, False, False),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", None, True, False),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
            "GET",
            5,
            False,
            True,
        ),
        (b"HTTP/1.1 200 OK\r\n\r\n", "GET", None, False, True),
        (b"HTTP/1.1 304 Not Modified\r\n\r\n", "GET", 0, False, False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", 0, False, False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", 5, False, True),
        (
            b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n",
            "GET",
            5,
            False,
            False,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\n",
            "GET",
            5,
            False,
            False,
        ),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: abc\r\n\r\n", "GET", 0, False, False),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n",
            "GET",
            None,
            True,
            False,
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", None, False, True),
    ],
    ids=[
        "length",
        "chunked",
        "close",
        "until-close",
        "304",
        "head",
        "1.0",
        "1.0-keep-alive",
        "the-same-length-repeated",
        "no-body-whatever-the-length",
        "transfer-coding-over-length",
        "transfer-coding-not-chunked-until-close",
    ],
)
def test_the_body_is_framed_as_http_client_frames_it(
    raw: bytes, method: str, length: int | None, chunked: bool, closes: bool
) -> None:
    answer = _answer(raw, method)
    assert (answer.length, answer.chunked, answer.will_close) == (length, chunked, closes)
    answer.close()


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", http.client.RemoteDisconnected),
        (b"SPDY/3 200 OK\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 OK\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/2.0 200 OK\r\n\r\n", http.client.UnknownProtocol),
        (b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 101 + b"\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n", http.client.LineTooLong),
        (b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", http.client.HTTPException),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            http.client.HTTPException,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: br, chunked\r\n\r\n", http.client.HTTPException),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            http.client.HTTPException,
        ),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", http.client.HTTPException),
        (b"HTTP/1.1 103 Early Hints\r\n\r\n" * 40, http.client.HTTPException),
    ],
    ids=[
        "nothing",
        "not-http",
        "no-status",
        "http-2",
        "too-many-fields",
        "line-too-long",
        "length-not-a-number",
        "length-negative",
        "length-empty",
        "lengths-differ",
        "length-list-differs",
        "unsupported-transfer-coding",
        "chunked-not-last",
        "switching-protocols",
        "endless-interim-answers",
    ],
)
def test_a_broken_head_is_refused(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        _answer(raw)


@pytest.mark.parametrize(
    ("target", "fields"),
    [
        (b"/a b", []),
        (b"/a\r\nX: y", []),
        (b"/", [(b"X-Token", b"secret\r\nX-Injected: 1")]),
        (b"/", [(b"X Token", b"1")]),
        (b"/", [(b"X-Token", b"a\0b")]),
    ],
    ids=["space-in-target", "newline-in-target", "newline-in-value", "space-in-name", "nul"],
)
def test_a_request_that_would_break_the_framing_is_refused(
    target: bytes, fields: list[tuple[bytes, bytes]]
) -> None:
    with pytest.raises(ValueError) as caught:
        request_head("GET", target, fields)
    assert b"secret" not in str(caught.value).encode()


def test_the_request_head_is_written_in_order() -> None:
    head = request_head("GET", b"/feed?x=1", [(b"Host", b"example.org"), (b"Accept", b"*/*")])
    assert head == b"GET /feed?x=1 HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\n\r\n"


@contextmanager
def _raw_origin(answer: bytes, heads: list[bytes] | None = None) -> Iterator[str]:
    """Answer one request on a free port with ``answer``, byte for byte; yield the URL.

    The request's head, as received, goes to ``heads``.
    """
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            received = b""
            while b"\r\n\r\n" not in received:
                received += conn.recv(4096)
            if heads is not None:
                heads.append(received)
            conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"
    finally:
        thread.join(5)
        listener.close()


def test_a_junk_line_in_the_head_does_not_hide_the_fields_after_it() -> None:
    # The email parser took everything after such a line for a body and lost the validators.
    raw = b'HTTP/1.1 304 Not Modified\r\nServer: x\r\nno colon here\r\nETag: "v2"\r\n\r\n'
    with _raw_origin(raw) as url, make_client() as client:
        result = fetch(FeedConfig(name="f", url=url), client, Validators(etag='"v1"'))
    assert result.status == 304
    assert result.validators.etag == '"v2"'


def test_a_conditional_get_builds_no_httpx_request_or_response(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.keep_alive = True
    feed_server.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, b"<rss/>")
    feed = FeedConfig(name="f", url=feed_server.url("/feed.xml"))
    with make_client() as client:
        first = fetch(feed, client)

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("an httpx object was built")

        monkeypatch.setattr(httpx.Request, "__init__", refuse)
        monkeypatch.setattr(httpx.Response, "__init__", refuse)
        again = fetch(feed, client, first.validators)
    assert (first.status, again.status) == (200, 304)
    assert feed_server.requests[-1].headers["if-none-match"] == first.validators.etag
    assert feed_server.requests[-1].peer == feed_server.requests[-2].peer  # one connection


def test_a_header_value_beyond_ascii_is_sent_as_utf8(feed_server: FeedServer) -> None:
    feed_server.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, b"<rss/>")
    feed = FeedConfig(
        name="f", url=feed_server.url("/feed.xml"), headers=(("X-Owner", "Łódź café"),)
    )
    with make_client() as client:
        assert fetch(feed, client).status == 200
    sent = feed_server.requests[-1].headers["x-owner"]
    assert sent.encode("latin-1").decode("utf-8") == "Łódź café"


SECRETS = (("Authorization", "Bearer t"), ("Cookie", "sid=1"), ("X-Api-Key", "k"))


@pytest.mark.parametrize(
    ("elsewhere", "kept"),
    [(False, ["Bearer t", "sid=1", "k"]), (True, [None, None, "k"])],
    ids=["same-origin", "other-port"],
)
def test_a_real_redirect_keeps_credentials_only_for_their_origin(
    feed_server: FeedServer, elsewhere: bool, kept: list[str | None]
) -> None:
    with FeedServer() as other:
        final = other if elsewhere else feed_server
        final.routes["/new"] = (200, {"Content-Type": "application/rss+xml"}, b"<rss/>")
        feed_server.routes["/old"] = (301, {"Location": final.url("/new")}, b"")
        feed = FeedConfig(name="f", url=feed_server.url("/old"), headers=SECRETS)
        with make_client() as client:
            result = fetch(feed, client, Validators(etag='"v"'))
        sent = final.requests[-1].headers
    assert result.url == final.url("/new")
    assert [sent.get(name.lower()) for name, _ in SECRETS] == kept
    assert sent["host"] == f"127.0.0.1:{final.port}"
    assert "if-none-match" not in sent


RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"


def _chunks(body: bytes, size: int = 10) -> bytes:
    """Return ``body`` in chunks of ``size`` bytes (RFC 9112 §7.1)."""
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def _length(body: bytes) -> bytes:
    """Return a Content-Length field and the end of the head, then ``body``."""
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + OK + _length(RSS),
            id="early-hints-first",
        ),
        pytest.param(
            OK + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + _chunks(gzip.compress(RSS)),
            id="gzip-then-chunked-transfer",
        ),
        pytest.param(
            OK
            + b"Content-Encoding: gzip\r\n"
            + _length(gzip.compress(RSS[:9]) + gzip.compress(RSS[9:])),
            id="gzip-in-two-members",
        ),
        pytest.param(
            OK + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n%s" % (len(RSS), len(RSS), RSS),
            id="the-same-length-twice",
        ),
        pytest.param(OK + b"Content-Encoding: identity\r\n" + _length(RSS), id="identity"),
    ],
)
def test_a_strict_server_answer_is_read_whole(raw: bytes) -> None:
    with _raw_origin(raw) as url, make_client() as client:
        result = fetch(FeedConfig(name="f", url=url), client)
    assert (result.status, result.body) == (200, RSS)


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        pytest.param(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n" + OK + _length(RSS),
            errors.FetchConnectError,
            "101 Switching Protocols without an upgrade asked",
            id="switching-protocols",
        ),
        pytest.param(
            OK + b"Content-Length: abc\r\nConnection: close\r\n\r\n" + RSS,
            errors.FetchConnectError,
            "invalid Content-Length 'abc'",
            id="length-not-a-number",
        ),
        pytest.param(
            OK + b"Content-Length: %d\r\nContent-Length: 9\r\n\r\n%s" % (len(RSS), RSS),
            errors.FetchConnectError,
            "Content-Length values differ",
            id="lengths-differ",
        ),
        pytest.param(
            OK + b"Transfer-Encoding: br, chunked\r\n\r\n" + _chunks(RSS),
            errors.FetchConnectError,
            "unsupported transfer coding br",
            id="unsupported-transfer-coding",
        ),
        pytest.param(
            OK + b"Content-Encoding: gzip\r\nConnection: close\r\n\r\n" + gzip.compress(RSS)[:-3],
            errors.FetchConnectError,
            "the compressed body was cut short before its end",
            id="gzip-cut-short-until-close",
        ),
        pytest.param(
            OK + b"Content-Encoding: br\r\n" + _length(b"\x0b\x02\x80" + RSS),
            errors.FetchError,
            "the server sent a body encoded as br, which poster did not ask for",
            id="brotli",
        ),
        pytest.param(
            OK + b"Content-Encoding: zstd\r\n" + _length(b"\x28\xb5\x2f\xfd" + RSS),
            errors.FetchError,
            "the server sent a body encoded as zstd, which poster did not ask for",
            id="zstd",
        ),
    ],
)
def test_a_faulty_answer_is_a_clear_fetch_error(
    raw: bytes, error: type[errors.FetchError], message: str
) -> None:
    with _raw_origin(raw) as url, make_client() as client, pytest.raises(error) as caught:
        fetch(FeedConfig(name="f", url=url), client)
    assert message in str(caught.value)


def test_a_validator_beyond_ascii_goes_back_byte_for_byte(tmp_path: Path) -> None:
    # An entity tag may hold obs-text (RFC 9110 §8.8.3): 0xE9 is no UTF-8, and is sent back as is.
    etag, modified = b'W/"caf\xe9"', b"Mon, 02 Mar 2026 08:00:00 GMT"
    first = OK + b"ETag: %s\r\nLast-Modified: %s\r\n%s" % (etag, modified, _length(RSS))
    with _raw_origin(first) as url, make_client() as client:
        read = fetch(FeedConfig(name="f", url=url), client)
    assert read.validators.etag == etag.decode("latin-1")
    with Store(tmp_path / "state") as store:
        store.save_validators("f", read.validators)
    with Store(tmp_path / "state") as store:
        kept = store.validators("f")
    assert kept == read.validators
    heads: list[bytes] = []
    with _raw_origin(b"HTTP/1.1 304 Not Modified\r\n\r\n", heads) as url, make_client() as client:
        again = fetch(FeedConfig(name="f", url=url), client, kept)
    assert again.status == 304
    assert b"\r\nIf-None-Match: %s\r\n" % etag in heads[0]
    assert b"\r\nIf-Modified-Since: %s\r\n" % modified in heads[0]
