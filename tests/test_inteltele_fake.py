"""Test the Intel Tele error table, answer reading and the fake's rules, table-driven."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from poster.destinations.inteltele import api, calls, wire
from poster.destinations.inteltele.api import Credentials, IntelTeleClient
from poster.destinations.inteltele.fake import FakeInteltele
from poster.destinations.inteltele.fakestate import Account
from poster.destinations.inteltele.outcomes import ERRORS, action_for
from poster.destinations.inteltele.rules import normalise_number, valid_sms_source
from poster.destinations.inteltele.schema import SendRequest, StatusRequest
from poster.errors import DeliveryUncertain, DestinationFatal, MessageRejected, RetryLater

USER, KEY = "poster", "it-KEYMARK-0123456789abcdef"
RU = "7123456789"
PER_NUMBER = ("number is blacklisted", "repeat detected", "can't determine country",
              "no route to country", "low balance")  # fmt: skip
EXPECTED = {
    "wrong username/api_key": "fatal", "wrong api key": "fatal", "invalid auth": "fatal",
    "bruteforcing detected": "fatal", "ip not allowed": "fatal", "sender is banned": "fatal",
    "can't send message": "reject", "message is too long": "reject",
    "number is blacklisted": "reject-recipient", "repeat detected": "retry-recipient",
    "can't determine country": "reject-recipient", "no route to country": "reject-recipient",
    "low balance": "fatal",
}  # fmt: skip


def mocked(answer: Callable[[httpx.Request], httpx.Response]) -> Iterator[IntelTeleClient]:
    """Yield a client whose every call gets ``answer``'s response."""
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        yield IntelTeleClient(http, Credentials(USER, KEY), base_url="https://gw.test")


def client_answering(
    body: bytes | str, status: int = 200, headers: dict[str, str] | None = None
) -> IntelTeleClient:
    """Return a client whose every call gets one fixed answer."""
    content = body.encode() if isinstance(body, str) else body
    http = httpx.Client(
        transport=httpx.MockTransport(
            lambda _: httpx.Response(status, content=content, headers=headers)
        )
    )
    return IntelTeleClient(http, Credentials(USER, KEY), base_url="https://gw.test")


def test_the_table_lists_every_documented_error_with_a_hint() -> None:
    assert {k: a for k, (a, _) in ERRORS.items()} == EXPECTED
    assert all(hint for _, hint in ERRORS.values())


@pytest.mark.parametrize("text", [k for k in EXPECTED if k not in PER_NUMBER])
def test_each_whole_request_error_raises_its_action(text: str) -> None:
    client = client_answering(json.dumps({"reply": [{"status": f"error: {text}"}]}))
    error = MessageRejected if EXPECTED[text] == "reject" else DestinationFatal
    with pytest.raises(error) as caught:
        client.send(SendRequest((RU,), "hello"))
    assert type(caught.value) is error and caught.value.status_message == f"error: {text}"
    assert ERRORS[text][1] in str(caught.value)
    with pytest.raises(DestinationFatal):
        client.balance()


@pytest.mark.parametrize("text", PER_NUMBER)
def test_each_per_number_error_is_a_result_with_its_action(text: str) -> None:
    body = json.dumps({"reply": [{"number": RU, "status": f"error: {text}", "cost": "0.04"}]})
    (result,) = client_answering(body).send(SendRequest((RU,), "hello")).results
    assert (result.accepted, result.action, result.status) == (
        False,
        EXPECTED[text],
        f"error: {text}",
    )
    assert result.hint == ERRORS[text][1]


@pytest.mark.parametrize(
    ("text", "per_number", "action"),
    [("error: something new", False, "reject"), ("error: something new", True, "reject-recipient"),
     ("Error: Wrong API Key", False, "fatal"), ("error: can\u2019t determine country", True,
     "reject-recipient")],
)  # fmt: skip
def test_unlisted_and_differently_spelt_errors(text: str, per_number: bool, action: str) -> None:
    assert action_for(text, per_number=per_number) == action


