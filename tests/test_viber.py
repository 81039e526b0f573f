"""Test the Channels Post API client: the body on the wire, the status policy, the sender."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from poster.config import DEFAULT_API_URL
from poster.daemon.httpserver import shut_down
from poster.daemon.listener import WebhookReceiver
from poster.destinations import REDACTED, Destination, RecipientResult
from poster.destinations.viber.api import (
    ANSWER_MAX_BYTES,
    AccountInfo,
    Member,
    ViberChannel,
    check_webhook_url,
)
from poster.destinations.viber.codes import STATUS_ACTIONS, action_for
from poster.destinations.viber.messages import LocationMessage, PictureMessage, TextMessage
from poster.destinations.viber.sandbox import Sandbox
from poster.errors import (
    DeliveryError,
    DeliveryUncertain,
    DestinationFatal,
    MessageRejected,
    RetryLater,
    WebhookError,
)
from poster.models import State

DATA = Path(__file__).parent / "data" / "viber"
TOKEN = "4f1c2e3d5a6b7c8d-TOKENMARK-9e0f1a2b3c4d5e6f"
SENDER = "01234567890A="
API = DEFAULT_API_URL
MESSAGE = TextMessage("Привіт, BODYMARK світ")


def answer(name: str) -> dict[str, Any]:
    """Return a stored API answer from tests/data/viber."""
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def status(code: int, message: str = "") -> httpx.Response:
    """Return an HTTP 200 carrying an API status, as the API always answers."""
    return httpx.Response(200, json={"status": code, "status_message": message})


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """Yield an httpx client that is closed after the test."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """Route every request to the Channels Post API through respx."""
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def channel(client: httpx.Client) -> ViberChannel:
    """Return a channel with a configured sender."""
    return ViberChannel(client, TOKEN, sender=SENDER)


# --- the request on the wire ------------------------------------------------------------------


def test_send_posts_the_envelope_with_the_token_in_header_and_body(
    api: respx.MockRouter, channel: ViberChannel
) -> None:
    route = api.post("/post").mock(return_value=httpx.Response(200, json=answer("post_ok.json")))
    receipt = channel.send(MESSAGE)
    request = route.calls.last.request
    assert str(request.url) == "https://chatapi.viber.com/pa/post"
    assert request.headers["X-Viber-Auth-Token"] == TOKEN
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "auth_token": TOKEN,
        "from": SENDER,
        "type": "text",
        "text": "Привіт, BODYMARK світ",
    }
    assert "Привіт".encode() in request.content  # UTF-8, not \u escapes
    assert receipt.destination == "viber"
    assert receipt.message_token == "5741311803571721087"  # above 2**53: kept exact as text
    # A channel is one recipient, whose result carries the message token.
    assert receipt.results == (RecipientResult("viber", State.SENT, "5741311803571721087"),)
    assert receipt.body == {**json.loads(request.content), "auth_token": REDACTED}
    assert json.loads(json.dumps(receipt.body))["auth_token"] == REDACTED


def test_channel_is_a_destination(channel: ViberChannel) -> None:
    destination: Destination = channel
    assert destination.name == "viber"
    assert TOKEN not in repr(channel)


@pytest.mark.parametrize("api_url", [API, API + "/"], ids=["plain", "trailing-slash"])
def test_api_url_trailing_slash_is_tolerated(
    api: respx.MockRouter, client: httpx.Client, api_url: str
) -> None:
    route = api.post("/post").mock(return_value=httpx.Response(200, json=answer("post_ok.json")))
    ViberChannel(client, TOKEN, api_url=api_url, sender=SENDER).send(MESSAGE)
    assert str(route.calls.last.request.url) == "https://chatapi.viber.com/pa/post"


def test_picture_message_body(api: respx.MockRouter, channel: ViberChannel) -> None:
    route = api.post("/post").mock(return_value=httpx.Response(200, json=answer("post_ok.json")))
    channel.send(
        PictureMessage("caption", "https://img.example/a.jpeg", "https://img.example/t.jpg")
    )
    body = json.loads(route.calls.last.request.content)
    assert body["type"] == "picture"
    assert body["media"] == "https://img.example/a.jpeg"
    assert body["thumbnail"] == "https://img.example/t.jpg"


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        pytest.param(37.7898, -122.3942, ("37.7898", "-122.3942"), id="the-reference-example"),
        pytest.param(53.9, 27.5667, ("53.9", "27.5667"), id="minsk"),
        pytest.param(0.00001, -0.000002, ("0.00001", "-0.000002"), id="tiny"),
        pytest.param(1e-10, 0.0, ("0.0000000001", "0.0"), id="tinier-and-zero"),
        pytest.param(-90, 180, ("-90", "180"), id="whole-numbers"),
    ],
)
def test_location_coordinates_are_plain_decimal_strings(
    lat: float, lon: float, expected: tuple[str, str]
) -> None:
    location = LocationMessage(lat, lon).payload()["location"]
    assert (location["lat"], location["lon"]) == expected


def test_a_tiny_coordinate_is_taken_by_the_sandbox(
    sandbox: Sandbox, set_webhook: Callable[[], None], channel_token: str
) -> None:
    set_webhook()
    with httpx.Client() as client:
        ViberChannel(client, channel_token, api_url=sandbox.api_url).send(
            LocationMessage(0.00001, -122.3942)
        )
    assert sandbox.posts[-1]["location"] == {"lat": "0.00001", "lon": "-122.3942"}


# --- the status policy ------------------------------------------------------------------------

STATUS_CASES = [
    (0, "ok", None),
    (1, "invalidUrl", DestinationFatal),
    (2, "invalidAuthToken", DestinationFatal),
    (3, "badData", MessageRejected),
    (4, "missingData", MessageRejected),
    (7, "publicAccountBlocked", DestinationFatal),
    (8, "publicAccountNotFound", DestinationFatal),
    (9, "publicAccountSuspended", DestinationFatal),
    (10, "webhookNotSet", DestinationFatal),
    (12, "Too many requests", RetryLater),
    (5, "failure", MessageRejected),
    (99, "somethingNew", MessageRejected),
]


@pytest.mark.parametrize(
    ("code", "message", "expected"), STATUS_CASES, ids=[f"{c}-{m}" for c, m, _ in STATUS_CASES]
)
def test_each_status_has_its_action(
    api: respx.MockRouter,
    channel: ViberChannel,
    code: int,
    message: str,
    expected: type[DeliveryError] | None,
) -> None:
    api.post("/post").mock(return_value=status(code, message))
    if expected is None:
        assert channel.send(MESSAGE).destination == "viber"
        return
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE)
    assert type(caught.value) is expected
    assert caught.value.status == code
    assert caught.value.status_message == message
    assert f"status {code} {message}" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (0, "ok"),
        (1, "fatal"),
        (2, "fatal"),
        (3, "reject"),
        (4, "reject"),
        (7, "fatal"),
        (8, "fatal"),
        (9, "fatal"),
        (10, "fatal"),
        (12, "retry"),
        (5, "reject"),
        (6, "reject"),
        (11, "reject"),
        (99, "reject"),
    ],
)
def test_action_table(code: int, action: str) -> None:
    assert action_for(code) == action
    assert set(STATUS_ACTIONS.values()) == {"ok", "retry", "fatal", "reject"}


@pytest.mark.parametrize(
    ("code", "message", "text"),
    [
        (3, "badData",
         "viber rejected the post: status 3 badData (There is an error in the request "
         "itself)"),
        (10, "webhookNotSet", "run `poster webhook set URL`"),
        (2, "invalidAuthToken", "the token is wrong or has been revoked"),
        (99, "", "status 99 failure (General error)"),
        (4, "missingData", "status 4 missingData (Some mandatory data is missing)"),
    ],
    ids=["bad-data", "webhook-not-set", "bad-token", "unknown-empty-message", "missing-data"],
)  # fmt: skip
def test_error_texts_are_plain_words(
    api: respx.MockRouter, channel: ViberChannel, code: int, message: str, text: str
) -> None:
    api.post("/post").mock(return_value=status(code, message))
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE)
    assert text in str(caught.value)


def test_rate_limit_takes_retry_after(api: respx.MockRouter, channel: ViberChannel) -> None:
    api.post("/post").mock(
        return_value=httpx.Response(
            200, headers={"Retry-After": "30"}, json={"status": 12, "status_message": "Too many"}
        )
    )
    with pytest.raises(RetryLater) as caught:
        channel.send(MESSAGE)
    assert not isinstance(caught.value, DeliveryUncertain)
    assert caught.value.retry_after == 30.0
    assert "will retry in 30s" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "headers", "expected", "retry_after"),
    [
        (500, {}, RetryLater, None),
        (503, {"Retry-After": "120"}, RetryLater, 120.0),
        (429, {"Retry-After": "7"}, RetryLater, 7.0),
        (429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, RetryLater, 0.0),
        (404, {}, DestinationFatal, None),
        (401, {}, DestinationFatal, None),
        (405, {}, DestinationFatal, None),
        (400, {}, MessageRejected, None),
        (413, {}, MessageRejected, None),
        (302, {"Location": "https://elsewhere.example/"}, DestinationFatal, None),
        (502, {}, DeliveryUncertain, None),
        (504, {}, DeliveryUncertain, None),
    ],
    ids=[
        "500",
        "503-retry-after",
        "429",
        "429-past-date",
        "404",
        "401",
        "405",
        "400",
        "413",
        "302",
        "502-maybe-posted",
        "504-maybe-posted",
    ],
)
def test_http_statuses(
    api: respx.MockRouter,
    channel: ViberChannel,
    code: int,
    headers: dict[str, str],
    expected: type[DeliveryError],
    retry_after: float | None,
) -> None:
    api.post("/post").mock(return_value=httpx.Response(code, headers=headers, text="oops"))
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE)
    assert type(caught.value) is expected
    assert f"HTTP {code}" in str(caught.value)
    assert getattr(caught.value, "retry_after", None) == retry_after


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        (400, 2, DestinationFatal),
        (400, 10, DestinationFatal),
        (500, 3, MessageRejected),
        (429, 12, RetryLater),
        (413, 12, RetryLater),
        (401, 2, DestinationFatal),
        (500, 0, DeliveryUncertain),
    ],
    ids=[
        "400-invalid-token",
        "400-no-webhook",
        "500-bad-data",
        "429-too-many",
        "413-too-many",
        "401-invalid-token",
        "500-but-posted",
    ],
)
def test_an_error_status_in_the_json_decides_whatever_the_http_code(
    api: respx.MockRouter,
    channel: ViberChannel,
    code: int,
    status: int,
    expected: type[DeliveryError],
) -> None:
    answer = {"status": status, "status_message": "refused"}
    api.post("/post").mock(return_value=httpx.Response(code, json=answer))
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE)
    assert type(caught.value) is expected
    if status == 2:
        assert "the token is wrong or has been revoked" in str(caught.value)
    if status != 0:
        assert (caught.value.status, caught.value.status_message) == (status, "refused")


@pytest.mark.parametrize(
    ("code", "body"),
    [(503, {"status": 503, "error": "Service Unavailable"}), (429, {"status": 429})],
    ids=["proxy-503", "429"],
)
def test_a_status_the_api_does_not_list_leaves_the_http_code_to_decide(
    api: respx.MockRouter, channel: ViberChannel, code: int, body: dict[str, object]
) -> None:
    api.post("/post").mock(return_value=httpx.Response(code, json=body))
    with pytest.raises(RetryLater, match=f"HTTP {code}"):
        channel.send(MESSAGE)


def test_an_error_status_refusing_set_webhook_at_http_400_is_the_apis_answer(
    api: respx.MockRouter, channel: ViberChannel
) -> None:
    answer = {"status": 1, "status_message": "invalidUrl"}
    api.post("/set_webhook").mock(return_value=httpx.Response(400, json=answer))
    result = channel.set_webhook("https://example.org/hook")
    assert (result.status, result.status_message) == (1, "invalidUrl")


TRANSPORT_CASES = [
    (httpx.ConnectError("refused"), RetryLater),
    (httpx.ConnectTimeout("slow"), RetryLater),
    (httpx.PoolTimeout("busy"), RetryLater),
    (httpx.ProxyError("proxy"), RetryLater),
    (httpx.ReadTimeout("slow"), DeliveryUncertain),
    (httpx.WriteTimeout("slow"), DeliveryUncertain),
    (httpx.RemoteProtocolError("dropped"), DeliveryUncertain),
    (httpx.ReadError("reset"), DeliveryUncertain),
    (httpx.WriteError("reset"), DeliveryUncertain),
    (httpx.CloseError("reset"), DeliveryUncertain),
    (httpx.UnsupportedProtocol("ftp"), DestinationFatal),
    (httpx.LocalProtocolError(f"Illegal header value {TOKEN!r}"), DestinationFatal),
]


@pytest.mark.parametrize(
    ("error", "expected"), TRANSPORT_CASES, ids=[type(e).__name__ for e, _ in TRANSPORT_CASES]
)
def test_every_transport_error_is_mapped(
    api: respx.MockRouter, channel: ViberChannel, error: Exception, expected: type[DeliveryError]
) -> None:
    api.post("/post").mock(side_effect=error)
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE)
    assert type(caught.value) is expected
    assert type(error).__name__ in str(caught.value) or expected is DestinationFatal
    assert TOKEN not in "".join(traceback.format_exception(caught.value))


@pytest.mark.parametrize(
    "content",
    [
        b"<html>gateway</html>",
        b"",
        b'["status", 0]',
        b'{"status_message": "ok"}',
        b"\xff\xfe",
        b'{"status": 0, "padding": "%s"}' % (b"x" * ANSWER_MAX_BYTES),
    ],
    ids=["html", "empty", "json-list", "no-status", "not-utf8", "over-the-cap"],
)
def test_unreadable_success_is_uncertain(
    api: respx.MockRouter, channel: ViberChannel, content: bytes
) -> None:
    api.post("/post").mock(return_value=httpx.Response(200, content=content))
    with pytest.raises(DeliveryUncertain, match="not repeated automatically"):
        channel.send(MESSAGE)


def test_bad_token_is_refused_before_any_request(client: httpx.Client) -> None:
    with pytest.raises(DestinationFatal, match="the token contains spaces") as caught:
        ViberChannel(client, "secret part\nmore")
    assert "secret" not in str(caught.value)


# --- the token never leaks --------------------------------------------------------------------

LEAK_CASES: list[tuple[str, Any]] = [
    *((f"status-{c}", status(c, m)) for c, m, e in STATUS_CASES if e is not None),
    *((f"http-{c}", httpx.Response(c, text=f"echo {TOKEN}")) for c in (400, 404, 429, 500)),
    ("non-json", httpx.Response(200, text=f"<p>{TOKEN}</p>")),
    *((type(e).__name__, e) for e, _ in TRANSPORT_CASES),
]


@pytest.mark.parametrize(("case", "outcome"), LEAK_CASES, ids=[c for c, _ in LEAK_CASES])
def test_token_and_body_never_appear_in_errors_or_logs(
    api: respx.MockRouter,
    channel: ViberChannel,
    caplog: pytest.LogCaptureFixture,
    case: str,
    outcome: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    if isinstance(outcome, httpx.Response):
        api.post("/post").mock(return_value=outcome)
    else:
        api.post("/post").mock(side_effect=outcome)
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE)
    logging.getLogger("test").exception("event=post_failed error=%s", caught.value)
    for text in (str(caught.value), repr(caught.value), caplog.text):
        assert TOKEN not in text
        assert "BODYMARK" not in text


def test_token_absent_from_logs_of_a_real_exchange(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeViberApi() as fake, httpx.Client() as client:
        fake.webhook = "https://hooks.example/viber"
        channel = ViberChannel(client, TOKEN, api_url=fake.api_url)
        assert channel.send(MESSAGE).message_token == "5741311803571721087"
    assert "HTTP Request: POST" in caplog.text  # httpx did log the exchange
    assert TOKEN not in caplog.text


# --- the sender -------------------------------------------------------------------------------


def test_configured_sender_needs_no_lookup(api: respx.MockRouter, channel: ViberChannel) -> None:
    info = api.post("/get_account_info").mock(return_value=status(0))
    assert channel.resolve_sender() == SENDER
    assert info.call_count == 0


def test_sender_is_the_single_superadmin_asked_once(
    api: respx.MockRouter, client: httpx.Client
) -> None:
    info = api.post("/get_account_info").mock(
        return_value=httpx.Response(200, json=answer("account_info.json"))
    )
    post = api.post("/post").mock(return_value=httpx.Response(200, json=answer("post_ok.json")))
    channel = ViberChannel(client, TOKEN)
    channel.send(MESSAGE)
    channel.send(MESSAGE)
    assert info.call_count == 1
    assert json.loads(info.calls.last.request.content) == {"auth_token": TOKEN}
    assert info.calls.last.request.headers["X-Viber-Auth-Token"] == TOKEN
    assert [json.loads(c.request.content)["from"] for c in post.calls] == [SENDER, SENDER]


def test_account_info_is_parsed(api: respx.MockRouter, channel: ViberChannel) -> None:
    api.post("/get_account_info").mock(
        return_value=httpx.Response(200, json=answer("account_info.json"))
    )
    info = channel.account_info()
    assert info == AccountInfo(
        id="pa:75346594275468546724",
        name="Daily Digest",
        members=(
            Member("01234567890A=", "Olena", "superadmin", "https://example.com/olena.jpg"),
            Member("98765432100B=", "Taras", "admin"),
        ),
    )
    assert info.superadmins() == (info.members[0],)


@pytest.mark.parametrize(
    ("name", "listed"),
    [
        ("account_info_two_superadmins.json",
         "2 superadmins; set from = \"<id>\" in its section of feeds.toml ([viber] or "
         "[destinations.viber]) to a superadmin's id. Members: "
         "Olena (01234567890A=, superadmin), Mykola (55555555555C=, superadmin)"),
        ("account_info_no_superadmin.json",
         "no superadmin; set from = \"<id>\" in its section of feeds.toml ([viber] or "
         "[destinations.viber]) to a superadmin's id. Members: "
         "Taras (98765432100B=, admin)"),
    ],
    ids=["two-superadmins", "no-superadmin"],
)  # fmt: skip
def test_ambiguous_sender_is_fatal(
    api: respx.MockRouter, client: httpx.Client, name: str, listed: str
) -> None:
    api.post("/get_account_info").mock(return_value=httpx.Response(200, json=answer(name)))
    post = api.post("/post").mock(return_value=status(0))
    with pytest.raises(DestinationFatal) as caught:
        ViberChannel(client, TOKEN).send(MESSAGE)
    assert listed in str(caught.value)
    assert post.call_count == 0


@pytest.mark.parametrize(
    ("code", "expected"), [(2, DestinationFatal), (3, MessageRejected), (12, RetryLater)]
)
def test_braces_in_a_status_message_are_quoted_as_they_came(
    api: respx.MockRouter, channel: ViberChannel, code: int, expected: type[DeliveryError]
) -> None:
    api.post("/post").mock(return_value=status(code, "auth {token} invalid {0}"))
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE)
    assert type(caught.value) is expected
    assert "auth {token} invalid {0}" in str(caught.value)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (status(2, "invalidAuthToken"), DestinationFatal),
        (status(5, "failure"), DestinationFatal),
        (status(3, "badData"), DestinationFatal),
        (status(12, "tooManyRequests"), RetryLater),
        (httpx.Response(404), DestinationFatal),
    ],
    ids=["bad-token", "unknown", "bad-data", "rate-limited", "http-404"],
)
def test_failed_account_lookup_is_no_fault_of_the_message(
    api: respx.MockRouter, client: httpx.Client, outcome: httpx.Response, expected: type
) -> None:
    api.post("/get_account_info").mock(return_value=outcome)
    with pytest.raises(DeliveryError) as caught:
        ViberChannel(client, TOKEN).send(MESSAGE)
    assert type(caught.value) is expected
    assert "get_account_info" in str(caught.value)


# --- the webhook ------------------------------------------------------------------------------


def test_set_webhook_sends_url_and_token(api: respx.MockRouter, channel: ViberChannel) -> None:
    route = api.post("/set_webhook").mock(
        return_value=httpx.Response(200, json=answer("set_webhook_ok.json"))
    )
    result = channel.set_webhook("https://hooks.example/viber")
    assert result.ok
    assert (result.status, result.status_message) == (0, "ok")
    assert "https://hooks.example/viber" in result.explanation
    request = route.calls.last.request
    assert json.loads(request.content) == {
        "url": "https://hooks.example/viber",
        "auth_token": TOKEN,
    }
    assert request.headers["X-Viber-Auth-Token"] == TOKEN


def test_remove_webhook_sends_an_empty_url(api: respx.MockRouter, channel: ViberChannel) -> None:
    route = api.post("/set_webhook").mock(return_value=status(0, "ok"))
    result = channel.remove_webhook()
    assert result.ok
    assert result.explanation == "the webhook is removed"
    assert json.loads(route.calls.last.request.content)["url"] == ""


@pytest.mark.parametrize(
    ("code", "message", "words"),
    [
        (1, "invalidUrl",
         "Viber refused to remove the webhook: status 1 invalidUrl (The webhook URL is not "
         "valid); poster asks for the removal as Viber's API expects, with set_webhook and an "
         "empty url"),
        (2, "invalidAuthToken",
         "Viber refused to remove the webhook: status 2 invalidAuthToken (The authentication "
         "token is not valid); the token is wrong"),
        (12, "tooManyRequests", "Viber refused to remove the webhook: status 12 tooManyRequests"),
        (99, "failure",
         "Viber refused to remove the webhook: status 99 failure (General error); try again later"),
    ],
    ids=["invalid-url", "bad-token", "rate-limited", "unknown"],
)  # fmt: skip
def test_remove_webhook_failures_are_explained_without_a_url(
    api: respx.MockRouter, channel: ViberChannel, code: int, message: str, words: str
) -> None:
    api.post("/set_webhook").mock(return_value=status(code, message))
    result = channel.remove_webhook()
    assert (result.ok, result.status, result.status_message) == (False, code, message)
    assert result.explanation.startswith(words)
    assert "could not reach" not in result.explanation and "''" not in result.explanation
    assert TOKEN not in result.explanation


@pytest.mark.parametrize(
    ("code", "message", "words"),
    [
        (1, "invalidUrl",
         "Viber could not reach https://hooks.example/viber or it did not answer 200 to the "
         "check call"),
        (2, "invalidAuthToken", "the token is wrong or has been revoked"),
        (12, "tooManyRequests", "wait a minute and try again"),
        (7, "publicAccountBlocked", "(The account is blocked); posting stays stopped"),
        (99, "failure", "status 99 failure (General error); try again later"),
    ],
    ids=["unreachable", "bad-token", "rate-limited", "blocked", "unknown"],
)  # fmt: skip
def test_set_webhook_failures_are_explained(
    api: respx.MockRouter, channel: ViberChannel, code: int, message: str, words: str
) -> None:
    api.post("/set_webhook").mock(return_value=status(code, message))
    result = channel.set_webhook("https://hooks.example/viber")
    assert not result.ok
    assert (result.status, result.status_message) == (code, message)
    assert words in result.explanation
    assert TOKEN not in result.explanation


def test_set_webhook_refuses_plain_http_without_asking(
    api: respx.MockRouter, channel: ViberChannel
) -> None:
    route = api.post("/set_webhook").mock(return_value=status(0))
    with pytest.raises(WebhookError, match="must use https://"):
        channel.set_webhook("http://hooks.example/viber")
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("url", "api_url", "problem"),
    [
        ("https://hooks.example/viber", API, None),
        ("http://hooks.example/viber", API, "must use https://"),
        ("http://127.0.0.1:8080/viber/webhook", "http://127.0.0.1:8089/pa", None),
        ("http://localhost:8080/hook", "http://127.0.0.2:8089/pa", None),
        ("http://[::1]:8080/hook", "http://localhost/pa", None),
        ("http://127.0.0.1:8080/hook", API, "self-signed"),
        ("http://hooks.example/viber", "http://127.0.0.1:8089/pa", "must use https://"),
        ("http://10.0.0.1/hook", "http://10.0.0.1/pa", "must use https://"),
        ("ftp://hooks.example/viber", API, "not an https:// URL"),
        ("hooks.example/viber", API, "not an https:// URL"),
        ("https:///viber", API, "not an https:// URL"),
        ("https://[::1/hook", API, "not a valid URL"),
    ],
    ids=["https", "http-public", "http-loopback-sandbox", "localhost", "ipv6-loopback",
         "http-loopback-real-api", "http-public-sandbox", "http-private-net", "ftp",
         "no-scheme", "no-host", "broken"],
)  # fmt: skip
def test_check_webhook_url(url: str, api_url: str, problem: str | None) -> None:
    found = check_webhook_url(url, api_url)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


# --- end to end: a fake API that checks the webhook like Viber does --------------------------


class FakeViberApi:
    """Emulate the three endpoints over real HTTP; set_webhook calls the webhook back, signed."""

    def __init__(self) -> None:
        self.webhook: str | None = None
        self.posts: list[dict[str, Any]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _FakeHandler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeViberApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        shut_down(self._httpd)
        self._thread.join()

    @property
    def api_url(self) -> str:
        """Return the base URL, like https://chatapi.viber.com/pa."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/pa"

    def handle(self, endpoint: str, body: dict[str, Any], header: str | None) -> dict[str, Any]:
        """Answer one API call as the reference describes."""
        if body.get("auth_token") != TOKEN or header != TOKEN:
            return {"status": 2, "status_message": "invalidAuthToken"}
        if endpoint == "get_account_info":
            return answer("account_info.json")
        if endpoint == "set_webhook":
            return self._set_webhook(str(body.get("url", "")))
        if endpoint == "post":
            if not self.webhook:
                return {"status": 10, "status_message": "webhookNotSet"}
            self.posts.append(body)
            return answer("post_ok.json")
        return {"status": 3, "status_message": "badData"}

    def _set_webhook(self, url: str) -> dict[str, Any]:
        """Call the webhook back, signed, and accept it only when it answers 200."""
        if url and _callback(url) != 200:
            return {"status": 1, "status_message": "invalidUrl"}
        self.webhook = url or None
        return answer("set_webhook_ok.json")


