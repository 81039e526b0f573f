"""Check the page of a sandbox with two channels and the gateways, in a headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from support.browser import Browser
from support.clock import Clock
from support.gateways import DT_AUTH, DT_MESSAGE, SMSBY_MESSAGE
from support.page import Node, parse_page
from support.sandbox import TLS, TOKEN, Receiver, api_client, post

from poster.destinations.viber.sandbox import Sandbox
from poster.sandbox.gateways import GatewayFakes

OTHER = "other-token-9d2e7a"


@pytest.fixture(scope="module")
def pages(browser: Browser) -> Iterator[dict[str, Node]]:
    """Post to two channels and two gateways, then load three of the page's tabs."""
    clock = Clock()
    with (
        Receiver(TOKEN) as first_hook,
        Receiver(OTHER) as second_hook,
        Sandbox(token=TOKEN, mounts=[GatewayFakes(clock)]) as sandbox,
        api_client(sandbox) as first,
        api_client(sandbox, token=OTHER) as second,
        httpx.Client(base_url=sandbox.url, timeout=5, verify=TLS) as client,
    ):
        sandbox.add_channel(OTHER, "Harbour news")
        assert first.post("set_webhook", json={"url": first_hook.url}).json()["status"] == 0
        assert second.post("set_webhook", json={"url": second_hook.url}).json()["status"] == 0
        assert post(first, {"type": "text", "text": "first channel post"})["status"] == 0
        assert post(second, {"type": "text", "text": "second channel post"})["status"] == 0
        client.post("decisiontelecom/v1/api/send-viber", json=DT_MESSAGE, headers=DT_AUTH)
        rich = SMSBY_MESSAGE | {"button": "Read on", "button_link": "https://example.org/s"}
        assert client.post("smsby/api/v2/sendQuickViberMessage", data=rich).json()["status"] == "OK"
        clock.now += 60
        yield {
            query: parse_page(browser.dump(sandbox.url + query))
            for query in ("", "?channel=2", "?gateway=smsby")
        }


def _tabs(page: Node) -> list[tuple[str, bool]]:
    """Return each tab's label and whether it is the selected one."""
    return [(t.text(), "selected" in t.classes) for t in page.by_class("tabs").by_tag("a")]


def _posts(page: Node) -> list[str]:
    """Return the text of each post shown."""
    return [p.by_class("text").text() for p in page.find_all(lambda n: "post" in n.classes)]


def test_the_first_channel_shows_its_posts_and_a_tab_for_each_channel_and_gateway(
    pages: dict[str, Node],
) -> None:
    page = pages[""]
    assert _tabs(page) == [
        ("Sandbox channel", True),
        ("Harbour news", False),
        ("📱 DecisionTelecom", False),
        ("📱 Intel Tele", False),
        ("📱 SMS.BY", False),
    ]
    assert _posts(page) == ["first channel post"]


def test_the_second_channel_shows_its_own_name_and_posts(pages: dict[str, Node]) -> None:
    page = pages["?channel=2"]
    assert page.by_class("channel-info").by_tag("h1")[0].text() == "Harbour news"
    assert ("Harbour news", True) in _tabs(page)
    assert _posts(page) == ["second channel post"]
    assert page.find_all(lambda n: "sender" in n.classes)[0].text() == "Harbour news"


def test_a_gateway_tab_shows_each_phone_as_the_subscriber_sees_it(pages: dict[str, Node]) -> None:
    page = pages["?gateway=smsby"]
    assert page.by_class("channel-info").by_tag("h1")[0].text() == "SMS.BY"
    assert ("📱 SMS.BY", True) in _tabs(page)
    [phone] = page.find_all(lambda n: "phone" in n.classes)
    assert phone.by_class("phone-number").text() == "+375291111111"
    [message] = phone.find_all(lambda n: "gw-message" in n.classes)
    assert "state-read" in message.classes
    assert message.by_class("gw-text").text() == "Hello from SMS.BY"
    assert message.by_class("gw-button").text() == "Read on"
    assert message.by_class("gw-button").attrs["href"] == "https://example.org/s"
    assert message.by_class("gw-status").text() == "READ"
    assert _posts(page) == [], "a gateway's tab shows no channel posts"