@pytest.mark.parametrize(
    "body",
    [
        "{'reply':[{'status': 'error: wrong api key'}]}",
        "{'reply':[{'status': \"error: can't send message\"}]}",
        "{'message': 'Invalid auth', 'error': true}",
        "{\u201creply\u201d: [{\u201cstatus\u201d: \u201cerror: ip not allowed\u201d}]}",
    ],
    ids=["single-quotes", "mixed-quotes", "rates-true", "typographic"],
)
def test_answers_in_the_documents_notation_are_read(body: str) -> None:
    with pytest.raises((DestinationFatal, MessageRejected)) as caught:
        client_answering(body).send(SendRequest((RU,), "hello"))
    assert "error" in str(caught.value) or "Invalid auth" in str(caught.value)


def test_the_documents_example_answer_is_read() -> None:
    body = (
        "{“reply”: [{“status”: “OK”, “cost”: “0.200000”, “country”: “ru”, “mcc”: “250”, "
        "“number”: “7123456789”, “message_id”: “3c32257b”}]}"
    )
    (result,) = client_answering(body).send(SendRequest((RU,), "hello")).results
    assert (result.action, result.message_id, str(result.cost)) == ("ok", "3c32257b", "0.200000")


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "retry_after"),
    [
        (429, "", {"Retry-After": "7"}, RetryLater, 7.0),
        (503, "<html>busy</html>", {"Retry-After": "3"}, DeliveryUncertain, None),
        (500, '{"reply": [{"status": "error: ip not allowed"}]}', {}, DestinationFatal, None),
        (400, "bad", {}, MessageRejected, None),
        (404, "not here", {}, DestinationFatal, None),
        (200, "<html>portal</html>", {}, DeliveryUncertain, None),
        (200, '{"reply": "odd"}', {}, DeliveryUncertain, None),
    ],
    ids=["429", "503", "500-readable", "400", "404", "200-html", "200-shape"],
)
def test_http_level_answers_to_a_send(
    status: int, body: str, headers: dict[str, str], error: type, retry_after: float | None
) -> None:
    with pytest.raises(error) as caught:
        client_answering(body, status, headers).send(SendRequest((RU,), "hello"))
    assert type(caught.value) is error
    assert getattr(caught.value, "retry_after", None) == retry_after


def test_a_number_missing_from_the_answer_is_uncertain() -> None:
    body = json.dumps({"reply": [{"number": RU, "status": "OK", "message_id": "a1"}]})
    result = client_answering(body).send(SendRequest((RU, "380501234567"), "hello"))
    assert [r.action for r in result.results] == ["ok", "uncertain"]


def test_an_oversized_answer_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calls, "ANSWER_MAX", 100)
    with pytest.raises(DeliveryUncertain, match="over 100 bytes"):
        client_answering(b"x" * 101).send(SendRequest((RU,), "hello"))
    with pytest.raises(DestinationFatal, match="over 100 bytes"):
        client_answering(b"x" * 101).balance()


def test_the_wire_carries_the_documents_param_names() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"reply": [{"number": RU, "status": "OK"}]})

    for client in mocked(answer):
        client.send(SendRequest((RU,), "Test 123", sender="IntelTele.com", ttl=120))
    (request,) = seen
    # As the document's example: a GET with every param in the query, and no body.
    assert (request.method, request.url.path, request.content) == ("GET", "/im/send/", b"")
    assert dict(request.url.params) == {
        "username": USER, "api_key": KEY, "to": RU, "im_sender": "IntelTele.com",
        "im_message": "Test 123", "im_ttl": "120",
    }  # fmt: skip


