"""Test the DecisionTelecom client against the strict fake over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import respx
from support.clock import Clock

from poster.destinations.decisiontelecom.adapter import DecisionTelecomAdapter, Sending
from poster.destinations.decisiontelecom.api import ANSWER_MAX_BYTES, DecisionTelecomClient
from poster.destinations.decisiontelecom.codes import (
    ERRORS,
    FATAL,
    REJECT,
    REJECT_RECIPIENT,
    RETRY,
    GatewayError,
    classify,
)
from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.decisiontelecom.fakestate import Gateway
from poster.destinations.decisiontelecom.schema import (
    MessageStatus,
    MessageType,
    SendRequest,
    SourceType,
)
from poster.destinations.gateway import GatewayMessage
from poster.errors import (
    DeliveryError,
    DeliveryUncertain,
    DestinationFatal,
    MessageRejected,
    RetryLater,
)
from poster.fetch.apicall import api_client

KEY = "KEYMARK-7f3a9c1e5b"
PHONE = "380501112233"
TEXT_ONLY = SendRequest(
    "Custom Company", PHONE, MessageType.TEXT, "Hello", SourceType.TRANSACTIONAL
)
RICH = SendRequest(
    "Custom Company",
    PHONE,
    MessageType.TEXT_IMAGE_BUTTON,
    "Promo",
    SourceType.PROMOTIONAL,
    image="https://example.com/img/a.jpg",
    button_caption="Join Us",
    button_action="https://example.com/join",
    validity_period=3600,
)


@pytest.fixture
def clock() -> Clock:
    """Return a clock that only moves when a test moves it."""
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeDecisionTelecom]:
    """Run a fake gateway that accepts KEY, on 127.0.0.1."""
    with FakeDecisionTelecom(Gateway(KEY, clock=clock, balance=10.0, price=1.0)) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """Return one httpx client for the module: building one loads the CA bundle."""
    with httpx.Client() as client:
        yield client


@pytest.fixture(scope="module")
def direct() -> Iterator[httpx.Client]:
    """Return the client poster uses, whose calls go straight through its transport."""
    with api_client() as client:
        yield client


@pytest.fixture(params=["httpx", "direct"])
def api(
    fake: FakeDecisionTelecom,
    http: httpx.Client,
    direct: httpx.Client,
    request: pytest.FixtureRequest,
) -> DecisionTelecomClient:
    """Return a client pointed at the fake, with short timeouts, over either kind of client."""
    through = http if request.param == "httpx" else direct
    return DecisionTelecomClient(through, KEY, base_url=fake.base_url, timeout=httpx.Timeout(0.3))


def test_send_posts_json_with_basic_auth_of_the_key_and_returns_the_message_id(
    http: httpx.Client,
) -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post("https://web.it-decision.com/v1/api/send-viber").respond(
            200, json={"message_id": 429}
        )
        result = DecisionTelecomClient(http, KEY).send(RICH)
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(KEY.encode()).decode()
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == {
        "source_addr": "Custom Company",
        "destination_addr": 380501112233,
        "message_type": 108,
        "text": "Promo",
        "image": "https://example.com/img/a.jpg",
        "button_caption": "Join Us",
        "button_action": "https://example.com/join",
        "source_type": 1,
        "validity_period": 3600,
    }
    assert (result.accepted, result.message_id, result.phone) == (True, 429, PHONE)


def test_a_message_id_sent_as_text_is_read(http: httpx.Client) -> None:
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/send-viber").respond(
            200, json={"message_id": "431"}
        )
        assert DecisionTelecomClient(http, KEY).send(TEXT_ONLY).message_id == 431


def test_send_and_status_through_the_fake_advance_with_the_clock(
    fake: FakeDecisionTelecom, api: DecisionTelecomClient, clock: Clock
) -> None:
    result = api.send(RICH)
    assert result.accepted and result.message_id is not None
    assert [m.body["text"] for m in fake.gateway.inbox(PHONE)] == ["Promo"]
    assert api.status(result.message_id).status is MessageStatus.PENDING
    clock.now += 2
    assert api.status(result.message_id).status is MessageStatus.SENT
    clock.now += 10
    status = api.status(result.message_id)
    assert status.status is MessageStatus.DELIVERED and status.final and status.delivered


@pytest.mark.parametrize(
    ("numbers", "final"),
    [
        ("blacklisted", MessageStatus.REJECTED),
        ("unroutable", MessageStatus.ERROR),
        ("offline", MessageStatus.UNDELIVERED),
    ],
)
def test_numbers_the_gateway_cannot_serve_end_in_their_status(
    fake: FakeDecisionTelecom,
    api: DecisionTelecomClient,
    clock: Clock,
    numbers: str,
    final: MessageStatus,
) -> None:
    getattr(fake.gateway.numbers, numbers).add(PHONE)
    result = api.send(RICH)
    assert result.message_id is not None
    clock.now += RICH.validity_period or 0
    assert api.status(result.message_id).status is final


def test_a_number_of_unknown_country_is_a_refused_recipient_not_an_exception(
    fake: FakeDecisionTelecom, api: DecisionTelecomClient
) -> None:
    fake.gateway.numbers.unknown_country.add(PHONE)
    result = api.send(TEXT_ONLY)
    assert not result.accepted and result.message_id is None
    assert "Invalid Parameter: destination_addr" in result.status_text
    assert result.hint and fake.gateway.messages == []


def test_a_malformed_phone_is_refused_before_any_call(api: DecisionTelecomClient) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route()
        result = api.send(replace(TEXT_ONLY, destination_addr="+38 050 BAD"))
    assert not result.accepted and not route.called
    assert result.status_text == (
        "Invalid Parameter: destination_addr (destination_addr must be 1 to 20 digits)"
    )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"text": "x" * 1001}, MessageRejected),
        ({"button_caption": "x" * 31}, MessageRejected),
        ({"image": "https://example.com/a.gif"}, MessageRejected),
        ({"source_addr": "x" * 21}, DestinationFatal),
        ({"validity_period": 39}, DestinationFatal),
        ({"source_type": SourceType.TRANSACTIONAL}, DestinationFatal),
        ({"message_type": MessageType.TEXT_IMAGE_BUTTON_TWO_WAY}, DestinationFatal),
    ],
    ids=["text", "caption", "image", "sender", "ttl", "type-mismatch", "two-way-no-callback"],
)
def test_a_message_breaking_the_rules_raises_before_any_call(
    api: DecisionTelecomClient, change: dict[str, Any], error: type[DeliveryError]
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route()
        with pytest.raises(error) as caught:
            api.send(replace(RICH, **change))
    assert not route.called
    assert caught.value.status_message.startswith("Invalid Parameter: ")


def error_answer(status: int, code: int, name: str) -> dict[str, Any]:
    """Return the document's error object."""
    return {"name": name, "message": "m", "code": code, "status": status}


