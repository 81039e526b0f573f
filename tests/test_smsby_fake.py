"""Test that the fake SMS.BY gateway holds requests to every rule of its document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from poster.destinations.smsby.fake import DEFAULT_TOKEN, SmsByFake

PHONE = "375291111111"
QUICK = "/api/v2/sendQuickViberMessage"
BULK = "/api/v1/sendBulkViber"


_CLIENT: list[httpx.Client] = []


@pytest.fixture(scope="module", autouse=True)
def http() -> Iterator[None]:
    """Share one HTTP client: making one per request costs more than the tests themselves."""
    with httpx.Client(timeout=5) as client:
        _CLIENT.append(client)
        yield
        _CLIENT.clear()


@pytest.fixture
def fake() -> Iterator[SmsByFake]:
    """Run the fake with one stored list."""
    with SmsByFake() as running:
        running.gateway.lists[3] = ("news", (PHONE,))
        yield running


def post(fake: SmsByFake, path: str, **parts: Any) -> httpx.Response:
    """POST to the fake with query, form data or a JSON body."""
    return _CLIENT[0].post(fake.base_url + path, **parts)


def quick(**changes: str | None) -> dict[str, str]:
    """Return a valid sendQuickViberMessage form, changed as asked (None drops a field)."""
    form = {"token": DEFAULT_TOKEN, "vibername_id": "7", "phone": PHONE, "message": "hi"}
    form.update({k: v for k, v in changes.items() if v is not None})
    return {k: v for k, v in form.items() if changes.get(k, "") is not None}


def mailing(**changes: Any) -> dict[str, Any]:
    """Return one valid bulk mailing, changed as asked."""
    message: dict[str, Any] = {
        "alphaname_id": "444",
        "name": "mailing list 1",
        "message_type": "bulk",
        "content": {"type": "text", "text": "message text"},
        "delivery_list": [PHONE],
    }
    message.update(changes)
    return message


def bulk(*messages: dict[str, Any]) -> dict[str, Any]:
    """Return a sendBulkViber body."""
    return {"token": DEFAULT_TOKEN, "messages": list(messages or [mailing()])}


BUTTON = {
    "type": "button", "text": "t", "caption": "Go", "button_link": "https://e.org/a",
    "image_url": "https://e.org/a.jpg",
}  # fmt: skip

QUICK_REFUSALS = [
    pytest.param(quick(vibername_id="seven"), "vibername_id must be an integer", id="type"),
    pytest.param(quick(phone=None), "phone is required", id="no-phone"),
    pytest.param(quick(phone="+375291111111"), "Phone number is not valid", id="plus"),
    pytest.param(quick(phone="12345"), "Phone number is not valid", id="short"),
    pytest.param(quick(type_message="VIDEO"), "TEXT, IMAGE or BUTTON", id="kind"),
    pytest.param(quick(message=None), "message is required", id="text-no-message"),
    pytest.param(quick(type_message="IMAGE"), "image_url or image is required", id="no-image"),
    pytest.param(quick(type_message="IMAGE", image_url="pic.jpg"), "Content url", id="url"),
    pytest.param(quick(type_message="BUTTON", button="Go"), "button_link is required", id="link"),
    pytest.param(quick(type_message="BUTTON", button_link="https://e.org"), "button is", id="btn"),
    pytest.param(quick(message="x" * 1001), "1000 characters", id="long-text"),
    pytest.param(
        quick(type_message="BUTTON", button="x" * 31, button_link="https://e.org"),
        "30 characters",
        id="long-caption",
    ),
    pytest.param(
        quick(type_message="BUTTON", button="Go", button_link="https://e.org/" + "a" * 137),
        "150 characters",
        id="long-link",
    ),
    pytest.param(quick(forwarding_message="2"), "1 or 0", id="forwarding-flag"),
    pytest.param(quick(forwarding_message="1", forwarding_time="4"), "5 and 60", id="ttl-low"),
    pytest.param(quick(forwarding_message="1", forwarding_time="61"), "5 and 60", id="ttl-high"),
    pytest.param(quick(alphaname_id="1"), "Alphaname 1 not found", id="alphaname"),
    pytest.param(quick(vibername_id="8"), "Viber name 8 not found", id="vibername"),
    pytest.param(quick(token="wrong"), "Invalid token", id="token"),
]


@pytest.mark.parametrize(("form", "reason"), QUICK_REFUSALS)
def test_quick_send_refuses_what_the_document_forbids(
    fake: SmsByFake, form: dict[str, str], reason: str
) -> None:
    answer = post(fake, QUICK, data=form)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ERROR"
    assert reason in answer.json()["message"]
    assert fake.gateway.deliveries == []


QUICK_LIMITS = [
    pytest.param(quick(message="x" * 1000), id="text-1000"),
    pytest.param(
        quick(type_message="BUTTON", button="x" * 30, button_link="https://e.org/" + "a" * 136),
        id="caption-30-link-150",
    ),
    pytest.param(quick(forwarding_message="1", forwarding_time="5", alphaname_id="444"), id="5"),
    pytest.param(quick(forwarding_message="1", forwarding_time="60"), id="ttl-60"),
    pytest.param(quick(type_message="IMAGE", image_url="https://e.org/a.jpg"), id="image"),
]


@pytest.mark.parametrize("form", QUICK_LIMITS)
def test_quick_send_takes_values_at_the_limits(fake: SmsByFake, form: dict[str, str]) -> None:
    answer = post(fake, QUICK, data=form).json()
    assert answer["status"] == "OK", answer
    assert answer["result"]["message_id"] == 8484


def test_quick_send_takes_an_image_file_as_multipart(fake: SmsByFake) -> None:
    fields = quick(type_message="IMAGE", message=None)
    files = {"image": ("pic.jpg", b"\xff\xd8jpeg", "image/jpeg")}
    answer = post(fake, QUICK, data=fields, files=files).json()
    assert answer["status"] == "OK", answer
    assert fake.requests[-1].content_type == "multipart/form-data"


def test_form_fields_in_the_query_do_not_count(fake: SmsByFake) -> None:
    answer = post(fake, QUICK, params=quick()).json()
    assert answer == {"status": "ERROR", "message": "Invalid token"}


BULK_REFUSALS = [
    pytest.param(bulk(mailing(name="")), "name is required", id="name"),
    pytest.param(bulk(mailing(alphaname_id="x")), "alphaname_id", id="alphaname-type"),
    pytest.param(bulk(mailing(alphaname_id="445")), "alphaname 445 not found", id="alphaname"),
    pytest.param(bulk(mailing(message_type="group")), "bulk or personal", id="message-type"),
    pytest.param(bulk(mailing(schedule_time="2024-10-30 22:56")), "YYYY-MM-DDTHH", id="when"),
    pytest.param(bulk(mailing(content={"type": "video"})), "text, image or button", id="type"),
    pytest.param(bulk(mailing(content={"type": "text"})), "content.text is required", id="text"),
    pytest.param(bulk(mailing(content={"type": "image"})), "content.image_url", id="image"),
    pytest.param(
        bulk(mailing(content={**BUTTON, "caption": None})), "content.caption", id="no-caption"
    ),
    pytest.param(
        bulk(mailing(content={**BUTTON, "button_link": "https://e.org/" + "a" * 137})),
        "150 characters",
        id="button-link-151",
    ),
    pytest.param(bulk(mailing(content={**BUTTON, "caption": "c" * 31})), "30 char", id="caption"),
    pytest.param(
        bulk(mailing(content={"type": "text", "text": "t" * 1001})), "1000 char", id="text-1001"
    ),
    pytest.param(
        bulk(
            mailing(
                message_type="personal",
                content={"type": "image", "image_url": "https://e.org/a.jpg"},
                delivery_list=[{"phone": PHONE, "text": "t"}],
            )
        ),
        "only be used with message_type = bulk",
        id="image-personal",
    ),
    pytest.param(
        bulk(mailing(content={**BUTTON, "image_url": None})), "content.image_url", id="no-image"
    ),
    pytest.param(
        bulk(
            mailing(
                message_type="personal",
                content={"type": "button", "caption": "Go"},
                delivery_list=[{"phone": PHONE, "text": "t", "button_link": "https://e.org/"}],
            )
        ),
        "content.image_url is required for type button",
        id="personal-no-image",
    ),
    pytest.param(bulk(mailing(delivery_list=[])), "non-empty array", id="empty-list"),
    pytest.param(bulk(mailing(delivery_list=["+375291111111"])), "not valid", id="phone"),
    pytest.param(bulk(mailing(delivery_list=[{"phone": PHONE}])), "as strings", id="bulk-objects"),
    pytest.param(
        bulk(mailing(message_type="personal", delivery_list=[{"phone": PHONE}])),
        "needs its text",
        id="personal-text",
    ),
    pytest.param(
        bulk(
            mailing(
                message_type="personal",
                content={"type": "button", "caption": "Go", "image_url": "https://e.org/a.jpg"},
                delivery_list=[{"phone": PHONE, "text": "t"}],
            )
        ),
        "needs its button_link",
        id="personal-link",
    ),
    pytest.param({"token": DEFAULT_TOKEN, "messages": []}, "non-empty array", id="no-messages"),
    pytest.param({**bulk(), "callback_url": "webhook.php"}, "callback_url", id="callback"),
    pytest.param({**bulk(), "token": "wrong"}, "Invalid token", id="token"),
]


@pytest.mark.parametrize(("body", "reason"), BULK_REFUSALS)
def test_bulk_send_refuses_what_the_document_forbids(
    fake: SmsByFake, body: dict[str, Any], reason: str
) -> None:
    answer = post(fake, BULK, json=body)
    assert answer.status_code == 400
    assert reason in answer.json()["error"]
    assert fake.gateway.bulks == {}


def test_bulk_send_takes_its_messages_only_as_a_json_body(fake: SmsByFake) -> None:
    as_query = post(fake, BULK, params={"token": DEFAULT_TOKEN, "messages": "[]"})
    assert as_query.status_code == 400
    assert "the body must be a JSON object" in as_query.json()["error"]
    assert post(fake, BULK, json=bulk()).json()["success"] == "OK"


def test_bulk_send_reads_token_and_callback_from_the_query_first(fake: SmsByFake) -> None:
    url = "https://poster.test/hook"
    body = {"messages": bulk()["messages"]}
    answer = post(fake, BULK, params={"token": DEFAULT_TOKEN, "callback_url": url}, json=body)
    assert fake.gateway.callbacks == {answer.json()["uuid"]: url}
    wrong = post(fake, BULK, params={"token": "wrong"}, json=bulk())
    assert (wrong.status_code, wrong.json()) == (400, {"error": "Invalid token"})
    bad = post(fake, BULK, params={"token": DEFAULT_TOKEN, "callback_url": "hook"}, json=bulk())
    assert "callback_url must be an http(s) URL" in bad.json()["error"]


@pytest.mark.parametrize(
    ("path", "query", "form", "reason"),
    [
        pytest.param("/api/v2/confirmViberMessage", {}, {"token": DEFAULT_TOKEN,
                     "message_id": "4905"}, "Invalid token", id="confirm-token-in-form"),
        pytest.param("/api/v2/confirmViberMessage", {"token": DEFAULT_TOKEN, "message_id": "1"},
                     {}, "message_id is required", id="confirm-id-in-query"),
        pytest.param("/api/v2/getViberMessageData", {"token": DEFAULT_TOKEN}, {},
                     "message_id is required", id="data-no-id"),
        pytest.param("/api/v2/getViberMessages", {"token": DEFAULT_TOKEN},
                     {"limit_rows": "ten"}, "limit_rows must be an integer", id="rows"),
        pytest.param("/api/v2/getViberDeliveryList", {"token": DEFAULT_TOKEN},
                     {"message_id": "1"}, "Invalid token", id="list-token-in-query"),
        pytest.param("/api/v2/sendViberMessageList", {}, {"token": DEFAULT_TOKEN,
                     "vibername_id": "7", "message": "m"}, "list_id is required", id="no-list"),
        pytest.param("/api/v2/sendViberMessageList", {}, {"token": DEFAULT_TOKEN,
                     "vibername_id": "7", "list_id": "9", "message": "m"},
                     "Subscriber list 9 not found", id="unknown-list"),
        pytest.param("/api/v2/sendViberMessageList", {}, {"token": DEFAULT_TOKEN,
                     "vibername_id": "7", "list_id": "3", "message": "m",
                     "d_schedule": "2024-10-30T22:56:00"}, "YYYY-MM-DD HH:MM", id="d-schedule"),
        pytest.param("/api/v2/getViberDeliveryData", {}, {"token": DEFAULT_TOKEN,
                     "message_id": "1"}, "Message not found", id="unknown-message"),
    ],
)  # fmt: skip
def test_v2_methods_read_each_parameter_from_its_own_place(
    fake: SmsByFake, path: str, query: dict[str, str], form: dict[str, str], reason: str
) -> None:
    answer = post(fake, path, params=query, data=form).json()
    assert answer["status"] == "ERROR"
    assert reason in answer["message"]


def test_status_bulk_reads_token_and_uuid_from_the_query(fake: SmsByFake) -> None:
    uuid = post(fake, BULK, json=bulk()).json()["uuid"]
    in_body = post(fake, "/api/v1/statusBulkViber", data={"token": DEFAULT_TOKEN, "uuid": uuid})
    assert (in_body.status_code, in_body.json()) == (400, {"error": "Invalid token"})
    found = post(fake, "/api/v1/statusBulkViber", params={"token": DEFAULT_TOKEN, "uuid": uuid})
    assert found.json()[0]["success"][0]["phone"] == PHONE


def test_unknown_paths_and_other_methods_are_not_found(fake: SmsByFake) -> None:
    assert post(fake, "/api/v2/sendViber", data=quick()).status_code == 404
    answer = _CLIENT[0].get(fake.base_url + QUICK, params=quick())
    assert (answer.status_code, answer.json()) == (404, {"error": "Page not found"})
    assert fake.gateway.deliveries == []


def test_repeated_wrong_tokens_block_the_account(fake: SmsByFake) -> None:
    fake.gateway.bruteforce_after = 2
    for _ in range(2):
        assert post(fake, QUICK, data=quick(token="wrong")).json()["message"] == "Invalid token"
    blocked = post(fake, QUICK, data=quick()).json()
    assert "access is blocked" in blocked["message"]


def test_rate_limit_answers_429_until_the_window_passes() -> None:
    with SmsByFake(rate_limit=2, rate_window=10) as fake:
        assert post(fake, QUICK, data=quick()).status_code == 200
        fake.advance(4)
        assert post(fake, QUICK, data=quick(message="b")).status_code == 200
        limited = post(fake, QUICK, data=quick(message="c"))
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "6"
        fake.advance(6)
        assert post(fake, QUICK, data=quick(message="c")).json()["status"] == "OK"