def test_post_sends_the_same_params_as_a_form() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"balance": "1.00"})

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        credentials = Credentials(USER, KEY)
        IntelTeleClient(http, credentials, base_url="https://gw.test", method="POST").balance()
    (request,) = seen
    assert (request.method, request.url.query) == ("POST", b"")
    assert dict(httpx.QueryParams(request.content.decode())) == {"username": USER, "api_key": KEY}


def status_gateway(
    answer: Callable[[list[str]], Any],
) -> tuple[list[list[str]], Iterator[IntelTeleClient]]:
    """Return the ids of each im/status call, and a client whose calls ``answer`` answers."""
    asked: list[list[str]] = []

    def reply(request: httpx.Request) -> httpx.Response:
        ids = request.url.params["requests"].split(",")
        asked.append(ids)
        return httpx.Response(200, json=answer(ids))

    return asked, mocked(reply)


def enroute(ids: list[str]) -> dict[str, dict[str, str]]:
    """Answer every id as on its way."""
    return {one: {"status": "enroute"} for one in ids}


def test_a_gateway_taking_a_list_of_ids_is_asked_in_one_call() -> None:
    asked, clients = status_gateway(enroute)
    for client in clients:
        assert len(client.status(StatusRequest(("a", "b", "c")))) == 3
        assert not client.statuses_singly
    assert asked == [["a", "b", "c"]]


@pytest.mark.parametrize(
    "refusal",
    [{}, {"a,b": {"status": "delivrd"}}, {"reply": [{"status": "error: can't send message"}]}],
    ids=["empty", "the-list-as-one-id", "refused"],
)
def test_a_list_answered_with_none_of_its_ids_is_asked_one_by_one(refusal: Any) -> None:
    asked, clients = status_gateway(lambda ids: enroute(ids) if len(ids) == 1 else refusal)
    for client in clients:
        assert [s.message_id for s in client.status(StatusRequest(("a", "b")))] == ["a", "b"]
        assert client.statuses_singly
    assert asked == [["a", "b"], ["a"], ["b"]]


def test_one_by_one_a_poll_asks_a_capped_few_those_asked_longest_ago_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api, "SINGLE_STATUSES", 2)
    asked, clients = status_gateway(lambda ids: enroute(ids) if len(ids) == 1 else {})
    for client in clients:
        for _ in range(3):
            client.status(StatusRequest(("a", "b", "c")))
    assert asked == [["a", "b", "c"], ["a"], ["b"], ["c"], ["a"], ["b"], ["c"]]


def test_ids_no_call_knows_cost_one_probe_a_poll_and_teach_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api, "STATUS_IDS", 2)
    monkeypatch.setattr(api, "SINGLE_STATUSES", 1)
    asked, clients = status_gateway(lambda ids: {})
    for client in clients:
        assert client.status(StatusRequest(("a", "b", "c", "d", "e"))) == ()
        assert not client.statuses_singly
    assert asked == [["a", "b"], ["a"], ["c", "d"], ["e"]]


@pytest.mark.parametrize(
    ("raw", "number"),
    [("+7 (123) 456-78-90", "71234567890"), ("380 50 123 4567", "380501234567"),
     ("0123456789", None), ("12345", None), ("7123abc", None), ("1234567890123456", None)],
)  # fmt: skip
def test_numbers_are_normalised_to_international_digits(raw: str, number: str | None) -> None:
    assert normalise_number(raw) == number


@pytest.mark.parametrize(
    ("source", "ok"),
    [("123", True), ("123456789012345", True), ("12", False), ("1234567890123456", False),
     ("IntelTele", True), ("Abc", True), ("Ab", False), ("IntelTeleCom", False),
     ("Intel Tele", False), ("Пошта", False)],
)  # fmt: skip
def test_sms_sources(source: str, ok: bool) -> None:
    assert valid_sms_source(source) is ok