@pytest.mark.parametrize(
    ("status", "code", "name", "error"),
    [
        (429, 0, "Too Many Requests", RetryLater),
        (400, 1, "Invalid Parameter: text", MessageRejected),
        (400, 1, "Invalid Parameter: source_addr", DestinationFatal),
        (500, 2, "Internal server error", RetryLater),
        (402, 3, "Topup balance is required", DestinationFatal),
        (401, 0, "Unauthorized", DestinationFatal),
        (403, 0, "Forbidden", DestinationFatal),
    ],
    ids=["rate", "param", "sender", "internal", "topup", "unauthorized", "forbidden"],
)
@pytest.mark.parametrize("http_status", ["same", "200"])
@pytest.mark.parametrize("layout", ["keys", "keys-as-laid-out", "no-message"])
def test_every_error_object_raises_by_the_table(
    status: int,
    code: int,
    name: str,
    error: type[DeliveryError],
    http_status: str,
    layout: str,
    http: httpx.Client,
) -> None:
    answer = error_answer(status, code, name)
    if layout == "keys-as-laid-out":  # the document writes "Name", then message, code, status
        answer["Name"] = answer.pop("name")
    elif layout == "no-message":
        del answer["message"]
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/send-viber").respond(
            status if http_status == "same" else 200, json=answer, headers={"Retry-After": "7"}
        )
        with pytest.raises(error) as caught:
            DecisionTelecomClient(http, KEY).send(TEXT_ONLY)
    assert type(caught.value) is error
    assert caught.value.status == status and caught.value.status_message == name
    if error is RetryLater:
        assert caught.value.retry_after == 7


