"""Test the http.client transport against real servers on 127.0.0.1: keep-alive, errors, TLS."""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from poster.fetch.addresses import AddressPolicy
from poster.fetch.apicall import api_client
from poster.fetch.feed import make_client
from poster.fetch.transport import StdlibTransport, tls_context

BODY = bytes(range(256)) * 20
BIG = b"z" * (1 << 20)
ETAG = '"v1"'
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class Origin(ThreadingHTTPServer):
    """Serve the routes below on a free port, counting the connections it accepts and closes."""

    daemon_threads = False  # so that server_close() joins every connection's thread

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.tls = tls
        self.accepted = 0
        self.closed = 0
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def get_request(self) -> tuple[Any, Any]:
        """Accept a connection, count it and wrap it in TLS (handshake in the handler thread)."""
        sock, peer = super().get_request()
        # Headers and body leave in two writes; without this Nagle holds the body for an ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.accepted += 1
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, peer

    def shutdown_request(self, request: Any) -> None:
        """Close a connection and count it."""
        super().shutdown_request(request)
        with self.lock:
            self.closed += 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up or fail the TLS handshake."""

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """Return the URL of ``path`` on this server."""
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.server_address[1]}{path}"

    def wait_closed(self, count: int) -> int:
        """Wait up to 2 s for ``count`` closed connections and return how many there are."""
        deadline = time.monotonic() + 2
        while self.closed < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.closed


class Handler(BaseHTTPRequestHandler):
    """Answer by path; one instance serves one connection."""

    protocol_version = "HTTP/1.1"
    timeout = 5
    server: Origin

    def setup(self) -> None:
        if self.server.tls is not None:
            self.request.do_handshake()
        super().setup()
        self.served = 0

    def do_GET(self) -> None:
        self.served += 1
        with self.server.lock:
            self.server.seen.append((self.command, self.path))
        ROUTES.get(self.path, not_found)(self)

    do_POST = do_GET
    do_CONNECT = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


def answer(
    handler: Handler, status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> None:
    """Send a response with a Content-Length (none for 304)."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if status != 304 and "Content-Length" not in (headers or {}):
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def conditional(handler: Handler) -> None:
    """Answer If-None-Match with 304 (RFC 9110 §13.1.2)."""
    if handler.headers.get("If-None-Match") == ETAG:
        answer(handler, 304, headers={"ETag": ETAG})
    else:
        answer(handler, 200, BODY, {"ETag": ETAG})


def chunked(handler: Handler) -> None:
    """Send BODY in 1000-byte chunks (RFC 9112 §7.1)."""
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for start in range(0, len(BODY), 1000):
        piece = BODY[start : start + 1000]
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
    handler.wfile.write(b"0\r\n\r\n")


def says_close_but_stays(handler: Handler) -> None:
    """Announce Connection: close yet keep reading, so only the client can honour it."""
    answer(handler, 200, BODY, {"Connection": "close"})
    handler.close_connection = False


def hangs_up(handler: Handler) -> None:
    """Answer as if keeping the connection, then close it."""
    answer(handler, 200, BODY)
    handler.close_connection = True


def cuts_short(handler: Handler) -> None:
    """Promise more body than is sent, then close."""
    answer(handler, 200, BODY, {"Content-Length": str(len(BODY) + 10)})
    handler.close_connection = True


def drops_second(handler: Handler) -> None:
    """Answer the first request of a connection; close on the next without an answer."""
    handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
    if handler.served > 1:
        handler.close_connection = True
        return
    answer(handler, 200, BODY)


def slow(handler: Handler) -> None:
    """Answer after the client gave up, or at once when the server stops."""
    handler.server.stopping.wait(2)
    answer(handler, 200, BODY)


def echo(handler: Handler) -> None:
    """Send back the request body, de-chunking it when needed."""
    if handler.headers.get("Transfer-Encoding") == "chunked":
        body = b""
        while size := int(handler.rfile.readline(), 16):
            body += handler.rfile.read(size + 2)[:-2]
        handler.rfile.readline()
    else:
        body = handler.rfile.read(int(handler.headers["Content-Length"]))
    answer(handler, 200, body)


def not_found(handler: Handler) -> None:
    """Refuse unknown paths, CONNECT among them."""
    answer(handler, 403 if handler.command == "CONNECT" else 404)


