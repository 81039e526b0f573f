"""Test the daemon's listener under abuse: resets, bad requests, deep JSON, bursts, headers."""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from poster.daemon import httpserver
from poster.daemon.httpserver import NOISE_BURST, Noise
from poster.daemon.listener import WebhookReceiver, signature

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """Run a receiver with /healthz on a free port of 127.0.0.1."""
    with WebhookReceiver(TOKEN, port=0) as running:
        running.add_route("/healthz", lambda: (200, "text/plain", b"ok\n"))
        yield running


def exchange(receiver: WebhookReceiver, request: bytes) -> bytes:
    """Send ``request`` on a new connection and return everything the server sends back."""
    with socket.create_connection((receiver.host, receiver.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def reset(receiver: WebhookReceiver) -> None:
    """Connect, start a request, and reset the connection (SO_LINGER 0) before it is whole."""
    sock = socket.create_connection((receiver.host, receiver.port), timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def wait_for(condition: object, what: str) -> None:
    """Wait up to 5 s for ``condition()`` to hold."""
    give_up = time.monotonic() + 5
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < give_up, what
        time.sleep(0.01)


def test_resets_are_a_few_debug_lines_and_no_traceback(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="poster.daemon.listener")
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda _: reset(receiver), range(50)))
    noise = receiver._server.noise  # type: ignore[union-attr]
    wait_for(lambda: noise.seen == 50, "every reset noted")
    records = [r for r in caplog.records if r.name == "poster.daemon.listener"]
    noisy = [r for r in records if "webhook_noise" in r.getMessage()]
    assert len(noisy) == NOISE_BURST
    assert all(r.levelno == logging.DEBUG and r.exc_info is None for r in noisy)
    assert "Traceback" not in capfd.readouterr().err
    assert exchange(receiver, b"GET /healthz HTTP/1.0\r\n\r\n").endswith(b"ok\n")


def test_a_bad_request_is_answered_and_noted_at_debug(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="poster.daemon.listener")
    answer = exchange(receiver, b"GET /healthz HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n")
    assert answer.startswith(b"HTTP/1.0 431 ")
    errors = [r for r in caplog.records if r.levelno > logging.DEBUG]
    assert errors == []
    assert [r.getMessage() for r in caplog.records if "webhook_noise" in r.getMessage()] == [
        "event=webhook_noise client=127.0.0.1 reason=code_431,_message_Too_many_headers"
    ]


def test_noise_is_limited_per_window_and_the_rest_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="poster.daemon.listener")
    now = [0.0]
    noise = Noise(burst=3, window=10.0, clock=lambda: now[0])
    for _ in range(5):
        noise.note("10.0.0.1", "ConnectionResetError")
    now[0] = 10.0
    noise.note("10.0.0.1", "ConnectionResetError")
    assert [r.getMessage() for r in caplog.records] == [
        *["event=webhook_noise client=10.0.0.1 reason=ConnectionResetError"] * 3,
        "event=webhook_noise_dropped count=2",
        "event=webhook_noise client=10.0.0.1 reason=ConnectionResetError",
    ]


def test_deeply_nested_json_with_a_valid_signature_gets_400(receiver: WebhookReceiver) -> None:
    body = b"[" * 30000 + b"]" * 30000
    request = (
        f"POST {receiver.path} HTTP/1.0\r\nContent-Length: {len(body)}\r\n"
        f"X-Viber-Content-Signature: {signature(body, TOKEN)}\r\n\r\n"
    ).encode() + body
    assert exchange(receiver, request).startswith(b"HTTP/1.0 400 ")
    assert receiver.events == []


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GET /healthz HTTP/1.0\r\n\r\n", id="route"),
        pytest.param(b"GET /nowhere HTTP/1.0\r\n\r\n", id="not-found"),
        pytest.param(b"BREW / HTTP/1.0\r\n\r\n", id="unsupported-method"),
    ],
)
def test_the_server_header_names_only_poster(
    receiver: WebhookReceiver, request_bytes: bytes
) -> None:
    head = exchange(receiver, request_bytes).split(b"\r\n\r\n")[0].split(b"\r\n")
    assert [line for line in head if line.lower().startswith(b"server:")] == [b"Server: poster"]


def test_a_burst_is_answered_with_bounded_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    active, peak, lock, gate = [0], [0], threading.Lock(), threading.Event()

    def slow() -> tuple[int, str, bytes]:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        gate.wait(5)
        with lock:
            active[0] -= 1
        return 200, "text/plain", b"ok\n"

    with WebhookReceiver(TOKEN, port=0, max_handlers=4) as receiver:
        assert receiver._server.request_queue_size == 128  # type: ignore[union-attr]
        receiver.add_route("/slow", slow)
        with ThreadPoolExecutor(200) as pool:
            answers = pool.map(
                lambda _: exchange(receiver, b"GET /slow HTTP/1.0\r\n\r\n"), range(200)
            )
            wait_for(lambda: active[0] == 4, "four requests in progress")
            gate.set()
            statuses = [answer.split(b" ", 2)[1] for answer in answers]
    assert peak[0] == 4
    assert len(statuses) == 200
    assert set(statuses) <= {b"200", b"503"}


STUCK = b"GET /stuck HTTP/1.0\r\n\r\n"


