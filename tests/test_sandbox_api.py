"""Check the sandbox's Channels Post API over real HTTP: posts, validation, tokens, account info."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.sandbox import SENDER, TOKEN, api_client, load_messages, open_channel, post

from poster.destinations.viber.sandbox import Sandbox

MESSAGES = load_messages()


@pytest.fixture
def channel() -> Iterator[tuple[Sandbox, httpx.Client]]:
    """Run a sandbox with its webhook set and an authenticated client."""
    with open_channel() as (sandbox, client, _):
        yield sandbox, client


@pytest.mark.parametrize("kind", list(MESSAGES))
def test_every_message_type_is_accepted_and_recorded(
    channel: tuple[Sandbox, httpx.Client], kind: str
) -> None:
    sandbox, client = channel
    answer = post(client, MESSAGES[kind])
    assert answer["status"] == 0
    assert answer["status_message"] == "ok"
    assert isinstance(answer["message_token"], int)
    assert 0 < answer["message_token"] < 2**63
    assert answer["chat_hostname"]
    [stored] = sandbox.posts
    timestamp = stored.pop("ts")
    assert isinstance(timestamp, int)
    assert timestamp > 1_600_000_000_000  # epoch milliseconds
    assert stored == {"from": SENDER, **MESSAGES[kind], "message_token": answer["message_token"]}


def test_token_in_the_body_works_and_is_not_stored() -> None:
    with open_channel() as (sandbox, _, _), api_client(sandbox, token=None) as bare:
        body = {"auth_token": TOKEN, "from": SENDER, "type": "text", "text": "hi"}
        assert bare.post("post", json=body).json()["status"] == 0
        assert "auth_token" not in sandbox.posts[0]
        assert TOKEN not in json.dumps(sandbox.posts)


@pytest.mark.parametrize(
    ("header", "body_token"),
    [
        pytest.param(None, None, id="no-token"),
        pytest.param("wrong", None, id="wrong-header"),
        pytest.param(None, "wrong", id="wrong-body"),
        pytest.param(TOKEN, "wrong", id="right-header-wrong-body"),
        pytest.param("wrong", TOKEN, id="wrong-header-right-body"),
        pytest.param(None, 12345, id="body-token-not-a-string"),
    ],
)
def test_a_missing_or_wrong_token_is_invalid_auth_token(
    header: str | None, body_token: Any
) -> None:
    with open_channel() as (sandbox, _, _), api_client(sandbox, token=header) as client:
        body: dict[str, Any] = {"from": SENDER, "type": "text", "text": "hi"}
        if body_token is not None:
            body["auth_token"] = body_token
        for endpoint in ("post", "get_account_info", "set_webhook"):
            answer = client.post(endpoint, json=body)
            assert answer.status_code == 200
            assert answer.json()["status"] == 2, endpoint
        assert sandbox.posts == []


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        pytest.param(b"{not json", 3, id="broken-json"),
        pytest.param(b"\xff\xfe{}", 3, id="not-utf8"),
        pytest.param(b'["text"]', 3, id="array-not-object"),
        pytest.param(b"", 4, id="empty-body-means-missing-from"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_bad_data(
    channel: tuple[Sandbox, httpx.Client], raw: bytes, status: int
) -> None:
    sandbox, client = channel
    answer = client.post("post", content=raw, headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.json()["status"]) == (200, status)
    assert sandbox.posts == []


def test_posting_before_a_webhook_is_set_is_webhook_not_set() -> None:
    with Sandbox(token=TOKEN) as sandbox, api_client(sandbox) as client:
        answer = post(client, MESSAGES["text"])
        assert answer["status"] == 10
        assert "set_webhook" in answer["status_message"]
        assert sandbox.posts == []


def _long(n: int) -> str:
    return "x" * n


REFUSED = [
    # (id, body without "from" unless given, expected status, words in status_message)
    ("from-missing", {"from": None, "type": "text", "text": "hi"}, 4, "from is required"),
    ("from-unknown", {"from": "stranger=", "type": "text", "text": "hi"}, 3, "not a member"),
    ("from-admin", {"from": "sandbox-admin=", "type": "text", "text": "hi"}, 3, "superadmin"),
    ("from-number", {"from": 7, "type": "text", "text": "hi"}, 3, "from must be a string"),
    ("type-missing", {"text": "hi"}, 4, "type is required"),
    ("type-unknown", {"type": "gif", "text": "hi"}, 3, "not a message type"),
    ("text-missing", {"type": "text"}, 4, "text is required"),
    ("text-empty", {"type": "text", "text": ""}, 4, "text is required"),
    ("text-7001", {"type": "text", "text": _long(7001)}, 3, "7001 characters"),
    ("text-number", {"type": "text", "text": 42}, 3, "text must be a string"),
    ("picture-text-missing", {**MESSAGES["picture"], "text": None}, 4, "text is required"),
    ("picture-text-769", {**MESSAGES["picture"], "text": _long(769)}, 3, "limit is 768"),
    ("picture-media-missing", {"type": "picture", "text": ""}, 4, "media is required"),
    (
        "picture-png",
        {**MESSAGES["picture"], "media": "https://a.example/p.png"},
        3,
        ".jpg or .jpeg",
    ),
    (
        "picture-jpg-in-query",
        {**MESSAGES["picture"], "media": "https://a.example/p?f=.jpg"},
        3,
        ".jpeg",
    ),
    (
        "picture-media-not-url",
        {**MESSAGES["picture"], "media": "harbour.jpg"},
        3,
        "http or https URL",
    ),
    ("picture-thumb-not-url", {**MESSAGES["picture"], "thumbnail": "thumb.jpg"}, 3, "thumbnail"),
    (
        "video-thumb-png",
        {**MESSAGES["video"], "thumbnail": "https://example.com/thumb.png"},
        3,
        "thumbnail must be a JPEG",
    ),
    ("video-media-missing", {"type": "video", "size": 10}, 4, "media is required"),
    (
        "video-size-missing",
        {"type": "video", "media": "https://a.example/v.mp4"},
        4,
        "size is required",
    ),
    ("video-size-zero", {**MESSAGES["video"], "size": 0}, 3, "positive"),
    ("video-size-string", {**MESSAGES["video"], "size": "10"}, 3, "whole number"),
    ("video-size-float", {**MESSAGES["video"], "size": 1.5}, 3, "whole number"),
    ("video-size-bool", {**MESSAGES["video"], "size": True}, 3, "whole number"),
    ("video-over-50mb", {**MESSAGES["video"], "size": 50 * 1024 * 1024 + 1}, 3, "50 MB"),
    ("video-duration-181", {**MESSAGES["video"], "duration": 181}, 3, "between 0 and 180"),
    ("video-duration-negative", {**MESSAGES["video"], "duration": -1}, 3, "between 0 and 180"),
    ("file-name-missing", {**MESSAGES["file"], "file_name": None}, 4, "file_name is required"),
    ("file-name-no-extension", {**MESSAGES["file"], "file_name": "report"}, 3, "extension"),
    ("file-name-dot-only", {**MESSAGES["file"], "file_name": ".pdf"}, 3, "extension"),
    ("file-name-trailing-dot", {**MESSAGES["file"], "file_name": "report."}, 3, "extension"),
    ("file-name-257", {**MESSAGES["file"], "file_name": _long(253) + ".pdf"}, 3, "limit is 256"),
    ("file-size-missing", {**MESSAGES["file"], "size": None}, 4, "size is required"),
    ("url-media-missing", {"type": "url", "text": "hi"}, 4, "media is required"),
    (
        "url-media-2001",
        {"type": "url", "media": "https://a.example/" + _long(1983)},
        3,
        "limit is 2000",
    ),
    ("url-media-not-url", {"type": "url", "media": "javascript:alert(1)"}, 3, "http or https URL"),
    ("url-text-121", {**MESSAGES["url"], "text": _long(121)}, 3, "limit is 120"),
    ("location-missing", {"type": "location"}, 4, "location is required"),
    ("location-not-object", {"type": "location", "location": "37,-122"}, 3, "JSON object"),
    ("location-lat-missing", {"type": "location", "location": {"lon": 1}}, 4, "location.lat"),
    ("location-lat-91", {"type": "location", "location": {"lat": 91, "lon": 0}}, 3, "between -90"),
    (
        "location-lon-minus-181",
        {"type": "location", "location": {"lat": 0, "lon": "-181"}},
        3,
        "between -180",
    ),
    (
        "location-lat-words",
        {"type": "location", "location": {"lat": "north", "lon": 0}},
        3,
        "number",
    ),
    ("location-lat-bool", {"type": "location", "location": {"lat": True, "lon": 0}}, 3, "number"),
    (
        "location-lat-exponent",
        {"type": "location", "location": {"lat": "1e-05", "lon": "0"}},
        3,
        "decimal number",
    ),
    (
        "location-lon-underscore",
        {"type": "location", "location": {"lat": "0", "lon": "1_0"}},
        3,
        "decimal number",
    ),
    (
        "location-lat-nan",
        {"type": "location", "location": {"lat": "nan", "lon": 0}},
        3,
        "decimal number",
    ),
    ("contact-missing", {"type": "contact"}, 4, "contact is required"),
    (
        "contact-name-29",
        {"type": "contact", "contact": {"name": _long(29), "phone_number": "1"}},
        3,
        "contact.name",
    ),
    (
        "contact-phone-19",
        {"type": "contact", "contact": {"name": "A", "phone_number": "1" * 19}},
        3,
        "limit is 18",
    ),
    (
        "contact-phone-missing",
        {"type": "contact", "contact": {"name": "A"}},
        4,
        "contact.phone_number",
    ),
    ("sticker-missing", {"type": "sticker"}, 4, "sticker_id is required"),
    ("sticker-string", {"type": "sticker", "sticker_id": "46105"}, 3, "whole number"),
    ("body-over-30kb", {**MESSAGES["text"], "padding": _long(31 * 1024)}, 3, "30 KB"),
]


@pytest.mark.parametrize(
    ("body", "status", "words"), [pytest.param(*case[1:], id=case[0]) for case in REFUSED]
)
def test_invalid_posts_are_refused_with_the_documented_status(
    channel: tuple[Sandbox, httpx.Client], body: dict[str, Any], status: int, words: str
) -> None:
    sandbox, client = channel
    sent = {"from": SENDER, **body}
    if sent["from"] is None:
        del sent["from"]
    answer = client.post(
        "post", json={key: value for key, value in sent.items() if value is not None}
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == status
    assert words in answer.json()["status_message"]
    assert sandbox.posts == []


ACCEPTED = [
    ("text-7000", {"type": "text", "text": _long(7000)}),
    ("text-7000-cyrillic", {"type": "text", "text": "ж" * 7000}),
    ("picture-empty-caption", {**MESSAGES["picture"], "text": ""}),
    ("picture-caption-768", {**MESSAGES["picture"], "text": _long(768)}),
    ("picture-upper-case-jpeg", {**MESSAGES["picture"], "media": "http://a.example/P.JPEG?w=1"}),
    ("picture-no-thumbnail", {**MESSAGES["picture"], "thumbnail": None}),
    ("video-duration-0", {**MESSAGES["video"], "duration": 0}),
    ("video-duration-180", {**MESSAGES["video"], "duration": 180}),
    (
        "video-no-duration-no-thumbnail",
        {"type": "video", "media": "https://a.example/v.mp4", "size": 1},
    ),
    ("file-name-256", {**MESSAGES["file"], "file_name": _long(252) + ".pdf"}),
    ("url-no-text", {"type": "url", "media": "https://a.example/"}),
    ("url-media-2000", {"type": "url", "media": "https://a.example/" + _long(1982)}),
    ("location-numbers-at-the-edges", {"type": "location", "location": {"lat": -90, "lon": 180.0}}),
    (
        "contact-at-the-limits",
        {"type": "contact", "contact": {"name": _long(28), "phone_number": "1" * 18}},
    ),
    ("extra-fields-ignored", {**MESSAGES["sticker"], "min_api_version": 7}),
]


@pytest.mark.parametrize("body", [pytest.param(case[1], id=case[0]) for case in ACCEPTED])
def test_values_at_the_documented_limits_are_accepted(
    channel: tuple[Sandbox, httpx.Client], body: dict[str, Any]
) -> None:
    sandbox, client = channel
    sent = {key: value for key, value in body.items() if value is not None}
    answer = post(client, sent)
    assert answer["status"] == 0, answer
    assert sandbox.posts[0]["type"] == body["type"]


def test_get_account_info_lists_the_channel_and_its_members() -> None:
    members = [{"id": "boss=", "name": "Boss", "role": "superadmin"}]
    sandbox = Sandbox(token=TOKEN, channel_name="Harbour news", members=members)
    with sandbox, api_client(sandbox) as client:
        info = client.post("get_account_info", content=b"").json()
    assert info["status"] == 0
    assert info["status_message"] == "ok"
    assert info["id"].startswith("pa:")
    assert info["Id"] == info["id"]
    assert info["chat_hostname"] == "Harbour news"
    assert info["members"] == members
    assert "webhook" not in info


def test_default_members_are_one_superadmin_and_one_admin() -> None:
    with open_channel() as (_, client, receiver):
        info = client.post("get_account_info", json={}).json()
    roles = {member["id"]: member["role"] for member in info["members"]}
    assert roles == {"sandbox-superadmin=": "superadmin", "sandbox-admin=": "admin"}
    assert info["webhook"] == receiver.url


def test_sandbox_posts_lists_accepted_posts_in_order_without_the_token() -> None:
    with open_channel() as (sandbox, client, _):
        for kind in ("text", "sticker", "url"):
            post(client, MESSAGES[kind])
        post(client, {"type": "text"})  # refused: not listed
        listed = client.get(sandbox.url + "sandbox/posts")
    assert listed.status_code == 200
    assert [p["type"] for p in listed.json()] == ["text", "sticker", "url"]
    assert listed.json() == sandbox.posts
    assert TOKEN not in listed.text


def test_an_unknown_endpoint_is_not_found(channel: tuple[Sandbox, httpx.Client]) -> None:
    _, client = channel
    answer = client.post("send_message", json={})
    assert answer.status_code == 404
    assert "send_message" in answer.json()["status_message"]


def test_a_chunked_body_is_refused_with_length_required(
    channel: tuple[Sandbox, httpx.Client],
) -> None:
    _, client = channel
    answer = client.post("post", content=iter([b'{"type":', b'"text"}']))
    assert answer.status_code == 411


def test_the_sandbox_refuses_to_start_twice_and_stops_twice() -> None:
    sandbox = Sandbox(token=TOKEN)
    with pytest.raises(RuntimeError, match="not running"):
        _ = sandbox.url
    with sandbox, pytest.raises(RuntimeError, match="already running"):
        sandbox.start()
    sandbox.stop()