ROUTES: dict[str, Callable[[Handler], None]] = {
    "/body": lambda handler: answer(handler, 200, BODY, {"Content-Type": "text/plain"}),
    "/etag": conditional,
    "/chunked": chunked,
    "/gzip": lambda handler: answer(
        handler, 200, gzip.compress(BODY), {"Content-Encoding": "gzip"}
    ),
    "/big": lambda handler: answer(handler, 200, BIG),
    "/close": says_close_but_stays,
    "/hangup": hangs_up,
    "/short": cuts_short,
    "/drop": drops_second,
    "/slow": slow,
    "/echo": echo,
}


@pytest.fixture
def origin() -> Iterator[Origin]:
    """Run an Origin in a thread for one test."""
    with serving(Origin()) as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """Yield an httpx client over a fresh StdlibTransport."""
    with httpx.Client(transport=StdlibTransport(), timeout=5) as http:
        yield http


@contextmanager
def serving(server: Origin) -> Iterator[Origin]:
    """Serve in a thread; afterwards wake slow answers, stop, and join every handler thread."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


# --- keep-alive ----------------------------------------------------------------------------------


def test_200_with_body(origin: Origin, client: httpx.Client) -> None:
    response = client.get(origin.url("/body"))
    assert (response.status_code, response.content) == (200, BODY)
    assert response.headers["content-type"] == "text/plain"
    assert (response.http_version, response.reason_phrase) == ("HTTP/1.1", "OK")


def test_304_leaves_the_connection_for_the_next_request(
    origin: Origin, client: httpx.Client
) -> None:
    first = client.get(origin.url("/etag"))
    second = client.get(origin.url("/etag"), headers={"If-None-Match": ETAG})
    third = client.get(origin.url("/body"))
    assert [first.status_code, second.status_code, third.status_code] == [200, 304, 200]
    assert (second.content, second.headers["etag"]) == (b"", ETAG)
    assert origin.accepted == 1


def test_chunked_body_is_joined_and_the_connection_reused(
    origin: Origin, client: httpx.Client
) -> None:
    response = client.get(origin.url("/chunked"))
    assert (response.content, response.headers["transfer-encoding"]) == (BODY, "chunked")
    assert client.get(origin.url("/body")).content == BODY
    assert origin.accepted == 1


def test_gzip_arrives_raw_and_httpx_decodes_it(origin: Origin, client: httpx.Client) -> None:
    response = client.get(origin.url("/gzip"))
    assert response.content == BODY
    assert response.num_bytes_downloaded == len(gzip.compress(BODY))


def test_connection_close_is_honoured(origin: Origin, client: httpx.Client) -> None:
    for _ in range(2):
        assert client.get(origin.url("/close")).content == BODY
    assert origin.accepted == 2


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_server_closing_an_idle_connection_is_survived(
    origin: Origin, client: httpx.Client, method: str
) -> None:
    assert client.get(origin.url("/hangup")).content == BODY
    assert origin.wait_closed(1) == 1
    # Even a request that is never repeated goes out on a fresh connection.
    assert client.request(method, origin.url("/echo"), content=b"{}").content == b"{}"
    assert origin.accepted == 2


@pytest.mark.parametrize(
    ("options", "connections"),
    [({}, 1), ({"keepalive_expiry": 0.0}, 2), ({"max_idle_per_host": 0}, 2)],
    ids=["reused", "expired", "no-idle-slots"],
)
def test_pool_limits(origin: Origin, options: dict[str, float], connections: int) -> None:
    with httpx.Client(transport=StdlibTransport(**options)) as http:  # type: ignore[arg-type]
        for _ in range(2):
            assert http.get(origin.url("/body")).content == BODY
    assert origin.accepted == connections


@pytest.mark.parametrize(
    ("method", "retried"), [("GET", True), ("POST", False)], ids=["get-retried", "post-not"]
)
def test_a_pooled_connection_closed_under_a_request(
    origin: Origin, client: httpx.Client, method: str, retried: bool
) -> None:
    assert client.request(method, origin.url("/drop"), content=b"{}").content == BODY
    if retried:
        assert client.request(method, origin.url("/drop"), content=b"{}").content == BODY
        assert origin.accepted == 2
    else:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            client.request(method, origin.url("/drop"), content=b"{}")
        assert origin.accepted == 1


def test_unread_body_does_not_return_its_connection(origin: Origin, client: httpx.Client) -> None:
    with client.stream("GET", origin.url("/big")) as response:
        first = next(response.iter_raw())
    assert 0 < len(first) < len(BIG)
    assert origin.wait_closed(1) == 1
    assert client.get(origin.url("/body")).content == BODY
    assert origin.accepted == 2


def test_body_cut_short_is_a_protocol_error(origin: Origin, client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="before the end of the body"):
        client.get(origin.url("/short"))


def test_connection_in_use_at_close_is_not_pooled(origin: Origin) -> None:
    transport = StdlibTransport()
    with httpx.Client(transport=transport) as http:
        with http.stream("GET", origin.url("/body")) as got:
            transport.close()
            assert got.read() == BODY
        assert origin.wait_closed(1) == 1


def test_concurrent_requests_share_the_pool(origin: Origin, client: httpx.Client) -> None:
    with ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(lambda _: client.get(origin.url("/body")).content, range(100)))
    assert bodies == [BODY] * 100
    assert 1 <= origin.accepted <= 4


def test_close_closes_idle_connections(origin: Origin) -> None:
    transport = StdlibTransport()
    with httpx.Client(transport=transport) as http, ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: http.get(origin.url("/body")), range(20)))
        assert origin.closed == 0
    assert origin.wait_closed(origin.accepted) == origin.accepted


@pytest.mark.parametrize(
    "content",
    [b'{"text": "hi"}', iter([b'{"text": ', b'"hi"}'])],
    ids=["bytes", "chunked-stream"],
)
def test_request_body_is_sent(origin: Origin, client: httpx.Client, content: Any) -> None:
    assert client.post(origin.url("/echo"), content=content).content == b'{"text": "hi"}'


# --- errors -------------------------------------------------------------------------------------


def test_read_timeout(origin: Origin) -> None:
    with (
        httpx.Client(transport=StdlibTransport(), timeout=0.2) as http,
        pytest.raises(httpx.ReadTimeout) as caught,
    ):
        http.get(origin.url("/slow"))
    assert caught.value.request.url == origin.url("/slow")


def test_connection_refused(client: httpx.Client) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/feed.xml"
    with pytest.raises(httpx.ConnectError) as caught:
        client.get(url)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    assert caught.value.request.url == url


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://127.0.0.1/feed", httpx.UnsupportedProtocol),
        ("http:///feed", httpx.UnsupportedProtocol),
    ],
    ids=["ftp", "no-host"],
)
def test_unusable_url(url: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        StdlibTransport().handle_request(httpx.Request("GET", url))


def test_illegal_header_value_is_not_quoted(origin: Origin, client: httpx.Client) -> None:
    with pytest.raises(httpx.LocalProtocolError) as caught:
        client.get(origin.url("/body"), headers={"X-Key": "s3cret\r\nX: y"})
    assert "s3cret" not in str(caught.value)


# --- TLS ----------------------------------------------------------------------------------------


@pytest.fixture
def tls_origin(certificate: Path) -> Iterator[Origin]:
    """Run an Origin behind TLS with the self-signed certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    with serving(Origin(tls=context)) as server:
        yield server


