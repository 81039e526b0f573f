"""Read SMS.BY delivery statuses by callback and by polling into the recipient ledger."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support.callbacks import CallbackReceiver

from poster.destinations.gateway import GatewayMessage
from poster.destinations.gateway.destination import GatewayDestination, item_ref
from poster.destinations.smsby.adapter import BULK, LIST, NO_BALANCE, QUICK, Route, SmsByAdapter
from poster.destinations.smsby.api import SmsByClient
from poster.destinations.smsby.fake import DEFAULT_TOKEN, SmsByFake
from poster.destinations.smsby.kind import KIND, list_recipients
from poster.errors import CallbackError, DestinationFatal
from poster.recipients import parse_recipients
from poster.store.recipientledger import RecipientLedger

PHONES = ("375291111111", "375292222222", "375293333333")
UNSENT = b'[{"message_id": 9, "name": "mailing list 1", "success": [{"phone": "375291111111", '
UNSENT += b'"status": "DELIVERED"}]}]'
MESSAGE = GatewayMessage("text", "news", "k1", "Hello")
ITEM = item_ref("news", "k1")
QUICK_ROUTE = Route(QUICK, vibername_id=7, forwarding_time=5, alphaname_id=444)
PAUSES: dict[str, Callable[[SmsByFake], None]] = {
    "lost-answer": lambda f: f.faults.extend(["", "drop"]),
    "rate-limit": lambda f: setattr(f, "rate_limit", 1),
}
"""Ways the gateway asks to wait from the second look-up of a poll on."""


@pytest.fixture
def fake() -> Iterator[SmsByFake]:
    with SmsByFake() as running:
        yield running


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[RecipientLedger]:
    with RecipientLedger(tmp_path / "ledger.json") as opened:
        yield opened


def destination(
    fake: SmsByFake,
    http: httpx.Client,
    route: Route,
    ledger: RecipientLedger,
    callback_url: str | None = None,
) -> GatewayDestination:
    client = SmsByClient(http, DEFAULT_TOKEN, base_url=fake.base_url, name="subs")
    numbers = parse_recipients("\n".join(PHONES), "subscribers.txt")
    if route.mode == LIST:
        numbers = list_recipients(12)
    adapter = SmsByAdapter(client, route, lambda: callback_url)
    return GatewayDestination("subs", KIND, adapter, lambda: numbers, lambda: ledger)


@pytest.mark.parametrize("shape", ["statuses", "both"])
def test_statuses_arrive_by_callback(fake: SmsByFake, ledger: RecipientLedger, shape: str) -> None:
    fake.callback_shape = shape
    fake.gateway.unroutable.add(PHONES[2])
    with CallbackReceiver("/gateway/subs/s3cret") as receiver, httpx.Client() as http:
        route = Route(BULK, alphaname_id=444)
        sent = destination(fake, http, route, ledger, receiver.url)
        sent.send(MESSAGE)
        assert fake.requests[0].body["callback_url"] == receiver.url
        fake.advance(6)
        known = [sent.callback("POST", {}, body) for body in receiver.bodies]
        assert ledger.outcome(ITEM).delivered == 2
        fake.advance(30)
        known += [sent.callback("POST", {}, body) for body in receiver.bodies[len(known) :]]
    outcome = ledger.outcome(ITEM)
    assert (outcome.accepted, outcome.rejected, outcome.read) == (2, 1, 2)
    assert sum(known) == 4


@pytest.mark.parametrize(
    ("method", "body", "problem"),
    [
        ("GET", b"", "is a POST"),
        ("POST", b"<html>", "unreadable"),
        ("POST", b'{"messages": []}', "neither a uuid nor a mailing's statuses"),
        ("POST", b"[]", "neither a uuid nor a mailing's statuses"),
        ("POST", b'[{"phone": "375291111111"}]', "neither a uuid nor a mailing's statuses"),
        ("POST", b'"OK"', "neither a JSON list nor an object"),
        ("POST", UNSENT, "names no mailing poster sent"),
    ],
    ids=["get", "not-json", "no-uuid", "empty-list", "no-mailing", "string", "unsent-mailing"],
)
def test_a_bad_callback_is_refused(
    fake: SmsByFake, ledger: RecipientLedger, method: str, body: bytes, problem: str
) -> None:
    with httpx.Client() as http:
        sent = destination(fake, http, Route(BULK, alphaname_id=444), ledger)
        with pytest.raises(CallbackError, match=problem):
            sent.callback(method, {}, body)


def test_a_document_shaped_callback_is_matched_by_name_after_a_restart(
    fake: SmsByFake, ledger: RecipientLedger
) -> None:
    with CallbackReceiver("/gateway/subs/s3cret") as receiver, httpx.Client() as http:
        route = Route(BULK, alphaname_id=444)
        destination(fake, http, route, ledger, receiver.url).send(MESSAGE)
        fake.advance(6)
        (body,) = receiver.bodies
        assert json.loads(body)[0]["name"] == "news: k1"
        restarted = destination(fake, http, route, ledger)
        assert restarted.callback("POST", {}, body) == 3
    assert ledger.outcome(ITEM).delivered == 3


def test_a_document_shaped_callback_is_matched_by_message_id_when_the_name_is_cut(
    fake: SmsByFake, ledger: RecipientLedger
) -> None:
    long = GatewayMessage("text", "news", "k" * 200, "Hello")
    with CallbackReceiver("/gateway/subs/s3cret") as receiver, httpx.Client() as http:
        route = Route(BULK, alphaname_id=444)
        sent = destination(fake, http, route, ledger, receiver.url)
        sent.send(long)
        fake.advance(6)
        (body,) = receiver.bodies
        assert len(json.loads(body)[0]["name"]) == 100
        assert sent.callback("POST", {}, body) == 3
        with pytest.raises(CallbackError, match="names no mailing poster sent"):
            destination(fake, http, route, ledger).callback("POST", {}, body)
    assert ledger.outcome(item_ref("news", "k" * 200)).delivered == 3


def test_the_send_answer_as_a_callback_is_acknowledged_and_the_poll_reads_the_statuses(
    fake: SmsByFake, ledger: RecipientLedger
) -> None:
    fake.callback_shape = "accepted"
    with CallbackReceiver("/gateway/subs/s3cret") as receiver, httpx.Client() as http:
        sent = destination(fake, http, Route(BULK, alphaname_id=444), ledger, receiver.url)
        sent.send(MESSAGE)
        fake.advance(6)
        assert [sent.callback("POST", {}, body) for body in receiver.bodies] == [0]
        assert sent.poll() == 3
    assert ledger.outcome(ITEM).delivered == 3


def test_a_callback_about_messages_poster_did_not_send_records_nothing(
    fake: SmsByFake, ledger: RecipientLedger
) -> None:
    body = b'{"uuid": "other", "messages": [{"message_id": 1, "success": [{"phone": "%s", '
    body += b'"status": "DELIVERED"}]}]}'
    with httpx.Client() as http:
        sent = destination(fake, http, Route(BULK, alphaname_id=444), ledger)
        sent.send(MESSAGE)
        assert sent.callback("POST", {}, body % PHONES[0].encode()) == 0
    assert ledger.outcome(ITEM).delivered == 0


def test_a_refused_mailing_keeps_the_gateway_reason_without_the_item_key(
    fake: SmsByFake, ledger: RecipientLedger
) -> None:
    picture = GatewayMessage("picture", "news", "k1: part 2", "", "https://e.org/big.jpg")
    fake.gateway.bad_size_images.add("https://e.org/big.jpg")
    with httpx.Client() as http:
        destination(fake, http, Route(BULK, alphaname_id=444), ledger).send(picture)
    sent = fake.requests[0].body["messages"][0]["name"]
    assert sent == "news: k1: part 2"
    outcome = ledger.outcome(item_ref("news", "k1: part 2"))
    assert outcome.rejected_reasons == (("Optimal image size 800x800 px", 3),)


def test_a_mailing_refused_after_its_status_read_failed_is_failed_by_the_poll(
    fake: SmsByFake, ledger: RecipientLedger
) -> None:
    picture = GatewayMessage("picture", "news", "k1", "", "https://e.org/big.jpg")
    fake.gateway.bad_size_images.add("https://e.org/big.jpg")
    fake.faults.extend(["", "500"])  # the send goes through; the status read after it does not
    with httpx.Client() as http:
        sent = destination(fake, http, Route(BULK, alphaname_id=444), ledger)
        sent.send(picture)
        assert ledger.outcome(ITEM).accepted == 3
        assert sent.poll() == 3
    outcome = ledger.outcome(ITEM)
    assert outcome.failed == 3
    assert outcome.failed_reasons == (("Optimal image size 800x800 px", 3),)


@pytest.mark.parametrize(
    "route",
    [
        Route(BULK, alphaname_id=444),
        QUICK_ROUTE,
    ],
    ids=["statusBulkViber", "getViberDeliveryData"],
)
def test_statuses_arrive_by_polling(fake: SmsByFake, ledger: RecipientLedger, route: Route) -> None:
    with httpx.Client() as http:
        sent = destination(fake, http, route, ledger)
        sent.send(MESSAGE)
        assert sent.poll() == 0
        fake.advance(6)
        assert sent.poll() == 3
        assert sent.poll() == 0
    assert ledger.outcome(ITEM).delivered == 3


@pytest.mark.parametrize(
    ("route", "forget", "known"),
    [
        pytest.param(Route(BULK, alphaname_id=444), "bulks", 3, id="statusBulkViber"),
        pytest.param(QUICK_ROUTE, "quick", 3, id="getViberDeliveryData"),
        pytest.param(Route(LIST, vibername_id=7, list_id=12), "mailings", 1,
                     id="getViberDeliveryList"),
    ],
)  # fmt: skip
def test_a_reference_the_gateway_no_longer_knows_is_unknown_and_the_poll_goes_on(
    fake: SmsByFake, ledger: RecipientLedger, route: Route, forget: str, known: int
) -> None:
    fake.gateway.lists[12] = ("news", PHONES)
    with httpx.Client() as http:
        sent = destination(fake, http, route, ledger)
        sent.send(MESSAGE)
        getattr(fake.gateway, forget).clear()
        sent.send(GatewayMessage("text", "news", "k2", "Hello again"))
        fake.advance(6)
        assert sent.poll() == 2 * known
        asked = len(fake.requests)
        assert sent.poll() == 0
    assert len(fake.requests) == asked
    outcome = ledger.outcome(ITEM)
    assert (outcome.unknown, outcome.delivered) == (known, 0)
    assert ledger.outcome(item_ref("news", "k2")).delivered == known


def three_items_sent(
    fake: SmsByFake, http: httpx.Client, ledger: RecipientLedger
) -> GatewayDestination:
    """Send items k1, k2 and k3 in bulk mailings, each delivered by the time of the next poll."""
    sent = destination(fake, http, Route(BULK, alphaname_id=444), ledger)
    for key in ("k1", "k2", "k3"):
        sent.send(GatewayMessage("text", "news", key, "Hello"))
    fake.advance(6)
    return sent


@pytest.mark.parametrize("pause", sorted(PAUSES))
def test_a_poll_stops_at_the_first_answer_asking_to_wait(
    fake: SmsByFake, ledger: RecipientLedger, pause: str
) -> None:
    with httpx.Client() as http:
        sent = three_items_sent(fake, http, ledger)
        asked = len(fake.requests)
        PAUSES[pause](fake)
        assert sent.poll() == 3
        assert len(fake.requests) == asked + 2
        fake.faults.clear()
        fake.rate_limit = None
        assert sent.poll() == 6
    assert [ledger.outcome(item_ref("news", k)).delivered for k in ("k1", "k2", "k3")] == [3] * 3


def test_a_server_error_for_one_look_up_alone_does_not_hold_up_the_others(
    fake: SmsByFake, ledger: RecipientLedger
) -> None:
    with httpx.Client() as http:
        sent = three_items_sent(fake, http, ledger)
        fake.faults.append("500")
        assert sent.poll() == 6
        assert sent.poll() == 3
    assert [ledger.outcome(item_ref("news", k)).delivered for k in ("k1", "k2", "k3")] == [3] * 3


def test_a_poll_refused_for_the_whole_account_stops_the_destination(
    fake: SmsByFake, ledger: RecipientLedger
) -> None:
    with httpx.Client() as http:
        sent = destination(fake, http, Route(BULK, alphaname_id=444), ledger)
        sent.send(MESSAGE)
        fake.gateway.ip_allowed = False
        with pytest.raises(DestinationFatal):
            sent.poll()


def test_a_list_mailing_is_final_once_every_subscriber_is(
    fake: SmsByFake, ledger: RecipientLedger
) -> None:
    fake.gateway.lists[12] = ("news", PHONES)
    with httpx.Client() as http:
        sent = destination(fake, http, Route(LIST, vibername_id=7, list_id=12), ledger)
        sent.send(MESSAGE)
        fake.advance(2)
        assert sent.poll() == 0
        fake.advance(4)
        assert sent.poll() == 1
    outcome = ledger.outcome(ITEM)
    assert (outcome.accepted, outcome.delivered, outcome.read) == (1, 1, 0)


def test_the_preview_hides_the_token_and_the_callback_secret(fake: SmsByFake) -> None:
    with httpx.Client() as http:
        client = SmsByClient(http, DEFAULT_TOKEN, base_url=fake.base_url)
        url = "https://poster.test/gateway/subs/s3"
        shown = SmsByAdapter(client, Route(BULK, alphaname_id=444), lambda: url).requests(
            MESSAGE, PHONES
        )
    assert shown[0]["token"] == "***"
    assert shown[0]["callback_url"] == "https://poster.test/gateway/subs/***"
    assert shown[0]["messages"][0]["delivery_list"] == list(PHONES)
    assert fake.requests == []


def test_the_account_shows_its_viber_names_and_lists(fake: SmsByFake) -> None:
    fake.gateway.lists[12] = ("news", PHONES)
    with httpx.Client() as http:
        client = SmsByClient(http, DEFAULT_TOKEN, base_url=fake.base_url)
        shown = SmsByAdapter(client, Route(BULK, alphaname_id=444)).account()
    assert shown == {
        "balance": NO_BALANCE,
        "viber names": "7 Poster",
        "subscriber lists": "12 news (3)",
    }


def test_the_account_says_which_look_ups_the_gateway_does_not_give(fake: SmsByFake) -> None:
    fake.gateway.undescribed = False
    with httpx.Client() as http:
        client = SmsByClient(http, DEFAULT_TOKEN, base_url=fake.base_url)
        shown = SmsByAdapter(client, Route(BULK, alphaname_id=444)).account()
    said = "not available from this gateway ({} answered HTTP 404: Page not found)"
    assert shown == {
        "balance": NO_BALANCE,
        "viber names": said.format("getVibernames"),
        "subscriber lists": said.format("getSubscriberLists"),
    }
    assert fake.requests[0].path == "/api/v2/getViberMessages"
