"""Check the gateways' fakes served on the sandbox's port: prefixes, phones, clock, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.clock import Clock
from support.gateways import DT_AUTH, DT_MESSAGE, IT_MESSAGE, SMSBY_MESSAGE
from support.sandbox import TLS, TOKEN, Receiver

from poster.destinations.viber.sandbox import Sandbox
from poster.sandbox.gateways import GatewayFakes


@pytest.fixture
def served() -> Iterator[tuple[GatewayFakes, Clock, httpx.Client]]:
    """Run a sandbox with the gateways mounted on a hand-moved clock; yield a client for it."""
    clock = Clock()
    fakes = GatewayFakes(clock)
    with (
        Sandbox(token=TOKEN, mounts=[fakes]) as sandbox,
        httpx.Client(base_url=sandbox.url, timeout=5, verify=TLS) as client,
    ):
        yield fakes, clock, client


def send_all(client: httpx.Client) -> None:
    """Send one message through each gateway's prefix, as its client does from a base URL."""
    answer = client.post("decisiontelecom/v1/api/send-viber", json=DT_MESSAGE, headers=DT_AUTH)
    assert answer.status_code == 200, answer.text
    answer = client.get("inteltele/im/send/", params=IT_MESSAGE)
    assert answer.json()["reply"][0]["status"] == "OK", answer.text
    answer = client.post("smsby/api/v2/sendQuickViberMessage", data=SMSBY_MESSAGE)
    assert answer.json()["status"] == "OK", answer.text


def phones(client: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    """Return each gateway's phones as the page reads them."""
    return {g["id"]: g["phones"] for g in client.get("sandbox/gateways").json()}


def states(client: httpx.Client) -> dict[str, str]:
    """Return the state of the one message each gateway took."""
    return {gw: shown[0]["messages"][0]["state"] for gw, shown in phones(client).items()}


def test_each_gateway_takes_a_message_under_its_prefix_and_shows_it_per_phone(
    served: tuple[GatewayFakes, Clock, httpx.Client],
) -> None:
    fakes, _, client = served
    send_all(client)
    shown = phones(client)
    [dt] = shown["decisiontelecom"]
    assert dt["number"] == "380501112233"
    assert dt["messages"][0] | {"status": "", "state": ""} == {
        "sender": "Poster",
        "text": "Hello from DecisionTelecom",
        "image": "https://example.org/a.jpg",
        "button": "Read on",
        "link": "https://example.org/story",
        "status": "",
        "state": "",
    }
    [it] = shown["inteltele"]
    assert (it["number"], it["messages"][0]["button"]) == ("380501112233", "Open")
    assert it["messages"][0]["link"] == "https://example.org/b"
    [by] = shown["smsby"]
    assert (by["number"], by["messages"][0]["text"]) == ("375291111111", "Hello from SMS.BY")
    assert len(fakes.smsby.gateway.deliveries) == 1
    assert "fake-api-key" not in client.get("sandbox/gateways").text


def test_statuses_advance_with_the_clock(
    served: tuple[GatewayFakes, Clock, httpx.Client],
) -> None:
    _, clock, client = served
    send_all(client)
    assert states(client) == {"decisiontelecom": "pending", "inteltele": "sent", "smsby": "pending"}
    clock.now += 2
    assert states(client) == {"decisiontelecom": "sent", "inteltele": "sent", "smsby": "sent"}
    clock.now += 5
    assert states(client) == {
        "decisiontelecom": "delivered",
        "inteltele": "delivered",
        "smsby": "delivered",
    }
    clock.now += 30
    assert states(client)["smsby"] == "read"
    assert phones(client)["smsby"][0]["messages"][0]["status"] == "READ"


def test_pump_sends_the_status_callbacks_that_are_due(
    served: tuple[GatewayFakes, Clock, httpx.Client],
) -> None:
    fakes, clock, client = served
    with Receiver("unused") as receiver:
        body = DT_MESSAGE | {"callback_url": receiver.url}
        client.post("decisiontelecom/v1/api/send-viber", json=body, headers=DT_AUTH)
        clock.now += 10
        fakes.pump()
        fakes.pump()
    assert [call.body["status"] for call in receiver.calls] == [1]


@pytest.mark.parametrize(
    ("gateway", "fault", "call", "status"),
    [
        pytest.param(
            "decisiontelecom",
            "http500",
            lambda c: c.post("decisiontelecom/v1/api/send-viber", json=DT_MESSAGE, headers=DT_AUTH),
            500,
            id="decisiontelecom",
        ),
        pytest.param(
            "inteltele",
            "http500",
            lambda c: c.get("inteltele/im/send/", params=IT_MESSAGE),
            500,
            id="inteltele",
        ),
        pytest.param(
            "smsby",
            "500",
            lambda c: c.post("smsby/api/v2/sendQuickViberMessage", data=SMSBY_MESSAGE),
            500,
            id="smsby",
        ),
    ],
)
def test_a_fault_queued_over_http_hits_the_next_call_only(
    served: tuple[GatewayFakes, Clock, httpx.Client],
    gateway: str,
    fault: str,
    call: Any,
    status: int,
) -> None:
    _, _, client = served
    queued = client.post(f"sandbox/gateways/{gateway}/faults", json={"faults": [fault]})
    assert queued.json() == {"queued": [fault]}
    assert call(client).status_code == status
    assert call(client).status_code == 200
    assert phones(client)[gateway][0]["messages"], "the call after the fault went through"


@pytest.mark.parametrize("gateway", ["decisiontelecom", "inteltele", "smsby"])
def test_an_unknown_fault_is_refused_and_nothing_is_queued(
    served: tuple[GatewayFakes, Clock, httpx.Client], gateway: str
) -> None:
    _, _, client = served
    answer = client.post(f"sandbox/gateways/{gateway}/faults", json={"faults": ["melt"]})
    assert answer.status_code == 400
    assert "unknown fault 'melt'" in answer.json()["error"]
    send_all(client)


def test_a_chunked_body_is_refused_before_it_reaches_a_fake(
    served: tuple[GatewayFakes, Clock, httpx.Client],
) -> None:
    _, _, client = served
    answer = client.post("smsby/api/v2/sendQuickViberMessage", content=iter([b"phone=1"]))
    assert answer.status_code == 400
    assert "Content-Length" in answer.json()["error"]
    send_all(client)


def test_a_sandbox_without_gateways_lists_none() -> None:
    with Sandbox(token=TOKEN) as sandbox:
        assert httpx.get(sandbox.url + "sandbox/gateways", verify=TLS).json() == []
        assert httpx.get(sandbox.url + "smsby/api/v2/getVibernames", verify=TLS).status_code == 404