def test_statuses_read_both_documented_date_forms() -> None:
    data = {
        "a": {"date": "17-02-2013 12:08:29", "status": "REJECTD", "time_zone": "UTC"},
        "b": {"date": "2017-01-23 12:34:56", "status": "delivrd", "time_zone": "Nowhere/X"},
    }
    first, second = wire.statuses(data)
    assert (first.status, first.final, first.at) == (
        "rejectd",
        True,
        datetime(2013, 2, 17, 12, 8, 29, tzinfo=UTC),
    )
    assert (second.at, second.raw_date) == (None, "2017-01-23 12:34:56")


@pytest.mark.parametrize("body", [b"{[]: 1}", b"{{}: 1}", b"[" * 100_000, b"{'a': 1"])
def test_hostile_printed_notation_is_unreadable(body: bytes) -> None:
    with pytest.raises(wire.Unreadable):
        wire.decode(body)


def test_a_price_too_large_to_add_up_is_no_price() -> None:
    table = {USER: {"ru": {"": ["9E+999999", "0"]}, "ua": {"": ["0.1", "1"], "x": ["NaN", "0"]}}}
    rates = wire.rates(table, USER)
    estimate = rates.estimate({"ru": 3, "ua": 2})
    assert (estimate.total, estimate.unknown_countries) == (Decimal("0.2"), ("ru",))
    assert wire.money("1E+29") == Decimal("1E+29")


@pytest.mark.parametrize("params", [{}, {"msgid": "a"}, {"status": "delivrd"}])
def test_unreadable_callbacks_say_why(params: dict[str, str]) -> None:
    with pytest.raises(wire.Unreadable):
        wire.callback(params)


@pytest.mark.parametrize(
    ("when", "at"),
    [
        ("2017-01-23 12:34:56", datetime(2017, 1, 23, 12, 34, 56, tzinfo=UTC)),
        ("23.01.2017 12:34", None),
        ("1485174896", None),
        ("", None),
    ],
    ids=["datetime", "dotted", "unix", "none"],
)
def test_a_callback_is_read_whatever_its_datetime(when: str, at: datetime | None) -> None:
    report = wire.callback({"msgid": "a", "status": "DELIVRD", "datetime": when})
    assert (report.message_id, report.status, report.delivered) == ("a", "delivrd", True)
    assert (report.at, report.raw_date) == (at, when or None)


@pytest.fixture
def fake() -> Iterator[FakeInteltele]:
    """Run a fake gateway whose account knows USER and KEY."""
    with FakeInteltele(Account(username=USER, api_key=KEY)) as running:
        yield running


def raw_send(fake: FakeInteltele, **params: str) -> Any:
    """Call the fake's im/send with exactly ``params`` plus the credentials; return its JSON."""
    form = {"username": USER, "api_key": KEY, **params}
    return httpx.post(f"{fake.base_url}/im/send/", data=form).json()


