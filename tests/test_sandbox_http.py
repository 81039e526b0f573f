"""Check how the sandbox's HTTP server reads a request's header fields, in bytes and on the wire."""

from __future__ import annotations

import http.client
import io
import socket

import pytest

from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.fetch.exchange import HEADERS_MAX, LINE_MAX_BYTES
from poster.sandbox.httpio import read_fields

FIELDS = {
    "plain": (b"Host: a\r\nContent-Length: 2\r\n\r\n", [("Host", "a"), ("Content-Length", "2")]),
    "whitespace around values": (b"K:  v  \r\nL:\tw\r\n\r\n", [("K", "v"), ("L", "w")]),
    "repeated, first wins": (b"A: 1\r\na: 2\r\n\r\n", [("A", "1"), ("a", "2")]),
    "folded": (b"X-A: 1\r\n  two\r\n\tthree\r\n\r\n", [("X-A", "1 two three")]),
    "folded from empty": (b"Connection:\r\n close\r\n\r\n", [("Connection", "close")]),
    "not a field": (b"Host: a\r\nnocolon\r\nX-B: 2\r\n\r\n", [("Host", "a"), ("X-B", "2")]),
    "fold before any field": (b" lost: 1\r\nHost: a\r\n\r\n", [("Host", "a")]),
    "bare LF": (b"Host: a\nX: b\n\n", [("Host", "a"), ("X", "b")]),
    "latin-1": (b"N: caf\xe9\r\n\r\n", [("N", "café")]),
}


@pytest.mark.parametrize(("block", "expected"), FIELDS.values(), ids=FIELDS.keys())
def test_fields_are_read_as_rfc_9112_writes_them(
    block: bytes, expected: list[tuple[str, str]]
) -> None:
    stream = io.BytesIO(block + b"body")
    fields = read_fields(stream)
    assert list(fields.items()) == expected
    assert fields.get(expected[0][0].lower()) == expected[0][1]
    assert fields[expected[0][0].upper()] == expected[0][1] and expected[0][0].upper() in fields
    assert fields.get("Missing", "none") == "none"
    assert stream.read() == b"body"


def test_the_blank_line_ends_the_fields_and_the_body_stays_unread() -> None:
    stream = io.BytesIO(b"Content-Length: 4\r\n\r\nX: not a field\r\n")
    assert list(read_fields(stream).items()) == [("Content-Length", "4")]
    assert stream.read() == b"X: not a field\r\n"
    assert list(read_fields(io.BytesIO(b"Host: a\r\n")).items()) == [("Host", "a")]


def test_http_clients_limits_hold() -> None:
    long_line = b"X: " + b"a" * LINE_MAX_BYTES + b"\r\n\r\n"
    with pytest.raises(http.client.LineTooLong):
        read_fields(io.BytesIO(long_line))
    many = b"".join(b"X-%d: 1\r\n" % n for n in range(HEADERS_MAX + 1)) + b"\r\n"
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        read_fields(io.BytesIO(many))
    most = b"".join(b"X-%d: 1\r\n" % n for n in range(HEADERS_MAX)) + b"\r\n"
    assert len(read_fields(io.BytesIO(most))) == HEADERS_MAX


def exchange(fake: FakeDecisionTelecom, request: bytes) -> bytes:
    """Send raw bytes to the fake on a new connection and return all it answers until it closes."""
    host, port = fake.base_url.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_server_reads_folded_fields_and_honours_connection_and_expect() -> None:
    request = (
        b"GET /fake/messages HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Connection:\r\n close\r\n\r\n"
    )
    with FakeDecisionTelecom() as fake:
        answer = exchange(fake, request)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"\r\n\r\n[]")


def test_too_many_fields_get_431_and_a_bad_version_505_or_400() -> None:
    many = b"".join(b"X-%d: 1\r\n" % n for n in range(HEADERS_MAX + 1))
    with FakeDecisionTelecom() as fake:
        fields = exchange(fake, b"GET /fake/messages HTTP/1.1\r\n" + many + b"\r\n")
        line = exchange(fake, b"GET /fake/messages HTTP/9.9\r\n\r\n")
        version = exchange(fake, b"GET /fake/messages HTTP/x\r\n\r\n")
    assert fields.startswith(b"HTTP/1.1 431 ")
    # Without a version it can read, the base class answers as HTTP/0.9 does: no status line.
    assert b"Error code: 505" in line
    assert b"Error code: 400" in version


def test_http_1_0_closes_unless_kept_alive_and_1_1_stays_open_until_asked() -> None:
    second = b"GET //fake/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with FakeDecisionTelecom() as fake:
        plain = exchange(fake, b"GET /fake/messages HTTP/1.0\r\n\r\n" + second)
        kept = exchange(
            fake, b"GET /fake/messages HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + second
        )
        both = exchange(fake, b"GET /fake/messages HTTP/1.1\r\nHost: x\r\n\r\n" + second)
    assert plain.count(b" 200 OK\r\n") == 1
    assert kept.count(b" 200 OK\r\n") == 2
    assert both.count(b" 200 OK\r\n") == 2


def test_json_nested_past_pythons_depth_gets_400_and_prints_nothing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    body = b"[" * 60000
    request = (
        b"POST /v1/api/send-viber HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: Basic ZmFrZS1hY2Nlc3Mta2V5\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    ) + body
    with FakeDecisionTelecom() as fake:
        answer = exchange(fake, request)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Server: poster-sandbox\r\n" in answer
    assert capfd.readouterr().err == ""
