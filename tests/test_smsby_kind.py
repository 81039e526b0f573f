"""Send feed items to SMS.BY subscribers through the strict fake gateway, end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from poster.app import build
from poster.config import load_config
from poster.destinations.gateway.destination import close_ledgers
from poster.destinations.smsby.fake import DEFAULT_TOKEN, SmsByFake
from poster.errors import ConfigError
from poster.pipeline.runner import run_once
from poster.store.recipientledger import RecipientLedger, ledger_path

ITEM = (
    """<item><title>{n}</title><guid>{n}</guid><link>https://news.test/{n}</link>{extra}</item>"""
)
PHONES = ("375291111111", "375292222222", "375293333333", "375294444444")


def rss(*extras: str) -> str:
    """Return an RSS document with one item per ``extras`` entry."""
    body = "".join(ITEM.format(n=n + 1, extra=extra) for n, extra in enumerate(extras))
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'
    )


@pytest.fixture
def fake() -> Iterator[SmsByFake]:
    with SmsByFake() as running:
        yield running
    close_ledgers()


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTER_SUBS_TOKEN", DEFAULT_TOKEN)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def project(tmp_path: Path, fake: SmsByFake, section: str, *extras: str) -> Path:
    """Write a project posting ``news.xml`` to destination ``subs`` with ``section``'s keys."""
    (tmp_path / "news.xml").write_text(rss(*extras))
    (tmp_path / "subscribers.txt").write_text("\n".join(PHONES) + "\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("News {{ item.title }}")
    config = tmp_path / "feeds.toml"
    config.write_text(
        'templates = "templates"\n'
        f'[destinations.subs]\nkind = "smsby"\napi_url = "{fake.base_url}"\nmin_gap = "0s"\n'
        f"{section}\n"
        '[[feeds]]\nname = "news"\nurl = "news.xml"\nbacklog = "all"\n'
    )
    return config


def run(config: Path) -> None:
    loaded = load_config(config)
    with build(loaded, config.parent / "state") as app:
        run_once(app, loaded.feeds)


def ledger(config: Path) -> RecipientLedger:
    close_ledgers()
    return RecipientLedger(ledger_path(config.parent / "state", "subs"), read_only=True)


def bulk_bodies(fake: SmsByFake) -> list[dict[str, object]]:
    return [seen.body for seen in fake.requests if seen.path == "/api/v1/sendBulkViber"]


BULK = 'recipients = "subscribers.txt"\nalphaname_id = 444\n'
FORWARD = 'recipients = "subscribers.txt"\nvibername_id = 7\nforward_sms = "15m"\n'


def test_a_run_once_sends_to_every_number_recording_rejections_and_opt_outs(
    tmp_path: Path, fake: SmsByFake
) -> None:
    config = project(tmp_path, fake, BULK, "")
    fake.gateway.blacklisted.add(PHONES[1])
    fake.gateway.unroutable.add(PHONES[2])
    run(config)
    assert [[d.text for d in fake.got(phone)] for phone in PHONES] == [
        ["News 1"],
        [],
        [],
        ["News 1"],
    ]
    body = bulk_bodies(fake)[0]
    assert json.dumps(body).count(DEFAULT_TOKEN) == 1
    with ledger(config) as recorded:
        outcome = recorded.outcome("news 1")
        assert (outcome.accepted, outcome.rejected, outcome.uncertain) == (2, 2, 0)
        assert [o.phone for o in recorded.opted_out()] == [PHONES[1]]
    # A later item skips the opted-out number; the unroutable one is tried again.
    (tmp_path / "news.xml").write_text(rss("", ""))
    run(config)
    later = bulk_bodies(fake)[-1]["messages"][0]["delivery_list"]  # type: ignore[index]
    assert later == [PHONES[0], PHONES[2], PHONES[3]]


def test_a_picture_goes_as_the_button_variant(tmp_path: Path, fake: SmsByFake) -> None:
    image = '<enclosure url="https://img.test/a.jpg" type="image/jpeg" length="1000"/>'
    config = project(tmp_path, fake, BULK, image)
    run(config)
    got = fake.got(PHONES[0])[0]
    assert (got.text, got.image_url, got.button, got.button_link) == (
        "News 1",
        "https://img.test/a.jpg",
        "Read more",
        "https://news.test/1",
    )


def test_a_lost_answer_leaves_the_batch_uncertain_and_unsent_again(
    tmp_path: Path, fake: SmsByFake
) -> None:
    config = project(tmp_path, fake, BULK, "")
    fake.faults.append("drop")
    run(config)
    run(config)
    assert [len(fake.got(phone)) for phone in PHONES] == [1, 1, 1, 1]
    assert len(bulk_bodies(fake)) == 1
    with ledger(config) as recorded:
        assert recorded.outcome("news 1").uncertain == 4
        assert [b.state for b in recorded.open_batches()] == ["uncertain"]


def test_an_empty_balance_stops_the_destination_until_topped_up(
    tmp_path: Path, fake: SmsByFake
) -> None:
    config = project(tmp_path, fake, BULK, "")
    fake.gateway.balance = Decimal("0.05")
    run(config)
    assert [len(fake.got(phone)) for phone in PHONES] == [0, 0, 0, 0]
    with ledger(config) as recorded:
        outcome = recorded.outcome("news 1")
        assert (outcome.accepted, outcome.pending, outcome.uncertain) == (0, 0, 0)
    fake.gateway.balance = Decimal("10")
    run(config)
    assert [len(fake.got(phone)) for phone in PHONES] == [1, 1, 1, 1]


def test_a_gateway_list_is_created_then_confirmed_as_one_recipient(
    tmp_path: Path, fake: SmsByFake
) -> None:
    fake.gateway.lists[12] = ("news", PHONES[:2])
    config = project(tmp_path, fake, "list_id = 12\nvibername_id = 7\n", "")
    run(config)
    paths = [seen.path for seen in fake.requests]
    assert paths == ["/api/v2/sendViberMessageList", "/api/v2/confirmViberMessage"]
    assert [len(fake.got(phone)) for phone in PHONES] == [1, 1, 0, 0]
    with ledger(config) as recorded:
        assert recorded.outcome("news 1").accepted == 1
        assert recorded.plan("news 1", ["list:12"]) == ()


@pytest.mark.parametrize("fault", ["drop", "500", "garbage-500", "504"])
def test_a_confirmation_without_a_clear_answer_is_uncertain_and_never_confirmed_again(
    tmp_path: Path, fake: SmsByFake, fault: str
) -> None:
    fake.gateway.lists[12] = ("news", PHONES[:2])
    config = project(tmp_path, fake, "list_id = 12\nvibername_id = 7\n", "")
    fake.faults.extend(["", fault])
    run(config)
    run(config)
    paths = [seen.path for seen in fake.requests]
    assert paths == ["/api/v2/sendViberMessageList", "/api/v2/confirmViberMessage"]
    with ledger(config) as recorded:
        assert recorded.outcome("news 1").uncertain == 1


def test_forward_sms_sends_number_by_number_with_forwarding(
    tmp_path: Path, fake: SmsByFake
) -> None:
    section = BULK + 'vibername_id = 7\nforward_sms = "15m"\n'
    config = project(tmp_path, fake, section, "")
    fake.gateway.blacklisted.add(PHONES[3])
    run(config)
    forms = [seen.form for seen in fake.requests]
    assert sorted(form["phone"] for form in forms) == sorted(PHONES)
    assert {(f["forwarding_message"], f["forwarding_time"], f["alphaname_id"]) for f in forms} == {
        ("1", "15", "444")
    }
    with ledger(config) as recorded:
        outcome = recorded.outcome("news 1")
        assert (outcome.accepted, outcome.rejected) == (3, 1)
        assert [o.phone for o in recorded.opted_out()] == [PHONES[3]]


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (BULK + "list_id = 3\n", "give either recipients or list_id"),
        ('recipients = "subscribers.txt"\n', "alphaname_id: is required"),
        (BULK + 'forward_sms = "15m"\n', "vibername_id: is required"),
        (FORWARD, "alphaname_id: is required with forward_sms"),
        (BULK + 'vibername_id = 7\nforward_sms = "61m"\n', "whole minutes from 5 to 60"),
        ("list_id = 3\n", "vibername_id: is required"),
    ],
    ids=["file-and-list", "bulk-without-alphaname", "forward-without-vibername",
         "forward-without-alphaname", "forward-too-long", "list-without-vibername"],
)  # fmt: skip
def test_refuses_sections_whose_keys_do_not_fit(
    tmp_path: Path, fake: SmsByFake, section: str, problem: str
) -> None:
    config = project(tmp_path, fake, section, "")
    with pytest.raises(ConfigError, match=problem):
        run(config)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("section", "key"),
    [
        (BULK + "list_id = 3\n", "recipients"),
        ('recipients = "subscribers.txt"\n', "alphaname_id"),
        (BULK + 'forward_sms = "15m"\n', "vibername_id"),
        (FORWARD, "alphaname_id"),
        ("list_id = 3\n", "vibername_id"),
        ('list_id = 3\nvibername_id = 7\nforward_sms = "15m"\n', "forward_sms"),
    ],
    ids=["file-and-list", "bulk-without-alphaname", "forward-without-vibername",
         "forward-without-alphaname", "list-without-vibername", "forward-with-list"],
)  # fmt: skip
def test_check_finds_the_keys_that_do_not_fit_before_any_run(
    tmp_path: Path, fake: SmsByFake, section: str, key: str
) -> None:
    config = project(tmp_path, fake, section, "")
    with pytest.raises(ConfigError) as caught:
        load_config(config)  # what `poster check` does
    assert f"destinations.subs.{key}" in str(caught.value)


def test_refuses_numbers_the_gateway_does_not_take(tmp_path: Path, fake: SmsByFake) -> None:
    config = project(tmp_path, fake, BULK, "")
    (tmp_path / "subscribers.txt").write_text("375291111111\n+44 207 946 0\n")
    with pytest.raises(ConfigError, match=r"1 number.*first: 442079460"):
        run(config)
    assert fake.requests == []
