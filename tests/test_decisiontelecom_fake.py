"""Test the strict DecisionTelecom fake (rules, auth, balance, callbacks) and callback parsing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any, Protocol

import httpx
import pytest
from support.callbacks import CallbackReceiver
from support.clock import Clock

from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.decisiontelecom.fakestate import Gateway
from poster.destinations.decisiontelecom.schema import (
    IncomingMessage,
    MessageStatus,
    StatusResult,
    parse_callback,
    parse_incoming,
    parse_status_callback,
)
from poster.errors import CallbackError

KEY = "fake-key-42"
AUTH = {"Authorization": "Basic " + base64.b64encode(KEY.encode()).decode()}
VALID: dict[str, Any] = {
    "source_addr": "Custom Company",
    "destination_addr": 8882222200,
    "message_type": 108,
    "text": "Message content",
    "image": "https://yourdomain.com/images/image.jpg",
    "button_caption": "Join Us",
    "button_action": "https://yourdomain.com/join-us",
    "source_type": 1,
    "callback_url": "https://yourdomain.com/viber-callback",
    "validity_period": 3600,
}
TEXT_ONLY = {
    **{key: VALID[key] for key in ("source_addr", "destination_addr", "text", "source_type")},
    "message_type": 106,
}


@pytest.fixture
def clock() -> Clock:
    """Return a clock that only moves when a test moves it."""
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeDecisionTelecom]:
    """Run a fake gateway that accepts KEY."""
    with FakeDecisionTelecom(Gateway(KEY, clock=clock, balance=3.0, price=1.0)) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    """Run a callback receiver."""
    with CallbackReceiver() as running:
        yield running


class Post(Protocol):
    """POST a body to the fake as JSON with KEY, unless headers say otherwise."""

    def __call__(self, body: Any, endpoint: str = ..., **headers: str) -> httpx.Response: ...


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """Return one httpx client for the module: building one loads the CA bundle."""
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def call(fake: FakeDecisionTelecom, http: httpx.Client) -> Post:
    """Return a function that POSTs ``body`` to the fake."""

    def post(body: Any, endpoint: str = "send-viber", **headers: str) -> httpx.Response:
        sent = {**AUTH, "Content-Type": "application/json", **headers}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return http.post(f"{fake.base_url}/{endpoint}", content=content, headers=sent)

    return post


def test_the_documents_own_example_is_accepted(fake: FakeDecisionTelecom, call: Post) -> None:
    answer = call(VALID)
    assert answer.status_code == 200 and answer.json() == {"message_id": 429}
    assert fake.gateway.inbox("8882222200")[0].body == VALID


def without(key: str, body: dict[str, Any] = VALID) -> dict[str, Any]:
    """Return ``body`` without ``key``."""
    return {k: v for k, v in body.items() if k != key}


BROKEN = [
    ("no-source", without("source_addr"), "source_addr"),
    ("long-source", {**VALID, "source_addr": "x" * 21}, "source_addr"),
    ("no-destination", without("destination_addr"), "destination_addr"),
    ("phone-plus", {**VALID, "destination_addr": "+8882222200"}, "destination_addr"),
    ("phone-letters", {**VALID, "destination_addr": "88822A"}, "destination_addr"),
    ("phone-long", {**VALID, "destination_addr": "1" * 21}, "destination_addr"),
    ("type-107", {**VALID, "message_type": 107}, "message_type"),
    ("type-text", {**VALID, "message_type": "108"}, "message_type"),
    ("no-text", without("text"), "text"),
    ("long-text", {**VALID, "text": "x" * 1001}, "text"),
    ("no-image", without("image"), "image"),
    ("image-gif", {**VALID, "image": "https://a.example/x.gif"}, "image"),
    ("image-not-url", {**VALID, "image": "image.jpg"}, "image"),
    ("image-ftp", {**VALID, "image": "ftp://a.example/x.jpg"}, "image"),
    ("image-on-106", {**TEXT_ONLY, "image": VALID["image"]}, "image"),
    ("long-caption", {**VALID, "button_caption": "x" * 31}, "button_caption"),
    ("no-caption", without("button_caption"), "button_caption"),
    ("no-action", without("button_action"), "button_action"),
    ("action-not-url", {**VALID, "button_action": "join"}, "button_action"),
    ("source-3", {**VALID, "source_type": 3}, "source_type"),
    ("rich-transactional", {**VALID, "source_type": 2}, "source_type"),
    ("callback-not-url", {**VALID, "callback_url": "viber-callback"}, "callback_url"),
    ("two-way-no-callback", {**TEXT_ONLY, "message_type": 206}, "callback_url"),
    ("two-way-rich-no-callback", {**without("callback_url"), "message_type": 208}, "callback_url"),
    ("ttl-39", {**VALID, "validity_period": 39}, "validity_period"),
    ("ttl-21601", {**VALID, "validity_period": 21601}, "validity_period"),
    ("ttl-text", {**VALID, "validity_period": "3600"}, "validity_period"),
    ("tx-ttl-39", {**TEXT_ONLY, "source_type": 2, "validity_period": 39}, "validity_period"),
]


@pytest.mark.parametrize(("body", "param"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_a_body_breaking_a_rule_gets_invalid_parameter(
    fake: FakeDecisionTelecom, body: dict[str, Any], param: str, call: Post
) -> None:
    answer = call(body)
    assert answer.status_code == 400
    assert answer.json() == {
        "name": f"Invalid Parameter: {param}",
        "message": "Empty parameter or parameter validation error",
        "code": 1,
        "status": 400,
    }
    assert fake.gateway.messages == []


@pytest.mark.parametrize(
    "body",
    [{**TEXT_ONLY, "source_type": 2, "validity_period": 40},
     {**TEXT_ONLY, "message_type": 206, "destination_addr": "8882222200",
      "callback_url": VALID["callback_url"]},
     {**VALID, "message_type": 208, "validity_period": 21600}],
    ids=["transactional-106", "two-way-text", "two-way-rich"],
)  # fmt: skip
def test_bodies_within_the_rules_are_accepted(
    fake: FakeDecisionTelecom, body: dict[str, Any], call: Post
) -> None:
    assert call(body).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": ""}, {"Authorization": f"Basic {KEY}"},
     {"Authorization": "Bearer " + AUTH["Authorization"].split()[1]},
     {"Authorization": "Basic " + base64.b64encode(b"other").decode()}],
    ids=["none", "not-encoded", "bearer", "other-key"],
)  # fmt: skip
def test_a_wrong_authorization_gets_401(
    fake: FakeDecisionTelecom, headers: dict[str, str], call: Post
) -> None:
    answer = call(VALID, **headers)
    assert answer.status_code == 401 and answer.json()["name"] == "Unauthorized"
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="api"'


def test_the_php_examples_user_and_empty_password_is_accepted(
    fake: FakeDecisionTelecom, call: Post
) -> None:
    userpwd = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert call(VALID, Authorization=userpwd).status_code == 200


def test_a_body_not_sent_as_json_names_the_first_parameter(
    fake: FakeDecisionTelecom, call: Post
) -> None:
    answer = call(VALID, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.json()["name"] == "Invalid Parameter: source_addr"
    assert call(b"[1, 2]").json()["name"] == "Invalid Parameter: source_addr"


def test_the_balance_runs_out_and_undelivered_messages_are_not_charged(
    fake: FakeDecisionTelecom, clock: Clock, call: Post
) -> None:
    fake.gateway.numbers.offline.add("111")
    assert call({**VALID, "destination_addr": 111, "validity_period": 40}).is_success
    assert call(VALID).is_success and call(VALID).is_success
    topup = call(VALID)
    assert topup.status_code == 402 and topup.json() == {
        "name": "Topup balance is required",
        "message": "User balance is empty",
        "code": 3,
        "status": 402,
    }
    clock.now += 41
    assert call(VALID).is_success
    assert fake.gateway.charged() == 3.0


def test_status_of_an_old_or_unknown_message_is_invalid(
    fake: FakeDecisionTelecom, clock: Clock, call: Post
) -> None:
    found = call(VALID).json()["message_id"]
    assert call({"message_id": found}, "receive-viber").json() == {
        "message_id": found,
        "status": 5,
    }
    clock.now += 5 * 86400 + 1
    for body in ({"message_id": found}, {"message_id": 1}, {}):
        answer = call(body, "receive-viber")
        assert answer.status_code == 400
        assert answer.json()["name"] == "Invalid Parameter: message_id"


def test_status_callbacks_follow_the_clock(
    fake: FakeDecisionTelecom, clock: Clock, receiver: CallbackReceiver, call: Post
) -> None:
    found = call({**VALID, "callback_url": receiver.url}).json()["message_id"]
    call(without("callback_url"))
    assert [c.http_status for c in fake.pump()] == [200]
    assert fake.pump() == []
    clock.now += 2
    fake.pump()
    clock.now += 10
    fake.pump()
    statuses = [parse_status_callback(raw) for raw in receiver.bodies]
    assert [(s.message_id, s.status) for s in statuses] == [
        (found, MessageStatus.PENDING),
        (found, MessageStatus.SENT),
        (found, MessageStatus.DELIVERED),
    ]


def test_a_two_way_reply_reaches_the_callback_and_parses(
    fake: FakeDecisionTelecom, clock: Clock, receiver: CallbackReceiver, call: Post
) -> None:
    body = {**TEXT_ONLY, "message_type": 206, "callback_url": receiver.url}
    found = call(body).json()["message_id"]
    with pytest.raises(ValueError, match="no 2-Way message"):
        fake.reply("123", "hi")
    assert fake.reply("8882222200", "Stop, please").http_status == 200
    incoming = parse_incoming(receiver.bodies[-1])
    assert (incoming.phone_number, incoming.text, incoming.reply_to) == (
        "8882222200",
        "Stop, please",
        found,
    )
    assert incoming.time == int(clock.now)


def test_the_documents_incoming_example_parses() -> None:
    raw = (
        b'{"message_token": 44444444444444, "phone_number": "972512222222", "time": 2121212121,'
        b' "message": {"text": "a message to the service", "tracking_data": "tracking_id:100035"}}'
    )
    incoming = parse_incoming(raw)
    assert incoming.message_token == 44444444444444 and incoming.reply_to == 100035


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b'{"message_id": 429, "status": 1}', StatusResult(429, MessageStatus.DELIVERED)),
     (b'{"message_token": 7, "phone_number": 972512222222, "time": 5, "message": {"text": "hi"}}',
      IncomingMessage(7, "972512222222", 5, "hi", "")),
     (b'{"message_token": "7", "phone_number": "0097251", "time": 5,'
      b' "message": {"text": "hi", "tracking_data": null}}',
      IncomingMessage(7, "0097251", 5, "hi", ""))],
    ids=["status", "reply", "reply-as-text"],
)  # fmt: skip
def test_one_callback_url_takes_statuses_and_replies(raw: bytes, expected: object) -> None:
    assert parse_callback(raw) == expected


@pytest.mark.parametrize(
    ("tracking", "found"),
    [("tracking_id:100035", 100035), ("tracking_id: 42", 42), ("tracking_id:\u00b2", None),
     ("tracking_id:", None), ("other:5", None), ("", None)],
    ids=["document", "space", "superscript-digit", "empty-id", "other", "none"],
)  # fmt: skip
def test_the_replied_message_id_is_read_without_raising(tracking: str, found: int | None) -> None:
    assert IncomingMessage(1, "1", 1, "a", tracking).reply_to == found


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", b'{"message_id": 1, "status": 9}', b'{"status": 1}',
     b'{"message_id": true, "status": 1}', b"{" + b" " * 70000 + b"}"],
    ids=["not-json", "list", "unknown-status", "no-id", "bool-id", "huge"],
)  # fmt: skip
def test_unreadable_status_callbacks_say_why(raw: bytes) -> None:
    with pytest.raises(CallbackError, match="status callback: "):
        parse_status_callback(raw)


@pytest.mark.parametrize(
    "raw",
    [b'{"phone_number": "1", "time": 1, "message": {"text": "a"}}',
     b'{"message_token": 1, "phone_number": "1", "time": "x", "message": {"text": "a"}}',
     b'{"message_token": 1, "phone_number": "1", "time": 1, "message": {"text": 5}}',
     b'{"message_token": 1, "phone_number": "1\\n2", "time": 1, "message": {"text": "a"}}',
     b'{"message_token": 1, "phone_number": "%s", "time": 1, "message": {"text": "a"}}'
     % (b"1" * 21),
     b'{"message_token": 1, "phone_number": true, "time": 1, "message": {"text": "a"}}',
     b'{"message_token": 1, "phone_number": "1", "time": 1,'
     b' "message": {"text": "a", "tracking_data": 5}}'],
    ids=["no-token", "time-text", "text-number", "phone-newline", "phone-long", "phone-bool",
         "tracking-number"],
)  # fmt: skip
def test_unreadable_incoming_messages_say_why(raw: bytes) -> None:
    with pytest.raises(CallbackError, match="incoming message: "):
        parse_incoming(raw)
    with pytest.raises(CallbackError, match="incoming message: "):
        parse_callback(raw)


def test_unknown_faults_and_routes_are_refused(
    fake: FakeDecisionTelecom, call: Post, http: httpx.Client
) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        fake.gateway.inject("explode")
    assert call(VALID, "send-sms").status_code == 404
    shown = http.get(fake.base_url.removesuffix("/v1/api") + "/fake/messages")
    assert shown.json() == []