def test_self_signed_certificate_fails_verification(tls_origin: Origin) -> None:
    with (
        httpx.Client(transport=StdlibTransport()) as http,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED") as caught,
    ):
        http.get(tls_origin.url("/body"))
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


def test_a_failed_handshake_is_said_in_words_not_the_tls_librarys_codes(
    origin: Origin, tls_origin: Origin
) -> None:
    from poster.fetch.feed import network_words

    plain = origin.url("/body").replace("http://", "https://")
    with httpx.Client(transport=StdlibTransport()) as http:
        with pytest.raises(httpx.ConnectError) as untrusted:
            http.get(tls_origin.url("/body"))
        with pytest.raises(httpx.ConnectError) as not_tls:
            http.get(plain)
    said = network_words(untrusted.value)
    assert said.startswith("its TLS certificate is not trusted (self-signed certificate")
    assert "_ssl.c" not in said and "[SSL:" not in said
    assert network_words(not_tls.value).startswith("it does not speak TLS there")
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    assert network_words(refused) == "Connection refused"


def test_the_api_client_reads_certificates_only_for_https(
    origin: Origin, tls_origin: Origin, tls_contexts_built: list[dict[str, object]]
) -> None:
    contexts = tls_contexts_built
    with api_client() as http:
        assert http.post(origin.url("/echo"), content=b"x" * 10).status_code == 200
        assert contexts == []
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            http.get(tls_origin.url("/body"))
    assert len(contexts) == 1


