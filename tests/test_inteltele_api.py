"""Test the Intel Tele client against the strict fake gateway over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from poster.daemon.httpserver import shut_down
from poster.destinations.inteltele import api, wire
from poster.destinations.inteltele.api import Credentials, IntelTeleClient
from poster.destinations.inteltele.fake import FakeInteltele
from poster.destinations.inteltele.fakestate import Account
from poster.destinations.inteltele.schema import SendRequest, StatusRequest
from poster.errors import (
    DeliveryError,
    DeliveryUncertain,
    DestinationFatal,
    MessageRejected,
    RetryLater,
)
from poster.fetch.apicall import api_client

USER = "poster"
KEY = "it-KEYMARK-0123456789abcdef"
RU, UA, GB = "7123456789", "380501234567", "447700900123"
TEXT = "Привіт, світ BODYMARK"


@pytest.fixture
def fake() -> Iterator[FakeInteltele]:
    """Run a fake gateway whose account knows USER and KEY."""
    with FakeInteltele(Account(username=USER, api_key=KEY)) as running:
        yield running


def connect(fake: FakeInteltele, **options: Any) -> Iterator[IntelTeleClient]:
    """Yield a client of ``fake`` on a fresh httpx.Client."""
    with httpx.Client() as http:
        yield IntelTeleClient(http, Credentials(USER, KEY), base_url=fake.base_url, **options)


@pytest.fixture(params=["POST", "GET"])
def client(fake: FakeInteltele, request: pytest.FixtureRequest) -> Iterator[IntelTeleClient]:
    """Return a client of the fake, once with a form body and once with query params."""
    yield from connect(fake, method=request.param)


@pytest.fixture
def post_client(fake: FakeInteltele) -> Iterator[IntelTeleClient]:
    """Return a client of the fake that sends form bodies."""
    yield from connect(fake, method="POST")


def message(*to: str, **fields: Any) -> SendRequest:
    """Return a send request of TEXT to ``to``."""
    return SendRequest(to=to, message=TEXT, **fields)


def test_send_queues_each_number_and_the_phone_gets_the_message(
    fake: FakeInteltele, client: IntelTeleClient
) -> None:
    request = message(
        "+7 (123) 456-78-9", UA, sender="Poster", image="https://example.org/a.png",
        button_text="Read", button_link="https://example.org/a", ttl=120,
        sms_source="Poster", sms_message="New post",
    )  # fmt: skip
    result = client.send(request)
    assert [(r.phone, r.action, r.country) for r in result.results] == [
        (RU, "ok", "ru"),
        (UA, "ok", "ua"),
    ]
    assert all(r.message_id for r in result.results)
    assert result.cost == Decimal("0.350000")
    got = fake.inbox(RU)[0]
    assert got.message_id == result.results[0].message_id
    assert got.params["im_message"] == TEXT
    assert got.params["im_ttl"] == "120" and got.params["sms_source"] == "Poster"
    assert client.balance() == Decimal("9.65")


def test_per_number_errors_are_results_with_their_action(
    fake: FakeInteltele, post_client: IntelTeleClient
) -> None:
    fake.account.blacklisted.add("380501111111")
    fake.account.unknown_country.add("380502222222")
    post_client.send(message(RU))
    result = post_client.send(message("380501111111", "380502222222", GB, RU, "12ab", UA))
    got = [(r.phone, r.accepted, r.action, r.status) for r in result.results]
    assert got == [
        ("12ab", False, "reject-recipient", api.NOT_A_NUMBER),
        ("380501111111", False, "reject-recipient", "error: number is blacklisted"),
        ("380502222222", False, "reject-recipient", "error: can't determine country"),
        (GB, False, "reject-recipient", "error: no route to country"),
        (RU, False, "retry-recipient", "error: repeat detected"),
        (UA, True, "ok", "OK"),
    ]
    assert all(r.hint for r in result.results[1:5])
    assert [d.phone for d in fake.deliveries] == [RU, UA]


def test_balance_running_out_mid_batch_stops_after_the_accepted_numbers(
    fake: FakeInteltele, post_client: IntelTeleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "BATCH_NUMBERS", 2)
    fake.account.balance = Decimal("0.45")
    numbers = ("7100000001", "7100000002", "7100000003", "7100000004", "7100000005")
    seen = []
    with pytest.raises(DestinationFatal, match="low balance") as caught:
        seen.extend(post_client.send_all(message(*numbers)))
    assert [[r.action for r in result.results] for result in seen] == [
        ["ok", "ok"],
        ["fatal", "fatal"],
    ]
    assert seen[1].fatal is not None and seen[1].fatal.cost == Decimal("0.200000")
    assert "top up" in str(caught.value)
    assert [d.phone for d in fake.deliveries] == list(numbers[:2])


def test_batches_keep_get_urls_short(fake: FakeInteltele) -> None:
    for client in connect(fake, method="GET"):
        numbers = tuple(f"71000{n:05d}" for n in range(120))
        request = SendRequest(numbers, "Ж" * 1000, sms_source="Poster", sms_message="Ж" * 300)
        batches = client.batches(request)
        sizes = [len(batch.to) for batch in batches]
        assert sum(sizes) == 120 and max(sizes) < api.BATCH_NUMBERS
        for batch in batches:
            query = {"username": USER, "api_key": KEY, **batch.params()}
            sent = httpx.Request("GET", f"{client.base_url}/im/send/", params=query)
            assert len(str(sent.url)) <= api.URL_MAX


def test_the_default_client_works_with_a_gateway_reading_only_the_query(
    fake: FakeInteltele,
) -> None:
    fake.account.reads_form = False
    for client in connect(fake):
        assert client.method == "GET"
        (sent,) = client.send(message(RU)).results
        assert sent.accepted and fake.inbox(RU)[0].params["im_message"] == TEXT
        fake.clock.advance(5)
        (status,) = client.status(StatusRequest((str(sent.message_id),)))
        assert status.delivered
        assert client.balance() == Decimal("9.80")
    for client in connect(fake, method="POST"):
        with pytest.raises(DestinationFatal, match="wrong username/api_key"):
            client.balance()


def test_post_batches_hold_fifty_numbers(post_client: IntelTeleClient) -> None:
    batches = post_client.batches(message(*(f"71000{n:05d}" for n in range(120))))
    assert [len(b.to) for b in batches] == [50, 50, 20]


def test_invalid_message_is_rejected_before_sending(
    fake: FakeInteltele, post_client: IntelTeleClient
) -> None:
    with pytest.raises(MessageRejected, match=r"im_ttl must be 60\.\.86400"):
        post_client.send(message(RU, ttl=30))
    with pytest.raises(MessageRejected, match="over 1000 symbols"):
        post_client.send(SendRequest(to=(RU,), message="x" * 1001))
    assert fake.deliveries == []


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("wrong_user", "wrong username/api_key"),
        ("wrong_key", "wrong api key"),
        ("ip", "ip not allowed"),
        ("banned", "sender is banned"),
    ],
)
def test_whole_request_errors_from_the_gateway_are_fatal(
    fake: FakeInteltele, setup: str, expected: str
) -> None:
    user, key = USER, KEY
    if setup == "wrong_user":
        user = "someone"
    elif setup == "wrong_key":
        key = "another-key-0000000000"
    elif setup == "ip":
        fake.account.allowed_ips = frozenset({"192.0.2.1"})
    else:
        fake.account.banned_senders.add("Spam")
    with httpx.Client() as http:
        client = IntelTeleClient(http, Credentials(user, key), base_url=fake.base_url)
        with pytest.raises(DestinationFatal, match=f"error: {expected}") as caught:
            client.send(message(RU, sender="Spam"))
    assert KEY not in str(caught.value)
    assert fake.deliveries == []


def test_repeated_wrong_logins_trigger_the_bruteforce_block(fake: FakeInteltele) -> None:
    with httpx.Client() as http:
        wrong = IntelTeleClient(http, Credentials(USER, "wrong-key-000000"), base_url=fake.base_url)
        right = IntelTeleClient(http, Credentials(USER, KEY), base_url=fake.base_url)
        for _ in range(5):
            with pytest.raises(DestinationFatal, match="wrong api key"):
                wrong.balance()
        with pytest.raises(DestinationFatal, match=r"bruteforcing detected.*5 minutes"):
            right.balance()
        fake.clock.advance(300)
        assert right.balance() == Decimal("10.00")


@pytest.mark.parametrize(
    ("setup", "text"),
    [("wrong_key", "Invalid auth"), ("ip", "ip not allowed")],
)
def test_rates_errors_in_their_own_shape_are_fatal(
    fake: FakeInteltele, setup: str, text: str
) -> None:
    key = "another-key-0000000000" if setup == "wrong_key" else KEY
    if setup == "ip":
        fake.account.allowed_ips = frozenset({"192.0.2.1"})
    with httpx.Client() as http:
        client = IntelTeleClient(http, Credentials(USER, key), base_url=fake.base_url)
        with pytest.raises(DestinationFatal, match=text):
            client.rates()


def test_balance_credit_and_rates(fake: FakeInteltele, client: IntelTeleClient) -> None:
    fake.account.credit = Decimal("1.23")
    assert client.credit() == Decimal("1.23")
    rates = client.rates()
    assert rates.countries["ru"]["01"].price == Decimal("0.18644")
    assert rates.countries["ua"][""].delivered_only is True
    estimate = rates.estimate({"ru": 3, "ua": 2, "gb": 1})
    assert estimate.total == Decimal("0.9")
    assert estimate.unknown_countries == ("gb",)


def test_balance_goes_below_zero_within_the_credit(
    fake: FakeInteltele, post_client: IntelTeleClient
) -> None:
    fake.account.balance, fake.account.credit = Decimal("0.1"), Decimal("0.5")
    assert post_client.send(message(RU)).results[0].accepted
    assert post_client.balance() == Decimal("-0.10")


def test_status_advances_with_the_clock(fake: FakeInteltele, client: IntelTeleClient) -> None:
    fake.account.outcomes[UA] = "undeliv"
    ids = tuple(str(r.message_id) for r in client.send(message(RU, UA)).results)
    first = client.status(StatusRequest((*ids, "no-such-id")))
    assert [(s.status, s.final) for s in first] == [("enroute", False), ("enroute", False)]
    fake.clock.advance(5)
    later = client.status(StatusRequest(ids, timezone="Europe/Kyiv"))
    assert [(s.status, s.delivered, s.final) for s in later] == [
        ("delivrd", True, True),
        ("undeliv", False, True),
    ]
    assert later[0].at is not None and later[0].at.timestamp() == fake.clock.now
    assert later[0].time_zone == "Europe/Kyiv"


def test_status_asks_one_id_a_call_once_a_list_finds_none(fake: FakeInteltele) -> None:
    asked: list[str] = []

    def note(request: httpx.Request) -> None:
        if request.url.path == "/im/status/":
            asked.append(request.url.params["requests"])

    with httpx.Client(event_hooks={"request": [note]}) as http:
        client = IntelTeleClient(http, Credentials(USER, KEY), base_url=fake.base_url)
        ids = tuple(str(r.message_id) for r in client.send(message(RU, UA)).results)
        fake.clock.advance(5)
        first = client.status(StatusRequest(ids))
        assert [s.status for s in first] == ["delivrd", "delivrd"]
        assert asked == [",".join(ids), *ids] and client.statuses_singly
        asked.clear()
        assert len(client.status(StatusRequest(ids))) == 2
    # Remembered: the list is not asked again.
    assert asked == list(ids)


@pytest.mark.parametrize("singly", [False, True], ids=["listed", "singly"])
def test_an_id_the_gateway_refuses_to_know_leaves_the_others_read(
    fake: FakeInteltele, client: IntelTeleClient, singly: bool
) -> None:
    fake.account.unknown_ids_refused = True
    client.statuses_singly = singly
    ids = [str(r.message_id) for r in client.send(message(RU, UA)).results]
    fake.clock.advance(5)
    found = client.status(StatusRequest((ids[0], "expired-id", ids[1])))
    assert [(s.message_id, s.status) for s in found] == [(ids[0], "delivrd"), (ids[1], "delivrd")]


def test_a_poll_whose_every_id_is_refused_raises_rather_than_read_nothing(
    fake: FakeInteltele, client: IntelTeleClient
) -> None:
    fake.account.unknown_ids_refused = True
    client.statuses_singly = True
    with pytest.raises(DestinationFatal, match="can't send message"):
        client.status(StatusRequest(("expired-id", "another-expired-id")))


def test_status_without_a_time_format_has_no_date(
    post_client: IntelTeleClient,
) -> None:
    ids = (str(post_client.send(message(RU)).results[0].message_id),)
    (found,) = post_client.status(StatusRequest(ids, timeformat=None, timezone=None))
    assert (found.status, found.at, found.raw_date) == ("enroute", None, None)


class _Collector(BaseHTTPRequestHandler):
    """Keep the params of every status callback."""

    calls: list[tuple[str, dict[str, str]]]

    def do_GET(self) -> None:
        self._keep(urlsplit(self.path).query)

    def do_POST(self) -> None:
        self._keep(self.rfile.read(int(self.headers["Content-Length"])).decode())

    def _keep(self, query: str) -> None:
        self.calls.append((self.command, dict(parse_qsl(query))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_status_callbacks_arrive_and_parse(method: Literal["POST", "GET"]) -> None:
    calls: list[tuple[str, dict[str, str]]] = []
    handler = type("Collector", (_Collector,), {"calls": calls})
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/status"
        account = Account(username=USER, api_key=KEY)
        with FakeInteltele(account, callback_url=url, callback_method=method) as fake:
            for client in connect(fake):
                sent = client.send(message(RU)).results[0]
            assert fake.deliver_reports() == 0
            fake.clock.advance(5)
            assert fake.deliver_reports() == 1
            assert fake.deliver_reports() == 0
    finally:
        shut_down(receiver)
    ((verb, params),) = calls
    report = wire.callback(params)
    assert verb == method
    assert (report.message_id, report.status) == (sent.message_id, "delivrd")
    assert report.delivered
    assert report.at is not None and report.at.timestamp() == fake.clock.now


def test_rate_limit_is_retry_later_with_retry_after(
    fake: FakeInteltele, post_client: IntelTeleClient
) -> None:
    fake.account.rate_limit = 1
    post_client.balance()
    with pytest.raises(RetryLater) as caught:
        post_client.send(message(RU))
    assert type(caught.value) is RetryLater and caught.value.retry_after == 1.0
    fake.clock.advance(1)
    assert post_client.send(message(RU)).results[0].accepted


@pytest.mark.parametrize(
    ("fault", "call", "error"),
    [
        ("drop", "send", DeliveryUncertain),
        ("http500", "send", DeliveryUncertain),
        ("drop", "balance", RetryLater),
        ("http500", "status", RetryLater),
    ],
)
def test_faults_on_the_wire(
    fake: FakeInteltele, post_client: IntelTeleClient, fault: str, call: str, error: type
) -> None:
    fake.inject(fault)
    with pytest.raises(error) as caught:
        if call == "send":
            post_client.send(message(RU))
        elif call == "balance":
            post_client.balance()
        else:
            post_client.status(StatusRequest(("x",)))
    assert type(caught.value) is error
    # A dropped answer hides a message the gateway queued; a 500 queued nothing.
    sent = fault == "drop" and call == "send"
    assert len(fake.deliveries) == int(sent)


def test_a_slow_answer_times_out_as_uncertain(fake: FakeInteltele) -> None:
    fake.inject("slow:5")
    for client in connect(fake, timeout=httpx.Timeout(0.2)):
        with pytest.raises(DeliveryUncertain, match="ReadTimeout"):
            client.send(message(RU))
    assert len(fake.deliveries) == 1


def test_a_lost_answer_to_a_get_send_is_uncertain_and_never_repeated(
    fake: FakeInteltele,
) -> None:
    with api_client() as http:
        client = IntelTeleClient(http, Credentials(USER, KEY), base_url=fake.base_url)
        assert client.send(message(RU)).results[0].accepted
        fake.inject("drop")
        with pytest.raises(DeliveryUncertain):
            client.send(message(UA))
    assert [d.phone for d in fake.deliveries] == [RU, UA]


def test_an_unreachable_gateway_is_retry_later() -> None:
    with socket_port() as port, httpx.Client() as http:
        base = f"http://127.0.0.1:{port}"
        client = IntelTeleClient(http, Credentials(USER, KEY), base_url=base)
        with pytest.raises(RetryLater, match="cannot reach") as caught:
            client.send(message(RU))
    assert type(caught.value) is RetryLater
    # The error names the endpoint, not the query that carries the key.
    assert f"{base}/im/send/ " in str(caught.value) and KEY not in str(caught.value)


def socket_port() -> Any:
    """Return a context holding a port nothing listens on."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def closed() -> Iterator[int]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            yield sock.getsockname()[1]

    return closed()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_secrets_never_reach_errors_reprs_previews_or_logs(
    fake: FakeInteltele,
    caplog: pytest.LogCaptureFixture,
    method: Literal["GET", "POST"],
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[DeliveryError] = []
    with api_client() as http:
        client = IntelTeleClient(
            http, Credentials(USER, KEY), base_url=fake.base_url, method=method
        )
        result = client.send(message(RU))
        for fault in ("drop", "http500"):
            fake.inject(fault)
            with pytest.raises(DeliveryError) as caught:
                client.send(message(UA))
            errors.append(caught.value)
        fake.account.allowed_ips = frozenset()
        with pytest.raises(DeliveryError) as refused:
            client.balance()
        errors.append(refused.value)
    shown = [repr(client), repr(Credentials(USER, KEY)), str(result), caplog.text]
    shown += [str(e) for e in errors] + [repr(e.__cause__) for e in errors]
    assert all(KEY not in text for text in shown)
    assert result.body["api_key"] == "***" and result.body["im_message"] == TEXT
