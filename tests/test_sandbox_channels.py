"""Check one sandbox serving several channels over real HTTP: the token picks the channel."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from io import StringIO

import httpx
import pytest
from support.sandbox import TLS, TOKEN, Receiver, api_client, load_messages, post
from support.wait import wait_for

from poster.cli import EXIT_CONFIG, main
from poster.destinations.viber.sandbox import Sandbox
from poster.destinations.viber.sandbox.run import serve_forever

OTHER = "other-token-9d2e7a"
TEXT = load_messages()["text"]


@pytest.fixture
def two() -> Iterator[tuple[Sandbox, httpx.Client, httpx.Client, httpx.Client]]:
    """Run a sandbox with two channels, each webhook set; yield a client per token and an admin."""
    with (
        Receiver(TOKEN) as first_hook,
        Receiver(OTHER) as second_hook,
        Sandbox(token=TOKEN) as sandbox,
        api_client(sandbox) as first,
        api_client(sandbox, token=OTHER) as second,
        httpx.Client(base_url=sandbox.url, timeout=5, verify=TLS) as admin,
    ):
        added = admin.post("sandbox/channels", json={"token": OTHER, "name": "Second"})
        assert added.status_code == 201, added.text
        assert first.post("set_webhook", json={"url": first_hook.url}).json()["status"] == 0
        assert second.post("set_webhook", json={"url": second_hook.url}).json()["status"] == 0
        yield sandbox, first, second, admin


def test_each_token_posts_to_its_own_channel(
    two: tuple[Sandbox, httpx.Client, httpx.Client, httpx.Client],
) -> None:
    sandbox, first, second, admin = two
    assert post(first, {"type": "text", "text": "to the first"})["status"] == 0
    assert post(second, {"type": "text", "text": "to the second"})["status"] == 0
    assert post(second, {"type": "text", "text": "again the second"})["status"] == 0
    one, other = sandbox.channels.all
    assert [p["text"] for p in one.posts] == ["to the first"]
    assert [p["text"] for p in other.posts] == ["to the second", "again the second"]
    assert admin.get("sandbox/channels/2/posts").json() == other.posts
    assert [p["text"] for p in admin.get("sandbox/posts").json()] == ["to the first"]
    assert first.post("get_account_info").json()["chat_hostname"] == "Sandbox channel"
    assert second.post("get_account_info").json()["chat_hostname"] == "Second"


def test_the_token_in_the_body_picks_the_channel_too(
    two: tuple[Sandbox, httpx.Client, httpx.Client, httpx.Client],
) -> None:
    sandbox, _, _, _ = two
    with api_client(sandbox, token=None) as bare:
        body = {"auth_token": OTHER, "from": "sandbox-superadmin=", **TEXT}
        assert bare.post("post", json=body).json()["status"] == 0
    assert [len(c.posts) for c in sandbox.channels.all] == [0, 1]


def test_each_channel_has_its_own_webhook() -> None:
    with (
        Receiver(TOKEN) as hook,
        Sandbox(token=TOKEN) as sandbox,
        api_client(sandbox) as first,
        api_client(sandbox, token=OTHER) as second,
    ):
        sandbox.add_channel(OTHER)
        assert first.post("set_webhook", json={"url": hook.url}).json()["status"] == 0
        assert post(second, TEXT)["status"] == 10, "the second channel has no webhook yet"
        assert post(first, TEXT)["status"] == 0
        assert [c.webhook for c in sandbox.channels.all] == [hook.url, None]


def test_a_revoked_token_gets_status_2_while_the_other_channel_works(
    two: tuple[Sandbox, httpx.Client, httpx.Client, httpx.Client],
) -> None:
    sandbox, first, second, admin = two
    switched = admin.post("sandbox/channels/2/token", json={"revoked": True})
    assert switched.json() == {"revoked": True}
    refused = post(second, TEXT)
    assert refused["status"] == 2
    assert "revoked" in refused["status_message"]
    assert second.post("get_account_info").json()["status"] == 2
    assert post(first, TEXT)["status"] == 0
    assert admin.post("sandbox/channels/2/token", json={"revoked": False}).status_code == 200
    assert post(second, TEXT)["status"] == 0
    assert [len(c.posts) for c in sandbox.channels.all] == [1, 1]


def test_faults_hit_only_the_channel_they_were_queued_for(
    two: tuple[Sandbox, httpx.Client, httpx.Client, httpx.Client],
) -> None:
    sandbox, first, second, admin = two
    queued = admin.post("sandbox/channels/2/faults", json={"faults": ["rate_limit"]})
    assert queued.json() == {"faults": ["rate_limit"]}
    assert post(first, TEXT)["status"] == 0
    assert post(second, TEXT)["status"] == 12
    assert post(second, TEXT)["status"] == 0
    assert [len(c.posts) for c in sandbox.channels.all] == [1, 1]


def test_the_overview_lists_channels_and_never_a_token(
    two: tuple[Sandbox, httpx.Client, httpx.Client, httpx.Client],
) -> None:
    _, _, second, admin = two
    assert post(second, TEXT)["status"] == 0
    overview = admin.get("sandbox/channels").json()
    assert [(c["id"], c["name"], c["posts"]) for c in overview] == [
        (1, "Sandbox channel", 0),
        (2, "Second", 1),
    ]
    assert TOKEN not in json.dumps(overview)
    assert OTHER not in json.dumps(overview)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param({"token": OTHER}, "already has this token", id="taken"),
        pytest.param({"token": ""}, "empty", id="empty"),
        pytest.param({"token": "has a space in it"}, "spaces", id="space"),
        pytest.param({"name": "no token"}, "token", id="no-token"),
        pytest.param({"token": "fine-token-123", "name": "x\ny"}, "printable", id="bad-name"),
    ],
)
def test_a_channel_that_cannot_be_added_is_refused_with_the_reason(
    two: tuple[Sandbox, httpx.Client, httpx.Client, httpx.Client],
    body: dict[str, str],
    error: str,
) -> None:
    sandbox, _, _, admin = two
    answer = admin.post("sandbox/channels", json=body)
    assert answer.status_code == 400
    assert error in answer.json()["error"]
    assert len(sandbox.channels.all) == 2


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        pytest.param("sandbox/channels/3/faults", {"faults": []}, 404, id="no-such-channel"),
        pytest.param("sandbox/channels/2/token", {"revoked": "yes"}, 400, id="not-a-bool"),
        pytest.param("sandbox/channels/2/faults", {"faults": ["melt"]}, 400, id="unknown-fault"),
        pytest.param("sandbox/channels/2/posts", {}, 405, id="post-to-posts"),
    ],
)
def test_a_bad_switch_is_refused_and_changes_nothing(
    two: tuple[Sandbox, httpx.Client, httpx.Client, httpx.Client],
    path: str,
    body: dict[str, object],
    status: int,
) -> None:
    sandbox, _, second, admin = two
    assert admin.post(path, json=body).status_code == status
    assert post(second, TEXT)["status"] == 0
    assert not any(c.revoked or c.pending_faults for c in sandbox.channels.all)


def test_serve_forever_runs_a_channel_per_token() -> None:
    out, until = StringIO(), threading.Event()
    tokens = ["first-token-1234", "second-token-5678"]
    kwargs = {"port": 0, "tokens": tokens, "out": out, "until": until}
    runner = threading.Thread(target=serve_forever, kwargs=kwargs)
    runner.start()
    try:
        wait_for(lambda: "Ctrl-C" in out.getvalue(), "the sandbox to say where it is")
        text = out.getvalue()
        page = next(word for word in text.split() if word.startswith("http://"))
        overview = httpx.get(page + "sandbox/channels", verify=TLS).json()
        assert [c["name"] for c in overview] == ["Sandbox channel", "Sandbox channel 2"]
        assert not any(token in text for token in tokens)
    finally:
        until.set()
        runner.join(timeout=5)
    assert not runner.is_alive()


@pytest.mark.parametrize(
    ("tokens", "problem"),
    [
        pytest.param(["first-token-1234", "first-token-1234"], "given twice", id="twice"),
        pytest.param(["first-token-1234", "é-token"], "--token number 2 contains", id="non-ascii"),
    ],
)
def test_the_sandbox_command_refuses_bad_tokens_in_one_line(
    capsys: pytest.CaptureFixture[str], tokens: list[str], problem: str
) -> None:
    arguments = [part for token in tokens for part in ("--token", token)]
    assert main(["sandbox", "--port", "0", *arguments]) == EXIT_CONFIG
    [line] = capsys.readouterr().err.splitlines()
    assert problem in line
    assert tokens[0] not in line
