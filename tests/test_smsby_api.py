"""Test the SMS.BY client against the strict fake over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
from support.callbacks import CallbackReceiver

from poster.destinations.smsby import codes, parse
from poster.destinations.smsby.adapter import opted_out
from poster.destinations.smsby.api import SmsByClient, parse_bulk_callback
from poster.destinations.smsby.fake import DEFAULT_TOKEN, SmsByFake
from poster.destinations.smsby.schema import (
    BulkMessage,
    BulkRequest,
    Content,
    FormContent,
    ListMessage,
    Personal,
    QuickMessage,
    RecipientResult,
)
from poster.errors import (
    DeliveryError,
    DeliveryUncertain,
    DestinationFatal,
    MessageRejected,
    RetryLater,
)

PHONE = "375291111111"
OTHER = "375292222222"
TEXT = QuickMessage(7, PHONE, FormContent(message="hello"))


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """Share one HTTP client across the module."""
    with httpx.Client() as client:
        _SHARED.append(client)
        yield client
        _SHARED.clear()


_SHARED: list[httpx.Client] = []


def other(fake: SmsByFake, token: str = DEFAULT_TOKEN, path: str = "") -> SmsByClient:
    """Return a client of the fake with another token or base URL."""
    return SmsByClient(_SHARED[0], token, base_url=fake.base_url + path, timeout=1)


@pytest.fixture
def fake() -> Iterator[SmsByFake]:
    """Run the fake with a stored list of two subscribers."""
    with SmsByFake() as running:
        running.gateway.lists[3] = ("news", (PHONE, OTHER))
        yield running


@pytest.fixture
def client(fake: SmsByFake, http: httpx.Client) -> SmsByClient:
    """Return a client of the fake with a short timeout."""
    return SmsByClient(http, DEFAULT_TOKEN, base_url=fake.base_url, timeout=1)


def bulk(*phones: str, content: Content | None = None, callback: str | None = None) -> BulkRequest:
    """Return a bulk request of one mailing to ``phones``."""
    message = BulkMessage(444, "news", content or Content("text", text="news"), phones or (PHONE,))
    return BulkRequest((message,), callback)


def test_send_bulk_sends_the_sample_shape_as_json(fake: SmsByFake, client: SmsByClient) -> None:
    accepted = client.send_bulk(bulk(PHONE, OTHER))
    seen = fake.requests[-1]
    assert (seen.content_type, seen.query) == ("application/json", {"token": DEFAULT_TOKEN})
    assert seen.body["token"] == DEFAULT_TOKEN
    assert seen.body["messages"][0]["alphaname_id"] == "444"
    assert accepted.uuid in fake.gateway.bulks
    assert [d.text for d in fake.got(OTHER)] == ["news"]


def test_send_bulk_puts_token_and_callback_in_the_query_and_the_body(
    fake: SmsByFake, client: SmsByClient
) -> None:
    url = "https://poster.test/gateway/subs/s3cret"
    uuid = client.send_bulk(bulk(callback=url)).uuid
    seen = fake.requests[-1]
    assert seen.query == {"token": DEFAULT_TOKEN, "callback_url": url}
    assert (seen.body["token"], seen.body["callback_url"]) == (DEFAULT_TOKEN, url)
    assert fake.gateway.callbacks == {uuid: url}


@pytest.mark.parametrize("fault", ["drop", "500"])
def test_a_failed_bulk_send_never_shows_the_token(
    fake: SmsByFake, client: SmsByClient, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="poster")
    fake.faults.append(fault)
    with pytest.raises(DeliveryError) as caught:
        client.send_bulk(bulk(callback="https://poster.test/hook"))
    assert fake.requests[-1].query["token"] == DEFAULT_TOKEN
    shown = [str(caught.value), repr(caught.value), str(caught.value.__cause__), caplog.text]
    assert all(DEFAULT_TOKEN not in text for text in shown)


def test_bulk_status_advances_with_the_clock(fake: SmsByFake, client: SmsByClient) -> None:
    uuid = client.send_bulk(bulk()).uuid
    seen = []
    for seconds in (0, 1, 4, 25):
        fake.advance(seconds)
        seen.append(client.bulk_status(uuid).mailings[0].recipients[0].status)
    assert seen == ["NEW", "SENT", "DELIVERED", "READ"]
    assert set(fake.requests[-1].query) == {"token", "uuid"}


def test_personal_and_button_mailings_reach_each_phone(
    fake: SmsByFake, client: SmsByClient
) -> None:
    content = Content("button", image_url="https://e.org/a.jpg", caption="Push me")
    entries = (Personal(PHONE, "one", "https://e.org/1"), Personal(OTHER, "two", "https://e.org/2"))
    message = BulkMessage(444, "personal", content, entries, "personal")
    client.send_bulk(BulkRequest((message,)))
    got = fake.got(OTHER)[0]
    assert (got.text, got.button, got.button_link) == ("two", "Push me", "https://e.org/2")


@pytest.mark.parametrize(
    ("bucket", "code", "key"),
    [("blacklisted", 1, "blacklist"), ("unroutable", 2, "no-route"),
     ("unknown_country", 3, "country")],
)  # fmt: skip
def test_bulk_reports_refused_numbers_per_phone(
    fake: SmsByFake, client: SmsByClient, bucket: str, code: int, key: str
) -> None:
    getattr(fake.gateway, bucket).add(OTHER)
    status = client.bulk_status(client.send_bulk(bulk(PHONE, OTHER)).uuid)
    good, bad = status.mailings[0].recipients
    assert good.accepted and not bad.accepted
    assert (bad.error_code, bad.action) == (code, codes.REJECT_RECIPIENT)
    assert bad.error == codes.rule(key).text
    assert fake.got(OTHER) == []


@pytest.mark.parametrize(
    ("image", "key"),
    [("ftp://e.org/a.jpg", "content-url"), ("https://e.org/big.jpg", "image-size")],
)
def test_bulk_content_errors_come_back_as_mailing_errors(
    fake: SmsByFake, client: SmsByClient, image: str, key: str
) -> None:
    fake.gateway.bad_size_images.add("https://e.org/big.jpg")
    status = client.bulk_status(
        client.send_bulk(bulk(content=Content("image", image_url=image))).uuid
    )
    assert status.mailings == ()
    (error,) = status.errors
    assert (error.name, error.text, error.action) == ("news", codes.rule(key).text, "reject")
    assert fake.got(PHONE) == []


@pytest.mark.parametrize(
    ("names", "name", "reason"),
    [
        pytest.param(("news: a: b",), "news: a: b", "Content url is not valid", id="sent-name"),
        pytest.param(("news: a", "news: a: b"), "news: a: b", "Content url is not valid",
                     id="longest-sent-name"),
        pytest.param((), "news", "a: b: Content url is not valid", id="first-colon"),
    ],
)  # fmt: skip
def test_an_error_line_is_read_by_the_names_poster_sent(
    names: tuple[str, ...], name: str, reason: str
) -> None:
    data = [{"errors": ["news: a: b: Content url is not valid"]}]
    (error,) = parse.bulk_status(data, names).errors
    assert (error.name, error.text, error.action) == (name, reason, codes.REJECT)


@pytest.mark.parametrize(
    ("shape", "named", "statuses"),
    [
        ("statuses", False, ["NEW", "DELIVERED"]),
        ("both", True, ["NEW", "DELIVERED"]),
        ("accepted", True, [None, None]),
    ],
)
def test_status_changes_are_posted_to_the_callback_url(
    fake: SmsByFake, client: SmsByClient, shape: str, named: bool, statuses: list[str | None]
) -> None:
    fake.callback_shape = shape
    with CallbackReceiver("/webhook.php") as receiver:
        uuid = client.send_bulk(bulk(callback=receiver.url)).uuid
        for seconds in (0, 0, 5):  # the second pump has nothing new to say
            fake.advance(seconds)
    said = [parse_bulk_callback(body) for body in receiver.bodies]
    assert [s.uuid for s in said] == [uuid if named else ""] * 2
    shown = [s.status.mailings[0].recipients[0].status if s.status else None for s in said]
    assert shown == statuses


def test_quick_send_uses_form_data_and_reports_delivery(
    fake: SmsByFake, client: SmsByClient
) -> None:
    result = client.send_quick(TEXT)
    seen = fake.requests[-1]
    assert seen.content_type == "application/x-www-form-urlencoded"
    assert seen.form["token"] == DEFAULT_TOKEN and seen.query == {}
    assert result == RecipientResult(PHONE, True, "8484", status="NEW")
    fake.advance(31)
    assert client.delivery_data(8484).status == "READ"
    assert [d.text for d in fake.got(PHONE)] == ["hello"]


@pytest.mark.parametrize(
    ("setup", "phone", "key"),
    [
        pytest.param(lambda g: g.blacklisted.add(PHONE), PHONE, "blacklist", id="blacklist"),
        pytest.param(lambda g: g.unroutable.add(PHONE), PHONE, "no-route", id="no-route"),
        pytest.param(lambda g: g.unknown_country.add(PHONE), PHONE, "country", id="country"),
        pytest.param(lambda g: None, "+375291111111", "phone", id="phone"),
    ],
)
def test_quick_send_returns_refused_numbers_as_results(
    fake: SmsByFake, client: SmsByClient, setup: Callable[[Any], None], phone: str, key: str
) -> None:
    setup(fake.gateway)
    result = client.send_quick(QuickMessage(7, phone, FormContent(message="hello")))
    assert (result.accepted, result.action) == (False, codes.REJECT_RECIPIENT)
    assert codes.classify(None, result.error).key == key
    assert fake.gateway.deliveries == []


def test_repeat_within_the_window_is_refused_per_number(
    fake: SmsByFake, client: SmsByClient
) -> None:
    fake.gateway.repeat_window = fake.gateway.stages[2]
    assert client.send_quick(TEXT).accepted
    again = client.send_quick(TEXT)
    assert (again.accepted, codes.classify(None, again.error).key) == (False, "repeat")
    fake.advance(31)
    assert client.send_quick(TEXT).accepted


def test_list_mailing_is_sent_and_paid_only_on_confirm(
    fake: SmsByFake, client: SmsByClient
) -> None:
    balance = fake.gateway.balance
    draft = client.create_list_mailing(ListMessage(7, 3, FormContent(message="list"), "weekly"))
    assert draft.count_subscribers == 2
    assert (fake.got(PHONE), fake.gateway.balance) == ([], balance)
    client.confirm(draft.message_id)
    seen = fake.requests[-1]
    assert (seen.query, seen.form) == ({"token": DEFAULT_TOKEN}, {"message_id": draft.message_id})
    assert fake.gateway.balance == balance - 2 * fake.gateway.price
    assert [r.phone for r in client.delivery_list(draft.message_id)] == [PHONE, OTHER]
    assert client.mailing(draft.message_id).cost == "0.09800 EUR"
    assert [m.message for m in client.mailings()] == ["list"]


def test_look_ups_list_names_and_lists(client: SmsByClient) -> None:
    assert [(n.vibername_id, n.name) for n in client.vibernames()] == [(7, "Poster")]
    (found,) = client.subscriber_lists()
    assert (found.list_id, found.name, found.count) == (3, "news", 2)


def _wrong_token(fake: SmsByFake, client: SmsByClient) -> None:
    other(fake, token="wrong-token-123").send_quick(TEXT)


def _send_bulk(fake: SmsByFake, client: SmsByClient) -> None:
    client.send_bulk(bulk(PHONE))


def _confirm_twice(fake: SmsByFake, client: SmsByClient) -> None:
    draft = client.create_list_mailing(ListMessage(7, 3, FormContent(message="m")))
    client.confirm(draft.message_id)
    client.confirm(draft.message_id)


LONG_CAPTION = Content("button", "t", None, "https://e.org", "c" * 31)

# Each rule of codes.ERRORS made to happen on the fake, and the exception poster raises for it.
RAISED: dict[str, tuple[Callable[[SmsByFake, SmsByClient], None], type[DeliveryError]]] = {
    "invalid-request": (
        lambda f, c: c.send_bulk(bulk(content=LONG_CAPTION)),
        MessageRejected,
    ),
    "not-found": (
        lambda f, c: other(f, path="/x").vibernames(),
        DestinationFatal,
    ),
    "rate-limit": (lambda f, c: [c.vibernames() for _ in range(2)], RetryLater),
    "server": (lambda f, c: (f.faults.append("500"), c.send_quick(TEXT)), RetryLater),
    "token": (_wrong_token, DestinationFatal),
    "ip": (lambda f, c: (setattr(f.gateway, "ip_allowed", False), c.send_quick(TEXT)),
           DestinationFatal),
    "bruteforce": (lambda f, c: (setattr(f.gateway, "bruteforce_after", 0), _send_bulk(f, c)),
                   DestinationFatal),
    "sender": (lambda f, c: (f.gateway.banned_vibernames.add(7), c.send_quick(TEXT)),
               DestinationFatal),
    "balance": (lambda f, c: (setattr(f.gateway, "balance", 0), _send_bulk(f, c)),
                DestinationFatal),
    "not-found-id": (lambda f, c: c.delivery_data(1), MessageRejected),
    "confirmed": (_confirm_twice, MessageRejected),
}  # fmt: skip
RESULTS = {"content-url", "image-size", "blacklist", "no-route", "country", "repeat", "phone"}
"""Rules that come back as results, tested above."""


def test_every_rule_of_the_error_table_is_tested() -> None:
    assert set(RAISED) | RESULTS == {rule.key for rule in codes.ERRORS}


@pytest.mark.parametrize("key", sorted(RAISED))
def test_each_error_becomes_its_exception(fake: SmsByFake, client: SmsByClient, key: str) -> None:
    fake.rate_limit = 1 if key == "rate-limit" else None
    make, kind = RAISED[key]
    with pytest.raises(DeliveryError) as caught:
        make(fake, client)
    assert type(caught.value) is kind
    assert codes.rule(key).hint in str(caught.value)
    assert DEFAULT_TOKEN not in str(caught.value)


def test_rate_limit_honours_retry_after(fake: SmsByFake, client: SmsByClient) -> None:
    fake.rate_limit, fake.rate_window = 1, fake.gateway.stages[1]
    client.vibernames()
    with pytest.raises(RetryLater) as caught:
        client.vibernames()
    assert (caught.value.retry_after, caught.value.status) == (5.0, 429)


@pytest.mark.parametrize(
    ("fault", "call"),
    [
        pytest.param("drop", lambda c: c.send_quick(TEXT), id="quick-dropped"),
        pytest.param("504", lambda c: c.send_quick(TEXT), id="quick-proxy-504"),
        pytest.param("slow:3", lambda c: c.send_quick(TEXT), id="quick-timeout"),
        pytest.param("drop", lambda c: c.send_bulk(bulk()), id="bulk-dropped"),
        pytest.param("504", lambda c: c.send_bulk(bulk()), id="bulk-proxy-504"),
    ],
)
def test_lost_answers_to_sends_are_uncertain(
    fake: SmsByFake, client: SmsByClient, fault: str, call: Callable[[SmsByClient], object]
) -> None:
    fake.faults.append(fault)
    with pytest.raises(DeliveryUncertain):
        call(client)
    assert len(fake.got(PHONE)) == 1  # the message did go out


@pytest.mark.parametrize("fault", ["500", "garbage-500"])
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.send_quick(TEXT), id="quick"),
        pytest.param(lambda c: c.send_bulk(bulk()), id="bulk"),
    ],
)
def test_a_send_answered_500_is_retried_whatever_the_body(
    fake: SmsByFake, client: SmsByClient, fault: str, call: Callable[[SmsByClient], object]
) -> None:
    fake.faults.append(fault)
    with pytest.raises(RetryLater) as caught:
        call(client)
    assert type(caught.value) is RetryLater and caught.value.status == 500
    assert fake.gateway.deliveries == []
    call(client)
    assert len(fake.got(PHONE)) == 1


@respx.mock
@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        pytest.param(500, b"", RetryLater, id="500-empty"),
        pytest.param(500, b"<html>Server Error</html>", RetryLater, id="500-html"),
        pytest.param(500, b'{"error": "Server unavailable"}', RetryLater, id="500-json"),
        pytest.param(503, b"<html>busy</html>", RetryLater, id="503-html"),
        pytest.param(502, b'{"error": "Bad gateway"}', DeliveryUncertain, id="502-json"),
        pytest.param(504, b"", DeliveryUncertain, id="504-empty"),
    ],
)  # fmt: skip
def test_a_send_answered_5xx_depends_on_the_status_alone(
    status: int, body: bytes, kind: type[DeliveryError]
) -> None:
    respx.post("https://app.sms.by/api/v1/sendBulkViber").respond(status, content=body)
    with httpx.Client() as mocked, pytest.raises(DeliveryError) as caught:
        SmsByClient(mocked, DEFAULT_TOKEN).send_bulk(bulk())
    assert type(caught.value) is kind


@respx.mock
@pytest.mark.parametrize(
    ("path", "call", "status", "body"),
    [
        pytest.param("v2/sendQuickViberMessage", lambda c: c.send_quick(TEXT), 500,
                     {"error": "Undefined index: phone"}, id="quick-500-phone"),
        pytest.param("v1/sendBulkViber", lambda c: c.send_bulk(bulk()), 500,
                     {"error": "Internal error: invalid token cache"}, id="bulk-500-token"),
        pytest.param("v1/sendBulkViber", lambda c: c.send_bulk(bulk()), 503,
                     {"error": "Balance service is down"}, id="bulk-503-balance"),
        pytest.param("v1/statusBulkViber", lambda c: c.bulk_status("u"), 500,
                     {"error": "uuid not found in cache"}, id="status-500-not-found"),
        pytest.param("v2/getVibernames", lambda c: c.vibernames(), 429,
                     {"error": "IP 10.0.0.1 is over its quota"}, id="look-up-429-ip"),
    ],
)  # fmt: skip
def test_a_rate_limit_or_an_unavailable_server_is_retried_whatever_the_body_says(
    path: str, call: Callable[[SmsByClient], object], status: int, body: dict[str, str]
) -> None:
    respx.post(f"https://app.sms.by/api/{path}").respond(status, json=body)
    with httpx.Client() as mocked, pytest.raises(RetryLater) as caught:
        call(SmsByClient(mocked, DEFAULT_TOKEN))
    assert type(caught.value) is RetryLater and caught.value.status == status
    assert body["error"] in str(caught.value)


def test_lost_answer_to_confirm_is_uncertain(fake: SmsByFake, client: SmsByClient) -> None:
    draft = client.create_list_mailing(ListMessage(7, 3, FormContent(message="m")))
    fake.faults.append("drop")
    with pytest.raises(DeliveryUncertain):
        client.confirm(draft.message_id)
    assert len(fake.got(PHONE)) == 1


@respx.mock
@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(500, b'{"error": "Server unavailable"}', id="500-json"),
        pytest.param(500, b"<html>Internal Server Error</html>", id="500-html"),
        pytest.param(503, b"", id="503-empty"),
        pytest.param(502, b'{"error": "Bad gateway"}', id="502-json"),
    ],
)
def test_a_5xx_retries_the_creation_of_a_list_mailing_but_leaves_its_confirmation_uncertain(
    status: int, body: bytes
) -> None:
    respx.post("https://app.sms.by/api/v2/sendViberMessageList").respond(status, content=body)
    respx.post("https://app.sms.by/api/v2/confirmViberMessage").respond(status, content=body)
    with httpx.Client() as mocked:
        client = SmsByClient(mocked, DEFAULT_TOKEN)
        with pytest.raises(RetryLater) as created:
            client.create_list_mailing(ListMessage(7, 3, FormContent(message="m")))
        with pytest.raises(DeliveryUncertain) as confirmed:
            client.confirm(4905)
    assert type(created.value) is RetryLater
    assert confirmed.value.status == status
    assert "which charges the mailing" in str(confirmed.value)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.create_list_mailing(ListMessage(7, 3, FormContent(message="m"))),
                     id="create-list-mailing"),
        pytest.param(lambda c: c.vibernames(), id="look-up"),
    ],
)  # fmt: skip
def test_lost_answers_to_calls_that_send_nothing_are_retried(
    fake: SmsByFake, client: SmsByClient, call: Callable[[SmsByClient], object]
) -> None:
    fake.faults.append("drop")
    with pytest.raises(RetryLater) as caught:
        call(client)
    assert type(caught.value) is RetryLater
    assert fake.gateway.deliveries == []


def test_unreachable_gateway_is_retried(http: httpx.Client) -> None:
    with SmsByFake() as gone:
        url = gone.base_url
    with pytest.raises(RetryLater) as caught:
        SmsByClient(http, DEFAULT_TOKEN, base_url=url).send_quick(TEXT)
    assert type(caught.value) is RetryLater


@respx.mock
def test_token_echoed_by_the_gateway_is_masked(http: httpx.Client) -> None:
    said = {"status": "ERROR", "message": f"token {DEFAULT_TOKEN} has expired"}
    respx.post("https://app.sms.by/api/v2/getVibernames").respond(200, json=said)
    with httpx.Client() as mocked, pytest.raises(DestinationFatal) as caught:
        SmsByClient(mocked, DEFAULT_TOKEN).vibernames()
    assert DEFAULT_TOKEN not in str(caught.value)
    assert "token *** has expired" in str(caught.value)


@respx.mock
@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        pytest.param(200, {"status": "ERROR", "message": "Something odd"}, MessageRejected,
                     id="unknown-text-rejects"),
        pytest.param(401, {}, DestinationFatal, id="401"),
        pytest.param(403, {}, DestinationFatal, id="403"),
        pytest.param(502, {"error": "Bad gateway"}, RetryLater, id="502"),
        pytest.param(400, {"errors": ["text too long"]}, MessageRejected, id="errors-list"),
    ],
)  # fmt: skip
def test_unlisted_answers_fall_back_on_the_http_status(
    status: int, body: dict[str, Any], kind: type[DeliveryError]
) -> None:
    respx.post("https://app.sms.by/api/v2/getVibernames").respond(status, json=body)
    with httpx.Client() as mocked, pytest.raises(DeliveryError) as caught:
        SmsByClient(mocked, DEFAULT_TOKEN).vibernames()
    assert type(caught.value) is kind


BRACED = {"status": "ERROR", "message": "Field {alphaname_id} is invalid"}
ODD_ANSWERS = [
    pytest.param(200, BRACED, id="braces"),
    pytest.param(400, BRACED, id="braces-400"),
    pytest.param(200, [{"errors": 5}], id="errors-number"),
    pytest.param(200, [{"success": 5}], id="success-number"),
    pytest.param(400, [{"errors": 5}], id="errors-number-400"),
    pytest.param(500, [{"success": 5}], id="success-number-500"),
    pytest.param(200, [{"success": [{"phone": PHONE, "error_code": "²"}]}], id="superscript-code"),
    pytest.param(200, {"result": [{"error_code": "²"}]}, id="superscript-in-list"),
    pytest.param(200, {"result": {"error_code": "9" * 5000}}, id="huge-code"),
]  # fmt: skip
ODD_CALLS: dict[str, Callable[[SmsByClient], object]] = {
    "bulk": lambda c: c.send_bulk(bulk()),
    "status": lambda c: c.bulk_status("u"),
    "quick": lambda c: c.send_quick(TEXT),
    "delivery": lambda c: c.delivery_data(1),
    "delivery-list": lambda c: c.delivery_list(1),
    "names": lambda c: c.vibernames(),
    "confirm": lambda c: c.confirm(1),
}


@respx.mock
@pytest.mark.parametrize("call", sorted(ODD_CALLS))
@pytest.mark.parametrize(("status", "body"), ODD_ANSWERS)
def test_odd_answers_become_delivery_errors_or_results(status: int, body: Any, call: str) -> None:
    respx.post(url__regex=r"https://app\.sms\.by/.*").respond(status, json=body)
    with httpx.Client() as mocked:
        try:
            ODD_CALLS[call](SmsByClient(mocked, DEFAULT_TOKEN))
        except DeliveryError as exc:
            if isinstance(body, dict) and "message" in body:
                assert "Field {alphaname_id} is invalid" in str(exc)


@pytest.mark.parametrize(
    "body", [[{"errors": 5}], [{"success": 5}], {"uuid": 5, "messages": [{"errors": 5}]}]
)
def test_a_callback_of_stray_numbers_is_unreadable(body: Any) -> None:
    with pytest.raises(ValueError, match="neither a uuid nor"):
        parse_bulk_callback(json.dumps(body).encode())


def test_odd_error_codes_read_as_no_code() -> None:
    assert parse.integer("²") == 0
    assert parse.integer("9" * 5000) == 0
    assert parse.integer(" -12 ") == -12
    assert parse.bulk_status([{"errors": 5}, {"success": 5}]) == parse.bulk_status([])


@pytest.mark.parametrize("code", [1, 2, 3, 4, 77])
def test_a_bare_error_code_fails_the_number_without_opting_it_out(code: int) -> None:
    result = parse.recipient({"phone": PHONE, "status": "ERROR", "error_code": code})
    assert (result.accepted, result.action) == (False, codes.REJECT_RECIPIENT)
    assert result.error == f"Not delivered (status ERROR, error_code {code})"
    assert not opted_out(result)


def test_only_an_answer_naming_a_blacklist_opts_the_number_out() -> None:
    raw = {"phone": PHONE, "status": "ERROR", "error_code": 1}
    named = parse.recipient({**raw, "error": "Phone number is in the blacklist"})
    assert named.action == codes.REJECT_RECIPIENT and opted_out(named)
    other = parse.recipient({**raw, "error": "No route to the phone number"})
    assert other.action == codes.REJECT_RECIPIENT and not opted_out(other)


def test_secrets_stay_out_of_reprs_previews_and_logs(
    fake: SmsByFake, client: SmsByClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="poster")
    client.send_quick(TEXT)
    client.send_bulk(bulk())
    draft = client.create_list_mailing(ListMessage(7, 3, FormContent("TEXT", "m")))
    fake.faults.append("drop")
    with pytest.raises(DeliveryUncertain) as caught:
        client.confirm(draft.message_id)
    previews = [
        TEXT.redacted(),
        bulk().redacted(),
        ListMessage(7, 3, FormContent(message="m")).redacted(),
    ]
    shown = [repr(client), str(caught.value), caplog.text, json.dumps(previews)]
    assert all(DEFAULT_TOKEN not in text for text in shown)
    assert [p["token"] for p in previews] == ["***"] * 3
    assert "smsby_call" in caplog.text


@respx.mock
@pytest.mark.parametrize(("success", "taken"), [("OK", True), ("ERROR", False)])
def test_a_mailing_is_taken_only_when_its_answer_says_success_ok(success: str, taken: bool) -> None:
    answer = {"uuid": "cc9c8043-8caf-11ef-b035-9e8f47954dec", "success": success}
    respx.post("https://app.sms.by/api/v1/sendBulkViber").respond(200, json=answer)
    with httpx.Client() as mocked:
        client = SmsByClient(mocked, DEFAULT_TOKEN)
        if taken:
            assert client.send_bulk(bulk()).uuid == answer["uuid"]
            return
        with pytest.raises(DeliveryUncertain, match="success 'ERROR', not OK"):
            client.send_bulk(bulk())