@pytest.mark.parametrize(
    ("host", "passes"), [("127.0.0.1", True), ("localhost", False)], ids=["ip-san", "wrong-name"]
)
def test_trusted_certificate_and_hostname_check(
    tls_origin: Origin, certificate: Path, host: str, passes: bool
) -> None:
    trusting = ssl.create_default_context(cafile=certificate / "cert.pem")
    with httpx.Client(transport=StdlibTransport(ssl_context=trusting)) as http:
        if passes:
            assert http.get(tls_origin.url("/body", host)).content == BODY
            assert http.get(tls_origin.url("/body", host)).content == BODY
            assert tls_origin.accepted == 1
        else:
            with pytest.raises(httpx.ConnectError, match="match"):
                http.get(tls_origin.url("/body", host))


def test_tls_checks_the_name_asked_for_not_the_address_connected_to(
    tls_origin: Origin, certificate: Path
) -> None:
    # The certificate names only 127.0.0.1; a name resolving there must still fail the check.
    names: list[str | None] = []
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    server_context.sni_callback = lambda sock, name, context: names.append(name)
    tls_origin.tls = server_context
    trusting = ssl.create_default_context(cafile=certificate / "cert.pem")
    policy = AddressPolicy(resolve=lambda host, port: ["127.0.0.1"])
    transport = StdlibTransport(ssl_context=trusting, policy=policy)
    with (
        httpx.Client(transport=transport) as http,
        pytest.raises(httpx.ConnectError, match=r"not valid for 'feed\.test'"),
    ):
        http.get(tls_origin.url("/body", "feed.test"))
    assert names == ["feed.test"]


def test_ssl_cert_file_is_trusted_like_httpx_does(
    tls_origin: Origin, certificate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate / "cert.pem"))
    assert tls_context().verify_mode == ssl.CERT_REQUIRED
    with httpx.Client(transport=StdlibTransport()) as http:
        assert http.get(tls_origin.url("/body")).content == BODY


# --- make_client and proxies ---------------------------------------------------------------------


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear the proxy variables in either case."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.mark.usefixtures("no_proxy_env")
def test_make_client_uses_the_stdlib_transport_by_default(origin: Origin) -> None:
    with make_client() as http:
        assert isinstance(http.transport, StdlibTransport)
        response = http.send(http.request(httpx.URL(origin.url("/body")), httpx.Headers()))
        assert response.read() == BODY
        response.close()


@pytest.mark.usefixtures("no_proxy_env")
def test_httpx_ignores_env_proxies_when_given_a_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    # This is why make_client sends through an httpx.Client when a proxy is configured.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with httpx.Client(transport=StdlibTransport()) as http:
        assert http._mounts == {}


@pytest.mark.usefixtures("no_proxy_env")
@pytest.mark.parametrize(
    ("variable", "url", "seen"),
    [
        ("HTTP_PROXY", "http://feeds.invalid/feed.xml", ("GET", "http://feeds.invalid/feed.xml")),
        ("HTTPS_PROXY", "https://feeds.invalid/feed.xml", ("CONNECT", "feeds.invalid:443")),
    ],
    ids=["http", "https"],
)
def test_make_client_keeps_env_proxies(
    origin: Origin, monkeypatch: pytest.MonkeyPatch, variable: str, url: str, seen: tuple[str, str]
) -> None:
    monkeypatch.setenv(variable, origin.url(""))
    with make_client() as http:
        assert not isinstance(http.transport, StdlibTransport)
        request = http.request(httpx.URL(url), httpx.Headers())
        with contextlib.suppress(httpx.ProxyError):
            http.send(request).close()
    assert origin.seen == [seen]


def test_a_stop_cuts_off_watched_sockets_and_each_watched_after_until_resumed() -> None:
    from poster.fetch.watchdog import Watchdog

    watchdog = Watchdog()
    far = time.monotonic() + 60
    first, peer = socket.socketpair()
    later, other = socket.socketpair()
    with first, peer, later, other:
        watched = watchdog.watch(first, far)
        assert watchdog.end_all() == 1 and watchdog.ending
        assert watched.expired and first.recv(1) == b""  # shut down: a blocked read returns
        assert watchdog.watch(later, far).expired and later.recv(1) == b""
        watchdog.resume()
        with socket.socket() as fresh:
            kept = watchdog.watch(fresh, far)
            assert not kept.expired and not watchdog.ending
            watchdog.release(kept)
