"""Check where requests to hubs go (HTTPS for public hosts, plain HTTP for local ones only) and
that the secret goes over HTTPS only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
import pytest

from poster.errors import HubError
from poster.fetch.addresses import AddressPolicy
from poster.push import hub
from poster.push.subscriptions import new_subscription

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HOSTS = {
    "hub.example": ["93.184.216.34"],
    "down.example": ["93.184.216.35"],
    "hub.lan": ["192.168.1.5"],
    "mixed": ["10.0.0.1", "2001:db8::1", "8.8.8.8"],
}


def resolve(host: str, port: int) -> Sequence[str]:
    """Resolve the test's names; any other is unknown."""
    if host not in HOSTS:
        raise OSError(f"unknown host {host}")
    return HOSTS[host]


ADDRESSES = AddressPolicy(resolve=resolve)


@pytest.mark.parametrize(
    ("url", "asked"),
    [
        ("http://hub.example/hub?x=1", "https://hub.example/hub?x=1"),
        ("http://hub.example:8080/hub", "https://hub.example:8080/hub"),
        ("http://mixed/hub", "https://mixed/hub"),
        ("http://nowhere.example/hub", "https://nowhere.example/hub"),
        ("http://93.184.216.34/hub", "https://93.184.216.34/hub"),
        ("https://hub.example/hub", "https://hub.example/hub"),
        ("http://hub.lan/hub", "http://hub.lan/hub"),
        ("http://127.0.0.1:8080/hub", "http://127.0.0.1:8080/hub"),
        ("http://[::1]/hub", "http://[::1]/hub"),
        ("http://10.1.2.3/hub", "http://10.1.2.3/hub"),
    ],
    ids=[
        "public-name", "public-port", "partly-public", "unresolved", "public-literal", "https",
        "private-name", "loopback", "loopback-v6", "private-literal",
    ],
)  # fmt: skip
def test_a_plain_http_hub_is_asked_over_https_unless_it_is_local(url: str, asked: str) -> None:
    assert hub.secure(url, ADDRESSES) == asked


def client(answer: httpx.Response | None = None) -> tuple[httpx.Client, list[httpx.Request]]:
    """Return a client whose every request is recorded and answered ``answer`` (202 if None)."""
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.host == "down.example":
            raise httpx.ConnectError("refused", request=request)
        if answer is not None and request.url.path == "/hub":
            return answer
        return httpx.Response(202)

    return httpx.Client(transport=httpx.MockTransport(handle)), sent


def test_the_secret_goes_to_a_public_hub_over_https_only() -> None:
    sub = new_subscription("news", "http://hub.example/hub", "https://n.example/feed", NOW)
    made, sent = client()
    assert hub.ask(made, sub, "subscribe", "https://poster.example/websub/x", ADDRESSES) is None
    [request] = sent
    assert str(request.url) == "https://hub.example/hub"
    assert f"hub.secret={sub.secret}" in request.content.decode()


@pytest.mark.parametrize(
    ("url", "mode", "secret"),
    [
        ("https://hub.lan/hub", "subscribe", True),
        ("http://hub.example/hub", "subscribe", True),
        ("http://hub.lan/hub", "subscribe", False),
        ("http://127.0.0.1:8080/hub", "subscribe", False),
        ("https://hub.example/hub", "unsubscribe", False),
    ],
    ids=["https", "made-https", "private-http", "loopback-http", "unsubscribe"],
)
def test_the_secret_is_given_over_https_only(url: str, mode: str, secret: bool) -> None:
    sub = new_subscription("news", url, "https://n.example/feed", NOW)
    made, sent = client()
    given: list[bool] = []
    hub.ask(made, sub, mode, "https://poster.example/websub/x", ADDRESSES, giving=given.append)
    [request] = sent
    form = dict(parse_qsl(request.content.decode()))
    assert form.get("hub.secret") == (sub.secret if secret else None)
    assert given == ([secret] if mode == "subscribe" else [])


def test_a_redirect_to_a_public_http_url_is_followed_over_https() -> None:
    sub = new_subscription("news", "http://hub.lan/hub", "https://n.example/feed", NOW)
    made, sent = client(httpx.Response(308, headers={"Location": "http://hub.example/new"}))
    given: list[bool] = []
    callback = "https://poster.example/websub/x"
    moved = hub.ask(made, sub, "subscribe", callback, ADDRESSES, giving=given.append)
    assert [str(r.url) for r in sent] == ["http://hub.lan/hub", "https://hub.example/new"]
    assert moved == "http://hub.example/new"
    # The same request at each hop, but the secret only on the one over HTTPS.
    forms = [dict(parse_qsl(request.content.decode())) for request in sent]
    assert forms[1].pop("hub.secret") == sub.secret and forms[0] == forms[1]
    assert given == [False, True]


def test_a_public_hub_that_speaks_no_https_fails_the_request() -> None:
    sub = new_subscription("news", "http://down.example/hub", "https://n.example/feed", NOW)
    made, sent = client()
    with pytest.raises(HubError) as caught:
        hub.ask(made, sub, "subscribe", "https://poster.example/websub/x", ADDRESSES)
    assert "cannot reach hub https://down.example/hub (ConnectError)" in str(caught.value)
    assert [r.url.scheme for r in sent] == ["https"]