GOOD = {"to": RU, "im_message": "hello"}
BUTTON = {"im_button_text": "Open", "im_button_link": "https://example.org/"}
IMAGE = {**BUTTON, "im_image": "https://example.org/a.jpg"}
SMS = {"sms_source": "Poster", "sms_message": "hello"}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"to": RU}, "can't send message"),
        ({"im_message": "hi"}, "can't send message"),
        ({**GOOD, "im_message": "x" * 1001}, "message is too long"),
        ({**GOOD, "im_ttl": "59"}, "can't send message"),
        ({**GOOD, "im_ttl": "86401"}, "can't send message"),
        ({**GOOD, "im_ttl": "1e3"}, "can't send message"),
        ({**GOOD, **IMAGE, "im_image": "https://example.org/a.PNG"}, "can't send message"),
        ({**GOOD, **IMAGE, "im_image": "https://example.org/a.gif"}, "can't send message"),
        ({**GOOD, **IMAGE, "im_image": "https://example.org/a.jpg?w=4"}, "can't send message"),
        ({**GOOD, **IMAGE, "im_image": "example.org/a.jpg"}, "can't send message"),
        ({**GOOD, "im_image": "https://example.org/a.jpg"}, "can't send message"),
        ({**GOOD, "im_button_text": "Open"}, "can't send message"),
        ({**GOOD, "im_button_link": "https://example.org/"}, "can't send message"),
        ({**GOOD, **BUTTON, "im_button_text": "x" * 31}, "can't send message"),
        ({**GOOD, **BUTTON, "im_button_link": "javascript:alert(1)"}, "can't send message"),
        ({**GOOD, **SMS, "sms_source": "ab"}, "can't send message"),
        ({**GOOD, **SMS, "sms_source": "1234567890123456"}, "can't send message"),
        ({**GOOD, **SMS, "sms_source": "IntelTeleCom"}, "can't send message"),
        ({**GOOD, "sms_source": "Poster"}, "can't send message"),
        ({**GOOD, "sms_message": "hi"}, "can't send message"),
    ],
    ids=[
        "no-message", "no-to", "too-long", "ttl-59", "ttl-86401", "ttl-not-int", "image-upper",
        "image-gif", "image-query", "image-not-link", "image-no-button", "button-no-link",
        "link-no-text",
        "button-31", "button-js", "sms-source-2", "sms-source-16", "sms-source-12-alpha",
        "sms-no-message", "sms-no-source",
    ],
)  # fmt: skip
def test_the_fake_refuses_what_the_document_forbids(
    fake: FakeInteltele, params: dict[str, str], error: str
) -> None:
    assert raw_send(fake, **params) == {"reply": [{"status": f"error: {error}"}]}
    assert fake.deliveries == []


@pytest.mark.parametrize(
    "params",
    [
        {**GOOD, "im_message": "Ж" * 1000, "im_ttl": "60"},
        {**GOOD, "im_ttl": "86400", **IMAGE, "im_image": "https://example.org/a.jpeg"},
        {**GOOD, **BUTTON, "im_button_text": "x" * 30},
        {**GOOD, **SMS, "sms_source": "123456789012345"},
        {**GOOD, **SMS, "sms_source": "IntelTele11"},
    ],
    ids=["limits-low", "limits-high", "button-30", "sms-numeric-15", "sms-alpha-11"],
)
def test_the_fake_accepts_what_the_document_allows(
    fake: FakeInteltele, params: dict[str, str]
) -> None:
    (entry,) = raw_send(fake, **params)["reply"]
    assert entry["status"] == "OK" and entry["number"] == RU
    assert fake.inbox(RU)[0].params == {k: v for k, v in params.items() if k != "to"}


@pytest.mark.parametrize("to", ["12ab", "+7123456789", "999999999", ""])
def test_the_fake_cannot_place_malformed_numbers(fake: FakeInteltele, to: str) -> None:
    answer = raw_send(fake, to=f"{RU},{to}" if to else RU, im_message="hi")
    statuses = [entry["status"] for entry in answer["reply"]]
    assert statuses == (["OK", "error: can't determine country"] if to else ["OK"])


@pytest.mark.parametrize(
    "params",
    [{}, {"requests": "a", "timeformat": "unix"}, {"requests": "a", "timezone": "Mars/Base"}],
    ids=["no-requests", "bad-timeformat", "bad-timezone"],
)
def test_the_fake_refuses_bad_status_requests(fake: FakeInteltele, params: dict[str, str]) -> None:
    form = {"username": USER, "api_key": KEY, **params}
    answer = httpx.get(f"{fake.base_url}/im/status/", params=form).json()
    assert answer == {"reply": [{"status": "error: can't send message"}]}


def test_the_fake_reads_no_params_from_a_json_body(fake: FakeInteltele) -> None:
    answer = httpx.post(f"{fake.base_url}/balance/", json={"username": USER, "api_key": KEY})
    assert answer.json() == {"reply": [{"status": "error: wrong username/api_key"}]}


def test_the_fake_refuses_unknown_faults(fake: FakeInteltele) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        fake.inject("explode")