def _callback(url: str) -> int:
    """POST the signed check call to ``url`` and return its HTTP status (0 if unreachable)."""
    body = (DATA / "webhook_callback.json").read_bytes()
    sig = hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("X-Viber-Content-Signature", sig)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)
    except OSError:
        return 0


class _FakeHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        endpoint = self.path.removeprefix("/pa/")
        fake: FakeViberApi = self.server.fake  # type: ignore[attr-defined]
        data = json.dumps(fake.handle(endpoint, body, self.headers.get("X-Viber-Auth-Token")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_receiver_up_then_set_webhook_then_post() -> None:
    with FakeViberApi() as fake, httpx.Client() as client:
        channel = ViberChannel(client, TOKEN, api_url=fake.api_url)
        with pytest.raises(DestinationFatal, match="run `poster webhook set URL`"):
            channel.send(MESSAGE)

        down = WebhookReceiver(TOKEN, port=0)
        with down:
            gone = down.url
        refused = channel.set_webhook(gone)
        assert (refused.ok, refused.status) == (False, 1)
        assert f"Viber could not reach {gone}" in refused.explanation

        with WebhookReceiver(TOKEN, port=0) as receiver:
            result = channel.set_webhook(receiver.url)
            assert result.ok, result.explanation
            assert receiver.events == [json.loads((DATA / "webhook_callback.json").read_bytes())]
        assert fake.webhook == receiver.url

        receipt = channel.send(MESSAGE)
        assert receipt.message_token == "5741311803571721087"
        assert fake.posts[0]["from"] == SENDER

        assert channel.remove_webhook().ok
        assert fake.webhook is None


def test_receiver_with_another_token_fails_the_check() -> None:
    with (
        FakeViberApi() as fake,
        httpx.Client() as client,
        WebhookReceiver("some-other-token", port=0) as receiver,
    ):
        result = ViberChannel(client, TOKEN, api_url=fake.api_url).set_webhook(receiver.url)
        assert (result.ok, result.status) == (False, 1)
        assert receiver.events == []


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (httpx.Response(500), RetryLater),
        (httpx.Response(404), DestinationFatal),
        (httpx.ConnectError("refused"), RetryLater),
        (httpx.Response(200, text="<html>"), DestinationFatal),
        (httpx.ReadTimeout("slow"), RetryLater),
    ],
    ids=["http-500", "http-404", "connect-error", "not-json", "read-timeout"],
)
def test_set_webhook_transport_failures_raise(
    api: respx.MockRouter, channel: ViberChannel, outcome: Any, expected: type
) -> None:
    if isinstance(outcome, httpx.Response):
        api.post("/set_webhook").mock(return_value=outcome)
    else:
        api.post("/set_webhook").mock(side_effect=outcome)
    with pytest.raises(DeliveryError) as caught:
        channel.set_webhook("https://hooks.example/viber")
    assert type(caught.value) is expected
    assert "set_webhook" in str(caught.value)