def test_every_documented_error_has_an_action_and_a_hint() -> None:
    expected = {(429, 0): RETRY, (400, 1): REJECT, (500, 2): RETRY, (402, 3): FATAL}
    assert {key: entry.action for key, entry in ERRORS.items()} == expected
    for (status, code), entry in ERRORS.items():
        name = entry.name.replace("[param_name]", "text")
        action, hint = classify(GatewayError(status, name, entry.message, code, status))
        assert action == entry.action and hint
    found = classify(GatewayError(400, "Invalid Parameter: destination_addr", "", 1, 400))
    assert found[0] == REJECT_RECIPIENT


@pytest.mark.parametrize("name", ["[destination_addr]", "destination_addr", "[ destination_addr ]"])
def test_a_refused_phone_is_read_with_or_without_the_documents_brackets(
    name: str, http: httpx.Client
) -> None:
    answer = error_answer(400, 1, f"Invalid Parameter: {name}")
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/send-viber").respond(400, json=answer)
        result = DecisionTelecomClient(http, KEY).send(TEXT_ONLY)
    assert not result.accepted and result.message_id is None
    assert "phone number" in result.hint


@pytest.mark.parametrize(
    ("name", "action"),
    [("[source_addr]", FATAL), ("[text]", REJECT), ("[message_id]", REJECT), ("[]", REJECT)],
)
def test_every_parameter_is_read_inside_the_documents_brackets(name: str, action: str) -> None:
    found = classify(GatewayError(400, f"Invalid Parameter: {name}", "", 1, 400))
    assert found[0] == action
    if name != "[]":
        assert "refused the field" not in found[1]


def test_rate_limit_of_the_fake_raises_retry_later_with_its_wait(
    fake: FakeDecisionTelecom, api: DecisionTelecomClient, clock: Clock
) -> None:
    fake.gateway.rate_limit = 1
    api.send(TEXT_ONLY)
    with pytest.raises(RetryLater) as caught:
        api.send(TEXT_ONLY)
    assert type(caught.value) is RetryLater and caught.value.retry_after == 1
    clock.now += 1
    assert api.send(TEXT_ONLY).accepted
    assert len(fake.gateway.messages) == 2


def test_an_empty_balance_stops_the_destination(
    fake: FakeDecisionTelecom, api: DecisionTelecomClient
) -> None:
    fake.gateway.balance = 2.0
    api.send(TEXT_ONLY)
    api.send(TEXT_ONLY)
    with pytest.raises(DestinationFatal, match="Topup balance is required") as caught:
        api.send(TEXT_ONLY)
    assert caught.value.status == 402 and len(fake.gateway.messages) == 2


WITH_COLON = f"Basic {base64.b64encode(f'{KEY}:'.encode()).decode()}"
"""The header of the document's PHP example: curl sends the key as a user with no password."""


@pytest.mark.parametrize(
    ("taken", "tries"),
    [(WITH_COLON, 2), (f"Basic {KEY}", 3)],
    ids=["the-php-examples-user-and-colon", "the-curl-examples-key-as-given"],
)
def test_a_gateway_reading_the_key_as_another_example_does_is_answered_at_a_later_try(
    http: httpx.Client, taken: str, tries: int
) -> None:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers["Authorization"])
        if request.headers["Authorization"] != taken:
            return httpx.Response(401, json=error_answer(401, 0, "Unauthorized"))
        return httpx.Response(200, json={"message_id": len(asked)})

    client = DecisionTelecomClient(http, KEY)
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/send-viber").mock(side_effect=answer)
        assert client.send(TEXT_ONLY).message_id == tries
        assert client.send(TEXT_ONLY).accepted
    assert len(asked) == tries + 1 and asked[tries:] == [taken]  # the form taken is kept


def test_a_gateway_wanting_the_number_as_text_gets_it_so_from_the_first_refusal_on(
    http: httpx.Client,
) -> None:
    sent: list[object] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(number := json.loads(request.content)["destination_addr"])
        if not isinstance(number, str):
            return httpx.Response(
                400, json=error_answer(400, 1, "Invalid Parameter: destination_addr")
            )
        return httpx.Response(200, json={"message_id": len(sent)})

    client = DecisionTelecomClient(http, KEY)
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/send-viber").mock(side_effect=answer)
        assert [client.send(TEXT_ONLY).accepted for _ in range(2)] == [True, True]
    assert sent == [int(PHONE), PHONE, PHONE]


