"""Destination API calls: straight through the transport, or through httpx, alike on the wire."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from poster.fetch.apicall import ApiAnswer, ApiClient, api_client, call

TIMEOUT = httpx.Timeout(5.0)
HEADERS = {"Authorization": "Basic a2V5", "Content-Type": "application/json"}
ANSWER = json.dumps({"message_id": 7}).encode()


class Seen:
    """What the server received: one (request line, fields, body) per request, and connections."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[tuple[str, str]], bytes]] = []
        self.connections = 0


class Handler(BaseHTTPRequestHandler):
    """Answer each route as a gateway might, recording what was asked."""

    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.seen.connections += 1

    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        fields = [(name.lower(), value) for name, value in self.headers.items()]
        self.server.seen.requests.append((self.requestline, fields, body))
        route = self.path.split("?")[0]
        if route == "/drop":
            self.close_connection = True
            return
        data, extra = ANSWER, [("Retry-After", "3")]
        if route == "/gzip":
            data, extra = gzip.compress(ANSWER), [("Content-Encoding", "gzip")]
        elif route == "/big":
            data = b" " * 5000
        elif route == "/brotli":
            extra = [("Content-Encoding", "br")]  # what nobody asked for is left as it came
        elif route == "/members":
            data, extra = gzip.compress(b"") * 300, [("Content-Encoding", "gzip")]
        self.send_response(429 if route == "/busy" else 200)
        for name, value in [("Content-Type", "application/json"), *extra]:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """Date every answer alike, so that two answers a second apart still compare equal."""
        return "Mon, 02 Mar 2026 08:00:00 GMT"

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


class Server(ThreadingHTTPServer):
    """A local server that keeps what it saw."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen = Seen()

    def url(self, path: str) -> str:
        """Return the URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    """Serve on a free port for one test."""
    running = Server()
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def post(client: httpx.Client, url: str, content: bytes | None = b'{"a":1}') -> ApiAnswer:
    """Make one call with the usual headers and a small cap."""
    return call(client, "POST", url, headers=HEADERS, content=content, timeout=TIMEOUT, limit=4096)


@pytest.mark.parametrize("path", ["/json?token=t%20k", "/gzip", "/busy", "/big", "/brotli"])
def test_both_ways_send_the_same_request_and_read_the_same_answer(
    server: Server, path: str
) -> None:
    with api_client() as direct, httpx.Client() as plain:
        answers = [post(direct, server.url(path)), post(plain, server.url(path))]
    assert answers[0] == answers[1]
    first, second = server.seen.requests
    assert first == second
    assert first[2] == b'{"a":1}' and ("authorization", "Basic a2V5") in first[1]
    got = answers[0]
    assert got.body == (None if path == "/big" else ANSWER)
    assert got.header("content-type") == "application/json"


def test_a_body_that_inflates_to_nothing_still_counts_against_the_cap(server: Server) -> None:
    # 6000 bytes of empty gzip members: nothing decoded, yet more read than the cap allows.
    with api_client() as direct:
        assert post(direct, server.url("/members")).body is None


def test_a_call_without_a_body_sends_no_length(server: Server) -> None:
    with api_client() as direct, httpx.Client() as plain:
        for client in (direct, plain):
            call(client, "GET", server.url("/json?a=1"), headers={}, content=None,
                 timeout=TIMEOUT, limit=100)  # fmt: skip
    first, second = server.seen.requests
    assert first == second and first[0] == "GET /json?a=1 HTTP/1.1"
    assert "content-length" not in dict(first[1])


def test_calls_share_one_kept_alive_connection_until_an_answer_is_cut_short(
    server: Server,
) -> None:
    with api_client() as direct:
        assert isinstance(direct, ApiClient)
        for _ in range(3):
            assert post(direct, server.url("/json")).body == ANSWER
        assert server.seen.connections == 1
        assert post(direct, server.url("/big")).body is None
        assert post(direct, server.url("/json")).body == ANSWER
    # The answer over the cap was left unread, so its connection could not serve again.
    assert server.seen.connections == 2


def test_a_dropped_answer_raises_httpx_s_error_both_ways(server: Server) -> None:
    with api_client() as direct, httpx.Client() as plain:
        for client in (direct, plain):
            with pytest.raises(httpx.RemoteProtocolError):
                post(client, server.url("/drop"))


@pytest.mark.parametrize(("replayable", "sent"), [(True, 2), (False, 1)])
def test_a_get_that_sends_is_never_repeated_after_a_reused_connection_closes(
    server: Server, replayable: bool, sent: int
) -> None:
    with api_client() as direct:
        call(direct, "GET", server.url("/json"), headers={}, content=None, timeout=TIMEOUT,
             limit=100)  # fmt: skip
        with pytest.raises(httpx.RemoteProtocolError):
            call(direct, "GET", server.url("/drop?to=1"), headers={}, content=None,
                 timeout=TIMEOUT, limit=100, replayable=replayable)  # fmt: skip
    drops = [line for line, _, _ in server.seen.requests if line.startswith("GET /drop")]
    assert len(drops) == sent


def test_an_unreachable_host_raises_connect_error_both_ways() -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    with api_client() as direct, httpx.Client() as plain:
        for client in (direct, plain):
            with pytest.raises(httpx.ConnectError):
                post(client, f"http://127.0.0.1:{port}/json")


@pytest.mark.parametrize(
    ("url", "error"),
    [("ftp://127.0.0.1/x", httpx.UnsupportedProtocol), ("no-scheme/x", httpx.UnsupportedProtocol),
     ("http://[::1/x", httpx.InvalidURL)],
    ids=["scheme", "relative", "malformed"],
)  # fmt: skip
def test_a_bad_url_raises_the_same_error_both_ways(url: str, error: type[Exception]) -> None:
    with api_client() as direct, httpx.Client() as plain:
        for client in (direct, plain):
            with pytest.raises(error):
                post(client, url)


def test_an_illegal_header_is_refused_without_quoting_it(server: Server) -> None:
    with api_client() as direct:
        for _ in range(2):  # the second time the head would come from the cache of built ones
            with pytest.raises(httpx.LocalProtocolError) as caught:
                call(direct, "POST", server.url("/json"), headers={"X-Key": "s3cret\r\nX: y"},
                     content=b"{}", timeout=TIMEOUT, limit=100)  # fmt: skip
            assert "s3cret" not in str(caught.value)
        assert post(direct, server.url("/json")).body == ANSWER
    assert len(server.seen.requests) == 1