@pytest.mark.parametrize(
    ("outcome", "expected", "words"),
    [
        (httpx.Response(200, text="<rss/>"), DestinationFatal, "check viber.api_url"),
        (httpx.RemoteProtocolError("cut short"), RetryLater, "will retry later"),
    ],
    ids=["not-the-api", "cut-short"],
)
def test_a_post_whose_sender_lookup_fails_is_not_left_uncertain(
    api: respx.MockRouter, client: httpx.Client, outcome: Any, expected: type, words: str
) -> None:
    # get_account_info only reads: nothing was posted, so the item must not wait for an operator.
    looked_up = api.post("/get_account_info")
    if isinstance(outcome, httpx.Response):
        looked_up.mock(return_value=outcome)
    else:
        looked_up.mock(side_effect=outcome)
    posted = api.post("/post").respond(json={"status": 0, "message_token": 1})
    channel = ViberChannel(client, TOKEN, api_url=API)
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE)
    assert type(caught.value) is expected and words in str(caught.value)
    assert "get_account_info" in str(caught.value) and not posted.called


@pytest.mark.parametrize(("status", "waits"), [(1, True), (10, True), (2, False), (7, False)])
def test_a_channel_refused_for_its_webhook_waits_for_one(status: int, waits: bool) -> None:
    from poster.destinations.viber.codes import describe
    from poster.destinations.viber.kind import KIND

    refusal = f"viber refused the post: {describe(status, '')}; advice"
    assert KIND.refused_for_webhook(refusal) is waits