def test_a_number_refused_while_another_send_learns_the_text_form_is_offered_as_text(
    http: httpx.Client,
) -> None:
    client = DecisionTelecomClient(http, KEY)
    sent: list[object] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(number := json.loads(request.content)["destination_addr"])
        if isinstance(number, str):
            return httpx.Response(200, json={"message_id": len(sent)})
        client._number_as = str  # meanwhile, a send on another thread found the text form
        return httpx.Response(400, json=error_answer(400, 1, "Invalid Parameter: destination_addr"))

    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/send-viber").mock(side_effect=answer)
        assert client.send(TEXT_ONLY).accepted
    assert sent == [int(PHONE), PHONE]


def test_a_number_refused_in_both_forms_is_a_refused_recipient_asked_twice_until_one_is_taken(
    http: httpx.Client,
) -> None:
    refused = "380509999999"
    sent: list[object] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(number := json.loads(request.content)["destination_addr"])
        if str(number) == refused:
            return httpx.Response(
                400, json=error_answer(400, 1, "Invalid Parameter: destination_addr")
            )
        return httpx.Response(200, json={"message_id": len(sent)})

    client = DecisionTelecomClient(http, KEY)
    other = replace(TEXT_ONLY, destination_addr=refused)
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/send-viber").mock(side_effect=answer)
        assert not client.send(other).accepted
        assert client.send(TEXT_ONLY).accepted
        assert not client.send(other).accepted
    assert sent == [380509999999, "380509999999", int(PHONE), 380509999999]


def test_a_message_id_in_letters_is_kept_and_asked_about_as_it_came(http: httpx.Client) -> None:
    uuid = "5c7e2f6a-1f0e-4f7b-9a51-0d8f1b2c3d4e"
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/send-viber").respond(
            200, json={"message_id": uuid}
        )
        asked = mock.post("https://web.it-decision.com/v1/api/receive-viber").respond(
            200, json={"message_id": uuid, "status": 1}
        )
        adapter = DecisionTelecomAdapter(
            DecisionTelecomClient(http, KEY), Sending("Poster", SourceType.PROMOTIONAL, None, False)
        )
        sent = adapter.send(GatewayMessage("text", "news", "k1", "Hello"), [PHONE])
        assert sent.accepted == {PHONE: uuid}
        updates = adapter.statuses([uuid])
    assert json.loads(asked.calls.last.request.content) == {"message_id": uuid}
    assert [(u.ref, u.status) for u in updates] == [(uuid, "delivered")]


def test_a_wrong_key_is_fatal_and_never_quoted(
    fake: FakeDecisionTelecom, http: httpx.Client
) -> None:
    wrong = DecisionTelecomClient(http, "WRONGKEY-123", base_url=fake.base_url)
    with pytest.raises(DestinationFatal) as caught:
        wrong.send(TEXT_ONLY)
    assert caught.value.status == 401
    assert "WRONGKEY" not in str(caught.value) and "WRONGKEY" not in repr(wrong)


@pytest.mark.parametrize(
    ("fault", "error"),
    [("drop", DeliveryUncertain), ("slow:1", DeliveryUncertain), ("garbled500", DeliveryUncertain),
     ("http500", RetryLater)],
)  # fmt: skip
def test_lost_or_failed_send_answers(
    fake: FakeDecisionTelecom, api: DecisionTelecomClient, fault: str, error: type[RetryLater]
) -> None:
    fake.gateway.inject(fault)
    with pytest.raises(error) as caught:
        api.send(TEXT_ONLY)
    assert type(caught.value) is error


def test_a_lost_status_answer_is_only_retried(
    fake: FakeDecisionTelecom, api: DecisionTelecomClient
) -> None:
    found = api.send(TEXT_ONLY).message_id
    assert found is not None
    fake.gateway.inject("drop")
    with pytest.raises(RetryLater) as caught:
        api.status(found)
    assert type(caught.value) is RetryLater


def _poll(
    http: httpx.Client, answers: list[httpx.Response | Exception]
) -> tuple[list[int], list[str]]:
    """Poll ids 1 to 10 through answers given in turn (then "no status yet"); return the ids
    asked and those that got a final status."""
    asked: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(json.loads(request.content)["message_id"])
        found = answers.pop(0) if answers else httpx.Response(200, json={"message_id": 9})
        if isinstance(found, Exception):
            raise found
        return found

    adapter = DecisionTelecomAdapter(
        DecisionTelecomClient(http, KEY), Sending("Poster", SourceType.PROMOTIONAL, None, False)
    )
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/receive-viber").mock(side_effect=answer)
        updates = adapter.statuses([str(n) for n in range(1, 11)])
    return asked, [str(update.ref) for update in updates]


