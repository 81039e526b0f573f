"""Check injected faults: rate limits, HTTP 500, lost answers and slow answers on /pa/post."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from io import StringIO

import httpx
import pytest
from support.sandbox import TLS, api_client, load_messages, open_channel, post
from support.wait import wait_for

from poster.destinations.viber.sandbox import Sandbox
from poster.destinations.viber.sandbox.run import serve_forever

TEXT = load_messages()["text"]


@pytest.fixture
def channel() -> Iterator[tuple[Sandbox, httpx.Client]]:
    """Run a sandbox with its webhook set and an authenticated client."""
    with open_channel() as (sandbox, client, _):
        yield sandbox, client


def test_rate_limit_answers_status_12_once_and_records_nothing(
    channel: tuple[Sandbox, httpx.Client],
) -> None:
    sandbox, client = channel
    sandbox.inject("rate_limit")
    assert post(client, TEXT) == {"status": 12, "status_message": "Too many requests"}
    assert sandbox.posts == []
    assert post(client, TEXT)["status"] == 0
    assert len(sandbox.posts) == 1


def test_http500_answers_http_500_and_records_nothing(
    channel: tuple[Sandbox, httpx.Client],
) -> None:
    sandbox, client = channel
    sandbox.inject("http500")
    answer = client.post("post", json={"from": "sandbox-superadmin=", **TEXT})
    assert answer.status_code == 500
    assert "status" not in answer.json()
    assert sandbox.posts == []


@pytest.mark.parametrize(
    ("fault", "recorded"),
    [pytest.param("drop", 1, id="drop-after-recording"), pytest.param("drop_before", 0, id="drop")],
)
def test_drop_closes_the_connection_without_an_answer(
    channel: tuple[Sandbox, httpx.Client], fault: str, recorded: int
) -> None:
    sandbox, client = channel
    sandbox.inject(fault)
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, TEXT)
    assert len(sandbox.posts) == recorded
    assert post(client, TEXT)["status"] == 0  # the next call is answered again


def test_slow_delays_the_answer_but_records_at_once(channel: tuple[Sandbox, httpx.Client]) -> None:
    sandbox, client = channel
    sandbox.inject("slow:0.4")
    started = time.monotonic()
    assert post(client, TEXT)["status"] == 0
    assert time.monotonic() - started >= 0.4
    sandbox.inject("slow:1.5")
    with api_client(sandbox, timeout=0.2) as impatient, pytest.raises(httpx.ReadTimeout):
        post(impatient, TEXT)
    assert len(sandbox.posts) == 2  # a read timeout does not mean the post was lost


def test_faults_are_used_in_order_one_per_post(channel: tuple[Sandbox, httpx.Client]) -> None:
    sandbox, client = channel
    sandbox.inject("rate_limit", "http500")
    assert client.post("get_account_info", json={}).json()["status"] == 0  # not a post
    assert post(client, TEXT)["status"] == 12
    assert client.post("post", json=TEXT).status_code == 500
    assert post(client, TEXT)["status"] == 0


@pytest.mark.parametrize("fault", ["boom", "slow", "slow:soon", "slow:-1", "rate_limit:3", ""])
def test_an_unknown_fault_is_refused(fault: str) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        Sandbox().inject(fault)


def test_faults_can_be_queued_over_http(channel: tuple[Sandbox, httpx.Client]) -> None:
    sandbox, client = channel
    faults_url = sandbox.url + "sandbox/faults"
    queued = client.post(faults_url, json={"faults": ["rate_limit", "slow:0.1"]})
    assert queued.status_code == 200
    assert queued.json() == {"faults": ["rate_limit", "slow:0.1"]}
    assert post(client, TEXT)["status"] == 12
    assert client.get(faults_url).json() == {"faults": ["slow:0.1"]}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"faults": ["boom"]}', id="unknown-fault"),
        pytest.param(b'{"faults": "rate_limit"}', id="not-a-list"),
        pytest.param(b'["rate_limit"]', id="not-an-object"),
        pytest.param(b"{broken", id="not-json"),
    ],
)
def test_bad_fault_requests_are_refused_with_400(
    channel: tuple[Sandbox, httpx.Client], body: bytes
) -> None:
    sandbox, client = channel
    answer = client.post(sandbox.url + "sandbox/faults", content=body)
    assert answer.status_code == 400
    assert answer.json()["error"]
    assert sandbox.channel.pending_faults == []


def test_stop_does_not_wait_for_a_slow_answer() -> None:
    with open_channel() as (sandbox, client, _):
        sandbox.inject("slow:30")
        caller = threading.Thread(target=lambda: _swallow(client))
        caller.start()
        wait_for(lambda: sandbox.posts, "the post to reach the sandbox")
        started = time.monotonic()
        sandbox.stop()
        assert time.monotonic() - started < 2
        caller.join(timeout=5)
        assert not caller.is_alive()


def _swallow(client: httpx.Client) -> None:
    """Send one post and ignore how it ends."""
    with contextlib.suppress(httpx.HTTPError):
        post(client, TEXT)


def test_serve_forever_prints_where_to_look_and_stops_when_told() -> None:
    out, until = StringIO(), threading.Event()
    runner = threading.Thread(
        target=serve_forever, kwargs={"port": 0, "tokens": ["t0k3n"], "out": out, "until": until}
    )
    runner.start()
    try:
        for _ in range(100):
            if "Ctrl-C" in out.getvalue():
                break
            time.sleep(0.02)
        text = out.getvalue()
        page = next(word for word in text.split() if word.startswith("http://"))
        assert httpx.get(page, verify=TLS).status_code == 200
        assert page + "pa" in text
        assert "sandbox-superadmin=" in text
        assert "t0k3n" not in text
    finally:
        until.set()
        runner.join(timeout=5)
    assert not runner.is_alive()
