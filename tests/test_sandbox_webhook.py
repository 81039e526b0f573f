"""Check set_webhook: the URL rules, the check call signed or not, and removal."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time

import pytest
from support.sandbox import TOKEN, Receiver, api_client, load_messages, open_channel, post

from poster.destinations.viber.sandbox import Sandbox
from poster.destinations.viber.sandbox.webhook import check_body, sign, url_problem


def test_a_receiver_that_answers_200_becomes_the_webhook() -> None:
    with (
        Receiver(TOKEN) as receiver,
        Sandbox(token=TOKEN) as sandbox,
        api_client(sandbox) as client,
    ):
        before = int(time.time() * 1000)
        answer = client.post("set_webhook", json={"url": receiver.url}).json()
        after = int(time.time() * 1000)
    assert answer["status"] == 0
    assert answer["status_message"] == "ok"
    assert "delivered" in answer["event_types"]
    assert sandbox.webhook == receiver.url
    [call] = receiver.calls
    assert call.signed, "X-Viber-Content-Signature must be HMAC-SHA256(body, token)"
    assert call.content_type == "application/json"
    assert call.body["event"] == "webhook"
    assert before <= call.body["timestamp"] <= after
    assert isinstance(call.body["message_token"], int)


def test_the_check_call_comes_unsigned_as_the_reference_shows_it_when_asked() -> None:
    with (
        Receiver(TOKEN) as receiver,
        Sandbox(token=TOKEN, sign_callbacks=False) as sandbox,
        api_client(sandbox) as client,
    ):
        assert client.post("set_webhook", json={"url": receiver.url}).json()["status"] == 0
    [call] = receiver.calls
    assert (call.signature, call.signed) == (None, False)
    assert call.body["event"] == "webhook"


def test_a_receiver_that_answers_500_is_invalid_url() -> None:
    with (
        Receiver(TOKEN, status=500) as receiver,
        Sandbox(token=TOKEN) as sandbox,
        api_client(sandbox) as client,
    ):
        answer = client.post("set_webhook", json={"url": receiver.url}).json()
        assert answer["status"] == 1
        assert "HTTP 500" in answer["status_message"]
        assert len(receiver.calls) == 1
        assert sandbox.webhook is None
        assert post(client, load_messages()["text"])["status"] == 10


def _closed_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "words"),
    [
        pytest.param("http://example.com/hook", "must use https", id="http-not-loopback"),
        pytest.param("http://10.0.0.5/hook", "must use https", id="http-private-address"),
        pytest.param("ftp://127.0.0.1/hook", "must use https", id="ftp"),
        pytest.param("hook", "no host", id="no-host"),
        pytest.param("https://127.0.0.1:{closed}/hook", "check call", id="https-unreachable"),
        pytest.param("http://127.0.0.1:{closed}/hook", "check call", id="http-loopback-refused"),
        pytest.param("https://127.0.0.1:{receiver}/hook", "check call", id="https-to-plain-http"),
    ],
)
def test_a_webhook_that_cannot_be_checked_is_invalid_url(url: str, words: str) -> None:
    with (
        Receiver(TOKEN) as receiver,
        Sandbox(token=TOKEN) as sandbox,
        api_client(sandbox) as client,
    ):
        port = receiver.url.split(":")[2].split("/")[0]
        target = url.format(closed=_closed_port(), receiver=port)
        answer = client.post("set_webhook", json={"url": target}).json()
    assert answer["status"] == 1
    assert words in answer["status_message"]
    assert sandbox.webhook is None
    assert receiver.calls == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({}, 4, id="url-missing"),
        pytest.param({"url": 443}, 3, id="url-not-a-string"),
    ],
)
def test_a_set_webhook_body_without_a_url_string_is_refused(
    body: dict[str, object], status: int
) -> None:
    with Sandbox(token=TOKEN) as sandbox, api_client(sandbox) as client:
        assert client.post("set_webhook", json=body).json()["status"] == status


def test_localhost_by_name_is_accepted() -> None:
    with (
        Receiver(TOKEN) as receiver,
        Sandbox(token=TOKEN) as sandbox,
        api_client(sandbox) as client,
    ):
        url = receiver.url.replace("127.0.0.1", "localhost")
        assert client.post("set_webhook", json={"url": url}).json()["status"] == 0
        assert sandbox.webhook == url


def test_an_empty_url_removes_the_webhook() -> None:
    with open_channel() as (sandbox, client, receiver):
        answer = client.post("set_webhook", json={"url": ""}).json()
        assert answer == {"status": 0, "status_message": "ok"}
        assert sandbox.webhook is None
        assert len(receiver.calls) == 1  # only the first set_webhook called it
        assert post(client, load_messages()["text"])["status"] == 10


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        pytest.param("https://hooks.example.com/viber", True, id="https"),
        pytest.param("http://127.0.0.1:8080/hook", True, id="http-127.0.0.1"),
        pytest.param("http://127.8.9.10/hook", True, id="http-127/8"),
        pytest.param("http://[::1]:8080/hook", True, id="http-ipv6-loopback"),
        pytest.param("http://LOCALHOST/hook", True, id="http-localhost-upper"),
        pytest.param("http://localhost.example.com/hook", False, id="http-lookalike"),
        pytest.param("http://[::1/hook", False, id="broken-ipv6"),
    ],
)
def test_url_rules_allow_https_and_loopback_http_only(url: str, allowed: bool) -> None:
    assert (url_problem(url) is None) is allowed


def test_the_check_body_and_signature_follow_the_reference() -> None:
    body = check_body(now=1457764197.627)
    assert body.startswith(b'{"event":"webhook","timestamp":1457764197627,"message_token":')
    expected = hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert sign(body, "secret") == expected
    assert sign(body, "secret") == sign(body, "secret").lower()