@contextlib.contextmanager
def one_slot_taken() -> Iterator[tuple[WebhookReceiver, Callable[[], None]]]:
    """Run a receiver of one handler, held by a request to /stuck until the block ends or the
    function given with the receiver lets it answer."""
    gate = threading.Event()
    with WebhookReceiver(TOKEN, port=0, max_handlers=1) as receiver:
        receiver.add_route("/stuck", lambda: (gate.wait(10), (200, "text/plain", b"ok\n"))[1])
        with ThreadPoolExecutor(1) as pool:
            stuck = pool.submit(exchange, receiver, STUCK)
            wait_for(lambda: receiver._server._slots._value == 0, "the one slot taken")  # type: ignore[union-attr]
            try:
                yield receiver, lambda: (gate.set(), stuck.result(timeout=5))
            finally:
                gate.set()
            assert stuck.result().startswith(b"HTTP/1.0 200 ")


def test_a_connection_waiting_too_long_gets_503(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpserver, "BUSY_WAIT", 0.05)
    with one_slot_taken() as (receiver, _):
        busy = exchange(receiver, STUCK)
    assert busy.startswith(b"HTTP/1.1 503 Service Unavailable\r\nServer: poster\r\n")


def test_shut_down_stops_a_serving_loop_without_waiting_out_its_poll() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    address = server.server_address
    # The loop waits an hour for a connection before it looks for a shutdown request.
    loop = threading.Thread(target=server.serve_forever, args=(3600,), daemon=True)
    loop.start()
    stopping = threading.Thread(target=httpserver.shut_down, args=(server,), daemon=True)
    stopping.start()
    stopping.join(10)
    loop.join(10)
    assert not stopping.is_alive() and not loop.is_alive()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5).close()


def test_shut_down_gives_up_on_a_loop_that_never_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpserver, "STOP_WITHIN", 0.2)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    address = server.server_address
    stopping = threading.Thread(target=httpserver.shut_down, args=(server,), daemon=True)
    stopping.start()
    stopping.join(10)
    assert not stopping.is_alive()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5).close()


def drip(receiver: WebhookReceiver, stop: threading.Event) -> float:
    """Send a request head a byte every 50 ms; return the seconds until the server hung up."""
    started = time.monotonic()
    with socket.create_connection((receiver.host, receiver.port), timeout=10) as sock:
        for byte in b"GET /healthz HTTP/1.1\r\n" + b"X-Slow: " + b"a" * 10_000:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            sock.settimeout(0.05)
            try:
                if sock.recv(1) == b"":
                    break
            except TimeoutError:
                pass
            except OSError:
                break
            if stop.is_set():
                break
    return time.monotonic() - started


def test_a_client_sending_a_byte_at_a_time_is_cut_off_at_the_request_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(httpserver, "REQUEST_DEADLINE", 0.5)
    stop = threading.Event()
    with WebhookReceiver(TOKEN, port=0, max_handlers=2) as receiver:
        receiver.add_route("/healthz", lambda: (200, "text/plain", b"ok\n"))
        with ThreadPoolExecutor(2) as pool:
            slow = [pool.submit(drip, receiver, stop) for _ in range(2)]
            try:
                held = [future.result(timeout=5) for future in slow]
            finally:
                stop.set()
        assert all(0.4 < seconds < 3 for seconds in held), held
        answer = exchange(receiver, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 200 ")


def test_connections_queued_behind_a_full_house_get_their_503_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(httpserver, "BUSY_WAIT", 0.3)
    with one_slot_taken() as (receiver, answer_stuck):
        started = time.monotonic()
        busy = [exchange(receiver, STUCK) for _ in range(10)]
        took = time.monotonic() - started
        answer_stuck()
        # The handler frees its slot once its answer is out, a moment after the client has it.
        wait_for(lambda: receiver._server._slots._value == 1, "the slot freed")  # type: ignore[union-attr]
        gate_open = exchange(receiver, b"GET /healthz HTTP/1.0\r\n\r\n")
    # The first waited BUSY_WAIT for the slot; the nine after it were refused at once.
    assert took < 0.3 * 4, took
    assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in busy)
    assert gate_open.startswith(b"HTTP/1.0 404 ")  # a free slot again: handled, not refused


def test_the_access_log_masks_callback_secrets_and_escapes_control_characters(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="poster.daemon.listener")
    receiver.add_callbacks("/websub/", lambda call: (404, "text/plain", b"no\n"), 1024)
    exchange(receiver, b"GET /websub/Sup3rSecretId?hub.challenge=c HTTP/1.0\r\n\r\n")
    exchange(receiver, b"GET /websub/Sup3rSecretId\x00 HTTP/1.0\r\n\r\n")
    exchange(receiver, b"GET /healthz\x1b[31m HTTP/1.0\r\n\r\n")
    assert "Sup3rSecretId" not in caplog.text
    assert "/websub/***" in caplog.text
    assert "\x1b" not in caplog.text and "\x00" not in caplog.text
    assert "\\x1b[31m" in caplog.text


def test_a_post_to_a_callback_no_one_knows_gets_its_answer_its_body_dropped_unkept(
    receiver: WebhookReceiver,
) -> None:
    calls: list[httpserver.Call] = []

    def handler(call: httpserver.Call) -> tuple[int, str, bytes]:
        calls.append(call)
        return 410, "text/plain", b"no such subscription\n"

    receiver.add_callbacks(
        "/websub/", handler, 10 * 1024 * 1024, oversized=True, knows=lambda path: False
    )
    body = b"x" * (5 * 1024 * 1024)
    head = b"POST /websub/unknown HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body)
    # A closed socket with its input unread is reset: the hub would lose the 410 mid-send.
    answer = exchange(receiver, head + body)
    assert answer.startswith(b"HTTP/1.0 410 ")
    chunked = b"POST /websub/gone HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += b"100000\r\n" + b"y" * 0x100000 + b"\r\n0\r\n\r\n"
    assert exchange(receiver, chunked).startswith(b"HTTP/1.0 410 ")
    assert [(call.method, call.body) for call in calls] == [("POST", b""), ("POST", b"")]
