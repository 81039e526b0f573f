"""Test webhook signatures, the unsigned check call, and the receiver over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from poster.daemon.health import callback_tokens
from poster.daemon.httpserver import DRAIN_MAX, MAX_BODY, NOISE_BURST, Noise
from poster.daemon.listener import EVENTS_KEPT, WebhookReceiver, signature, verify

DATA = Path(__file__).parent / "data" / "viber"
TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
OTHER_TOKEN = "7731bc9f02e5aa14-0c4d5e6f7a8b9c0d-1e2f3a4b5c6d7e8f"

# The test vector of the official Viber Node.js SDK (test/signature-tests.js).
SDK_KEY = "44dafb7e0f40021e-61a47a1e6778d187-f2c5a676a07050b3"
SDK_BODY = b'{"event":"webhook","timestamp":4977069964384421269,"message_token":1478683725125}'
SDK_SIGNATURE = "d21b343448c8aee33b8e93768ef6ceb64a6ba6163099973a2b8bd028fea510ef"


def event_body(token: int = 1478683725125) -> bytes:
    """Return the body of a webhook check call."""
    event = {"event": "webhook", "timestamp": 1457764197627, "message_token": token}
    return json.dumps(event).encode()


@dataclass(frozen=True)
class Holder:
    """Stand in for a destination whose callbacks are signed with ``callback_token``."""

    callback_token: str


def test_signature_matches_the_sdk_vector() -> None:
    assert signature(SDK_BODY, SDK_KEY) == SDK_SIGNATURE
    assert (DATA / "webhook_callback.json").read_bytes() == SDK_BODY


@pytest.mark.parametrize(
    ("body", "key", "provided", "expected"),
    [
        (SDK_BODY, SDK_KEY, SDK_SIGNATURE, True),
        (SDK_BODY, SDK_KEY, SDK_SIGNATURE.upper(), True),
        (SDK_BODY, SDK_KEY, None, False),
        (SDK_BODY, SDK_KEY, "", False),
        (SDK_BODY, SDK_KEY, SDK_SIGNATURE[:-1] + "0", False),
        (SDK_BODY + b" ", SDK_KEY, SDK_SIGNATURE, False),
        (SDK_BODY, SDK_KEY + "x", SDK_SIGNATURE, False),
        (SDK_BODY, SDK_KEY, "ü" * 64, False),
    ],
    ids=["good", "uppercase", "missing", "empty", "one-digit-off", "body-changed",
         "other-key", "non-ascii"],
)  # fmt: skip
def test_verify(body: bytes, key: str, provided: str | None, expected: bool) -> None:
    assert verify(body, key, provided) is expected


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """Run a receiver on a free port of 127.0.0.1."""
    with WebhookReceiver(TOKEN, port=0) as receiver:
        yield receiver


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """Yield an httpx client that is closed after the test."""
    with httpx.Client(timeout=5) as client:
        yield client


def test_url_has_the_bound_port(receiver: WebhookReceiver) -> None:
    assert receiver.port != 0
    assert receiver.url == f"http://127.0.0.1:{receiver.port}/viber/webhook"


def test_good_header_signature_is_accepted(
    receiver: WebhookReceiver, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = event_body()
    response = http.post(
        receiver.url, content=body, headers={"X-Viber-Content-Signature": signature(body, TOKEN)}
    )
    assert response.status_code == 200
    assert response.json() == {}
    assert response.headers["Content-Type"] == "application/json"
    assert receiver.events == [json.loads(body)]
    assert "event=webhook type=webhook message_token=1478683725125" in caplog.text
    assert TOKEN not in caplog.text


def test_good_sig_parameter_is_accepted(receiver: WebhookReceiver, http: httpx.Client) -> None:
    body = event_body()
    response = http.post(receiver.url, content=body, params={"sig": signature(body, TOKEN)})
    assert response.status_code == 200
    assert receiver.events == [json.loads(body)]


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"X-Viber-Content-Signature": "0" * 64}, {}),
        ({"X-Viber-Content-Signature": ""}, {}),
        ({}, {"sig": "deadbeef"}),
        ({"X-Viber-Content-Signature": signature(b"other", TOKEN)}, {}),
        ({"X-Viber-Content-Signature": signature(event_body(), OTHER_TOKEN)}, {}),
    ],
    ids=["bad-header", "empty-header", "bad-param", "signature-of-another-body", "other-token"],
)
def test_a_bad_signature_is_forbidden(
    receiver: WebhookReceiver,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
    params: dict[str, str],
) -> None:
    response = http.post(receiver.url, content=event_body(), headers=headers, params=params)
    assert response.status_code == 403
    assert receiver.events == []
    assert "event=webhook_refused reason=bad_signature client=127.0.0.1" in caplog.text


def test_the_unsigned_check_call_of_the_reference_is_answered_200(
    receiver: WebhookReceiver, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="poster.daemon.listener")
    # "Set webhook callback" shows the check call as a bare JSON POST, with no signature.
    body = b'{"event":"webhook","timestamp":1457764197627,"message_token":241256543215}'
    response = http.post(receiver.url, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert receiver.events == [json.loads(body)]
    assert "message_token=241256543215 timestamp=1457764197627 signed=no" in caplog.text


def test_a_check_call_sent_in_chunks_is_answered_200(
    receiver: WebhookReceiver, http: httpx.Client
) -> None:
    body = b'{"event":"webhook","timestamp":1457764197627,"message_token":241256543215}'
    chunks = iter([body[:20], body[20:]])  # an iterator: httpx sends it chunked
    response = http.post(receiver.url, content=chunks)
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 200
    assert receiver.events == [json.loads(body)]


def test_an_unsigned_check_call_is_kept_by_its_documented_fields_only(
    receiver: WebhookReceiver, http: httpx.Client
) -> None:
    event = {"event": "webhook", "timestamp": 1457764197627, "message_token": "241256543215"}
    extra = {"chat_hostname": "SN-376_", "sender": {"name": "x" * 1000}}
    response = http.post(receiver.url, content=json.dumps({**event, **extra}).encode())
    assert response.status_code == 200
    assert receiver.events == [event]


@pytest.mark.parametrize(
    ("timestamp", "message_token"),
    [(1457764197.627, 241256543215), (1457764197627, "5c7e2f6a-1f0e-4f7b-9a51-0d8f1b2c3d4e")],
    ids=["seconds-with-a-fraction", "id-in-letters"],
)
def test_an_unsigned_check_call_with_another_epoch_time_or_id_is_answered_200(
    receiver: WebhookReceiver, http: httpx.Client, timestamp: float, message_token: object
) -> None:
    event = {"event": "webhook", "timestamp": timestamp, "message_token": message_token}
    assert http.post(receiver.url, content=json.dumps(event).encode()).status_code == 200
    assert receiver.events == [event]


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"event": "message", "timestamp": 1, "message_token": 2}, id="other-event"),
        pytest.param({"event": "subscribed", "timestamp": 1, "message_token": 2}, id="subscribed"),
        pytest.param({"timestamp": 1, "message_token": 2}, id="no-event"),
        pytest.param({"event": "webhook", "message_token": 2}, id="no-timestamp"),
        pytest.param({"event": "webhook", "timestamp": 1}, id="no-message-token"),
        pytest.param({"event": "webhook", "timestamp": True, "message_token": 2}, id="bool"),
        pytest.param({"event": "webhook", "timestamp": -1, "message_token": 2}, id="negative"),
        pytest.param({"event": "webhook", "timestamp": 1, "message_token": "a b"}, id="spaces"),
        pytest.param({"event": "webhook", "timestamp": 1, "message_token": ""}, id="empty"),
        pytest.param({"event": "webhook", "timestamp": 1, "message_token": "x" * 65}, id="long"),
        pytest.param({"event": "webhook", "timestamp": 1, "message_token": [2]}, id="list"),
    ],
)
def test_an_unsigned_call_other_than_the_check_call_is_forbidden(
    receiver: WebhookReceiver,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    event: dict[str, object],
) -> None:
    response = http.post(receiver.url, content=json.dumps(event).encode())
    assert response.status_code == 403
    assert receiver.events == []
    assert "event=webhook_refused reason=unsigned client=127.0.0.1" in caplog.text


def test_a_flood_of_refused_calls_logs_a_few_warnings_then_a_count(
    receiver: WebhookReceiver, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    assert receiver._server is not None
    window = [0.0]
    receiver._server.refusals = Noise(
        event="webhook_refused", level=logging.WARNING, clock=lambda: window[0]
    )
    for _ in range(NOISE_BURST + 40):
        assert http.post(receiver.url, content=b'{"event": "x"}').status_code == 403
    refused = [r for r in caplog.records if "webhook_refused" in r.getMessage()]
    assert len(refused) == NOISE_BURST
    window[0] = 61.0
    assert http.post(receiver.url, content=b'{"event": "x"}').status_code == 403
    lines = [r.getMessage() for r in caplog.records if "webhook_refused" in r.getMessage()]
    assert lines[NOISE_BURST:] == [
        "event=webhook_refused_dropped count=40",
        "event=webhook_refused reason=unsigned client=127.0.0.1",
    ]


def test_the_signed_call_of_any_channel_is_accepted(http: httpx.Client) -> None:
    body = event_body()
    with WebhookReceiver((TOKEN, OTHER_TOKEN), port=0) as receiver:
        for token in (TOKEN, OTHER_TOKEN):
            sig = {"X-Viber-Content-Signature": signature(body, token)}
            assert http.post(receiver.url, content=body, headers=sig).status_code == 200
        third = {"X-Viber-Content-Signature": signature(body, "a-third-token-0123456789")}
        assert http.post(receiver.url, content=body, headers=third).status_code == 403
        assert len(receiver.events) == 2


def test_new_tokens_take_effect_at_once(receiver: WebhookReceiver, http: httpx.Client) -> None:
    body = event_body()
    old = {"X-Viber-Content-Signature": signature(body, TOKEN)}
    new = {"X-Viber-Content-Signature": signature(body, OTHER_TOKEN)}
    assert http.post(receiver.url, content=body, headers=new).status_code == 403
    receiver.use_tokens([OTHER_TOKEN])
    assert http.post(receiver.url, content=body, headers=new).status_code == 200
    assert http.post(receiver.url, content=body, headers=old).status_code == 403


def test_without_a_token_only_the_unsigned_check_call_is_answered_200(
    http: httpx.Client,
) -> None:
    body = event_body()
    with WebhookReceiver(("", ""), port=0) as receiver:
        # An empty key would make anyone's signature valid: no token means nothing verifies.
        unkeyed = {"X-Viber-Content-Signature": signature(body, "")}
        assert http.post(receiver.url, content=body, headers=unkeyed).status_code == 403
        assert http.post(receiver.url, content=body).status_code == 200


@pytest.mark.parametrize(
    ("destinations", "expected"),
    [
        pytest.param({}, (), id="none"),
        pytest.param({"one": Holder(TOKEN)}, (TOKEN,), id="one"),
        pytest.param(
            {"news": Holder(TOKEN), "sms": object(), "sports": Holder(OTHER_TOKEN)},
            (TOKEN, OTHER_TOKEN),
            id="two-channels-and-a-gateway",
        ),
        pytest.param({"a": Holder(""), "b": Holder(TOKEN)}, (TOKEN,), id="empty-skipped"),
    ],
)
def test_callback_tokens_are_every_channels(
    destinations: dict[str, object], expected: tuple[str, ...]
) -> None:
    assert callback_tokens(destinations) == expected


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b"\xff\xfe"], ids=["text", "list", "not-utf8"]
)
def test_signed_body_that_is_not_a_json_object_is_bad_request(
    receiver: WebhookReceiver, http: httpx.Client, body: bytes
) -> None:
    sig = {"X-Viber-Content-Signature": signature(body, TOKEN)}
    assert http.post(receiver.url, content=body, headers=sig).status_code == 400
    assert http.post(receiver.url, content=body).status_code == 400
    assert receiver.events == []


def test_oversize_body_is_refused(receiver: WebhookReceiver, http: httpx.Client) -> None:
    response = http.post(receiver.url, content=b" " * (MAX_BODY + 1))
    assert response.status_code == 413
    assert receiver.events == []


def test_huge_declared_body_is_refused_without_reading_it(receiver: WebhookReceiver) -> None:
    head = (
        f"POST /viber/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {DRAIN_MAX + 1}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as conn:
        conn.sendall(head.encode())
        answer = conn.makefile("rb").readline()
    assert answer.startswith(b"HTTP/1.0 413 ")


def test_exactly_the_cap_is_accepted(receiver: WebhookReceiver, http: httpx.Client) -> None:
    base = event_body()
    body = base[:-1] + b" " * (MAX_BODY - len(base)) + b"}"
    assert len(body) == MAX_BODY
    sig = {"X-Viber-Content-Signature": signature(body, TOKEN)}
    assert http.post(receiver.url, content=body, headers=sig).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/elsewhere", 404),
        ("GET", "/elsewhere", 404),
        ("GET", "/viber/webhook", 405),
        ("PUT", "/viber/webhook", 405),
        ("DELETE", "/viber/webhook", 405),
        ("POST", "/viber/webhook/extra", 404),
    ],
    ids=["post-other-path", "get-other-path", "get-webhook", "put", "delete", "sub-path"],
)
def test_wrong_path_or_method(
    receiver: WebhookReceiver, http: httpx.Client, method: str, path: str, expected: int
) -> None:
    response = http.request(method, f"http://127.0.0.1:{receiver.port}{path}", content=b"{}")
    assert response.status_code == expected
    if expected == 405:
        assert response.headers["Allow"] == "POST"


def test_extra_get_route_shares_the_listener(receiver: WebhookReceiver, http: httpx.Client) -> None:
    receiver.add_route("/healthz", lambda: (200, "text/plain; charset=utf-8", b"ok\n"))
    base = f"http://127.0.0.1:{receiver.port}"
    response = http.get(f"{base}/healthz")
    assert (response.status_code, response.text) == (200, "ok\n")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert http.post(f"{base}/healthz", content=b"").status_code == 405
    assert http.get(f"{base}/metrics").status_code == 404


def test_failing_route_answers_500(
    receiver: WebhookReceiver, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> tuple[int, str, bytes]:
        raise RuntimeError("metrics unavailable")

    receiver.add_route("/metrics", broken)
    assert http.get(f"http://127.0.0.1:{receiver.port}/metrics").status_code == 500
    assert "event=route_failed path=/metrics" in caplog.text


def test_events_are_bounded(receiver: WebhookReceiver, http: httpx.Client) -> None:
    for token in range(EVENTS_KEPT + 5):
        body = event_body(token)
        sig = {"X-Viber-Content-Signature": signature(body, TOKEN)}
        assert http.post(receiver.url, content=body, headers=sig).status_code == 200
    tokens = [event["message_token"] for event in receiver.events]
    assert tokens == list(range(5, EVENTS_KEPT + 5))


def test_access_log_goes_to_logging_not_stderr(
    receiver: WebhookReceiver,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="poster.daemon.listener")
    http.get(f"http://127.0.0.1:{receiver.port}/nothing")
    assert "event=webhook_http client=127.0.0.1" in caplog.text
    assert '"GET /nothing HTTP/1.1" 404' in caplog.text
    assert capfd.readouterr().err == ""


def test_stop_releases_the_port_and_is_idempotent() -> None:
    receiver = WebhookReceiver(TOKEN, port=0)
    receiver.start()
    url = receiver.url
    receiver.stop()
    receiver.stop()
    with httpx.Client(timeout=2) as client, pytest.raises(httpx.ConnectError):
        client.post(url, content=b"{}")


def test_ipv6_loopback() -> None:
    try:
        receiver = WebhookReceiver(TOKEN, host="::1", port=0)
        receiver.start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with receiver, httpx.Client(timeout=5) as client:
        assert receiver.url.startswith("http://[::1]:")
        body = event_body()
        sig = {"X-Viber-Content-Signature": signature(body, TOKEN)}
        assert client.post(receiver.url, content=body, headers=sig).status_code == 200