DELIVERED_1 = httpx.Response(200, json={"message_id": 1, "status": 1})
NO_STATUS_YET = httpx.Response(200, json={"message_id": 2})
SERVER_ERROR = httpx.Response(500, json=error_answer(500, 2, "Internal server error"))


@pytest.mark.parametrize(
    "pause",
    [httpx.Response(429, json=error_answer(429, 0, "Too Many Requests")), httpx.ConnectError("x")],
    ids=["rate-limit", "no-connection"],
)
def test_a_status_poll_stops_at_a_rate_limit_or_no_connection(
    http: httpx.Client, pause: httpx.Response | Exception
) -> None:
    asked, final = _poll(http, [DELIVERED_1, NO_STATUS_YET, pause])
    assert (asked, final) == ([1, 2, 3], ["1"])


def test_a_server_error_for_one_id_alone_does_not_hold_up_the_others(http: httpx.Client) -> None:
    asked, final = _poll(http, [SERVER_ERROR, DELIVERED_1])
    assert asked == list(range(1, 11)) and final == ["1"]


def test_server_errors_for_three_ids_in_a_row_stop_the_poll(http: httpx.Client) -> None:
    asked, _ = _poll(http, [NO_STATUS_YET, SERVER_ERROR, SERVER_ERROR, SERVER_ERROR])
    assert asked == [1, 2, 3, 4]


def test_an_unknown_message_id_is_rejected(api: DecisionTelecomClient) -> None:
    with pytest.raises(MessageRejected, match="Invalid Parameter: message_id"):
        api.status(999999)


def test_an_oversized_answer_is_uncertain(http: httpx.Client) -> None:
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/send-viber").respond(
            200, content=b" " * (ANSWER_MAX_BYTES + 1)
        )
        with pytest.raises(DeliveryUncertain):
            DecisionTelecomClient(http, KEY).send(TEXT_ONLY)


def test_a_refused_connection_is_retried_without_doubt(http: httpx.Client) -> None:
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/send-viber").mock(
            side_effect=httpx.ConnectError("refused")
        )
        with pytest.raises(RetryLater) as caught:
            DecisionTelecomClient(http, KEY).send(TEXT_ONLY)
    assert type(caught.value) is RetryLater


def test_the_key_is_in_no_error_log_or_preview(
    fake: FakeDecisionTelecom, api: DecisionTelecomClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    encoded = base64.b64encode(KEY.encode()).decode()
    api.send(TEXT_ONLY)
    errors: list[str] = []
    for fault in ("drop", "http500", "garbled500"):
        fake.gateway.inject(fault)
        with pytest.raises(DeliveryError) as caught:
            api.send(TEXT_ONLY)
        errors.append(f"{caught.value} {caught.value!r} {caught.value.__cause__!r}")
    seen = " ".join([*errors, caplog.text, repr(api), json.dumps(TEXT_ONLY.redacted())])
    assert KEY not in seen and encoded not in seen
    assert TEXT_ONLY.redacted()["headers"]["Authorization"] == "Basic ***"


def test_an_empty_key_is_refused_at_once(http: httpx.Client) -> None:
    with pytest.raises(DestinationFatal, match="access key is empty"):
        DecisionTelecomClient(http, " ")


@pytest.mark.parametrize(
    ("status", "error"),
    [(301, DestinationFatal), (404, DestinationFatal), (413, MessageRejected),
     (429, RetryLater), (503, DeliveryUncertain)],
)  # fmt: skip
def test_answers_without_an_error_object_act_by_http_status(
    http: httpx.Client, status: int, error: type[DeliveryError]
) -> None:
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/send-viber").respond(
            status, content=b"<html>nope</html>", headers={"X-Rate-Limit-Reset": "9"}
        )
        with pytest.raises(error) as caught:
            DecisionTelecomClient(http, KEY).send(TEXT_ONLY)
    assert type(caught.value) is error
    if error is RetryLater:
        assert caught.value.retry_after == 9


def test_a_status_answer_printed_as_the_document_prints_it_is_read(http: httpx.Client) -> None:
    printed = b'{\n"message_id":429,\n"status":1,\n}'  # the comma before the brace, as printed
    with respx.mock() as mock:
        mock.post("https://web.it-decision.com/v1/api/receive-viber").respond(200, content=printed)
        found = DecisionTelecomClient(http, KEY).status(429)
    assert found is not None and (found.message_id, found.status) == (429, 1)
