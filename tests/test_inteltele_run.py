"""Run feeds to a list of numbers through the strict Intel Tele fake, over real HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from poster.app import build
from poster.cli import main
from poster.config import load_config
from poster.daemon.callbacks import callback_path
from poster.destinations.gateway import GatewayMessage
from poster.destinations.gateway.destination import GatewayDestination, close_ledgers, item_ref
from poster.destinations.gateway.standin import NO_KEY
from poster.destinations.inteltele.adapter import (
    CURRENCY,
    NO_CALLBACK,
    REPEAT_TRIES,
    REPEAT_WAIT,
    IntelTeleAdapter,
)
from poster.destinations.inteltele.fake import FakeInteltele
from poster.destinations.inteltele.fakestate import RATES
from poster.errors import CallbackError, RetryLater
from poster.pipeline.runner import run_once
from poster.store import Store
from poster.store.recipientledger import RecipientLedger

UA1, UA2, DE, RU = "380501234567", "380671234567", "4915112345678", "79161234567"
NO_ROUTE, BLACKLISTED = "447700900123", "380931234567"
API_KEY = "fake-api-key-0123456789"


@dataclass
class Project:
    """A feeds.toml posting one feed to a subscribers file through the fake."""

    root: Path
    fake: FakeInteltele

    def publish(self, *numbers: int) -> None:
        """Write the feed with one item per number, newest first."""
        items = "".join(
            f"<item><title>Story {n}</title><link>https://example.org/{n}</link>"
            f"<guid>story-{n}</guid></item>"
            for n in numbers
        )
        feed = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
        (self.root / "news.xml").write_text(feed, encoding="utf-8")

    def run(self) -> list[str | None]:
        """Run one pass; return each feed's error, if any."""
        config = load_config(self.root / "feeds.toml")
        with build(config, self.root / "state") as app:
            reports = run_once(app, config.feeds)
        return [None if r.error is None else str(r.error) for r in reports]

    @contextmanager
    def opened(self, name: str = "subs") -> Iterator[GatewayDestination]:
        """Yield the destination as poster opens it, its HTTP client open."""
        config = load_config(self.root / "feeds.toml")
        with build(config, self.root / "state") as app:
            found = app.destinations[name]
            assert isinstance(found, GatewayDestination)
            yield found

    def ledger(self) -> RecipientLedger:
        """Return the destination's recipient ledger."""
        with self.opened() as destination:
            return destination.ledger


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.setenv("POSTER_SUBS_TOKEN", API_KEY)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with FakeInteltele() as fake:
        (tmp_path / "templates").mkdir()
        (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
        numbers = (UA1, DE, BLACKLISTED, NO_ROUTE, RU)
        (tmp_path / "subscribers.txt").write_text("\n".join(f"+{n}" for n in numbers) + "\n")
        (tmp_path / "feeds.toml").write_text(
            'templates = "templates"\n\n'
            '[destinations.subs]\nkind = "inteltele"\nusername = "poster"\n'
            f'recipients = "subscribers.txt"\napi_url = "{fake.base_url}"\n'
            'im_sender = "News"\nsms_source = "News"\nttl = "1h"\nmin_gap = "0s"\n\n'
            '[[feeds]]\nname = "news"\nurl = "news.xml"\nbacklog = "all"\n',
            encoding="utf-8",
        )
        fake.account.blacklisted.add(BLACKLISTED)
        project = Project(tmp_path, fake)
        project.publish()
        yield project
    close_ledgers()


def inboxes(fake: FakeInteltele) -> dict[str, list[str]]:
    """Return the texts each phone got."""
    found: dict[str, list[str]] = {}
    for delivery in fake.deliveries:
        found.setdefault(delivery.phone, []).append(delivery.params["im_message"])
    return found


def test_a_run_reaches_every_routable_number_once(project: Project) -> None:
    project.publish(1)
    assert project.run() == [None]
    assert inboxes(project.fake) == {UA1: ["Story 1"], DE: ["Story 1"], RU: ["Story 1"]}
    sent = project.fake.deliveries[0].params
    assert (sent["im_sender"], sent["im_ttl"], sent["sms_source"]) == ("News", "3600", "News")
    assert sent["sms_message"] == "Story 1\nhttps://example.org/1"
    project.publish(2, 1)
    assert project.run() == [None]
    assert inboxes(project.fake)[UA1] == ["Story 1", "Story 2"]
    assert len(project.fake.deliveries) == 6


def test_a_renamed_feed_sends_no_subscriber_what_they_got_under_its_old_name(
    project: Project,
) -> None:
    project.publish(1)
    assert project.run() == [None]
    config = project.root / "feeds.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('name = "news"', 'name = "city-news"'), encoding="utf-8")
    project.publish(2, 1)  # backlog = "all": a new feed would send both
    assert project.run() == [None]
    got = ["Story 1", "Story 2"]
    assert inboxes(project.fake) == {UA1: got, DE: got, RU: got}


def test_a_feed_renamed_partway_through_a_capped_send_sends_each_number_the_rest_once(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project.root / "feeds.toml"
    text = config.read_text(encoding="utf-8").replace(
        'ttl = "1h"\n', 'ttl = "1h"\nmax_per_day = 2\n'
    )
    config.write_text(text, encoding="utf-8")
    project.publish(1)
    assert project.run() == [None]
    assert inboxes(project.fake) == {UA1: ["Story 1"], DE: ["Story 1"]}
    config.write_text(text.replace('name = "news"', 'name = "city-news"'), encoding="utf-8")
    project.publish(2, 1)
    counter = next((project.root / "state").rglob("day.json"))
    counter.write_text('{"day": "2026-01-01", "sent": 0}', encoding="utf-8")
    first, _ = preview_bodies(project, capsys)
    assert first["requests"][0]["params"]["to"] == ",".join((BLACKLISTED, NO_ROUTE, RU))
    for _ in range(4):  # each a day later
        counter.write_text('{"day": "2026-01-01", "sent": 2}', encoding="utf-8")
        project.fake.clock.advance(REPEAT_WAIT)
        assert project.run() == [None]
    got = ["Story 1", "Story 2"]
    assert inboxes(project.fake) == {UA1: got, DE: got, RU: got}


def test_a_key_changed_partway_through_a_capped_send_sends_each_number_the_rest_once(
    project: Project,
) -> None:
    config = project.root / "feeds.toml"
    text = config.read_text().replace('ttl = "1h"\n', 'ttl = "1h"\nmax_per_day = 2\n')
    config.write_text(text)
    project.publish(1)
    assert project.run() == [None]
    assert inboxes(project.fake) == {UA1: ["Story 1"], DE: ["Story 1"]}
    config.write_text(text.replace('backlog = "all"', 'backlog = "all"\nkey = "link"'))
    counter = next((project.root / "state").rglob("day.json"))
    for _ in range(2):  # each a day later
        counter.write_text('{"day": "2026-01-01", "sent": 0}')
        project.fake.clock.advance(REPEAT_WAIT)
        assert project.run() == [None]
    assert inboxes(project.fake) == {UA1: ["Story 1"], DE: ["Story 1"], RU: ["Story 1"]}


def test_a_renamed_destination_is_told_where_its_old_ledger_is_and_keeps_it_once_moved(
    project: Project, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTER_PEOPLE_TOKEN", API_KEY)
    project.publish(1)
    assert project.run() == [None]
    config = project.root / "feeds.toml"
    config.write_text(config.read_text().replace("[destinations.subs]", "[destinations.people]"))
    assert project.run() == [None]  # Story 1 is held back at the joined destination
    (warning,) = [r.getMessage() for r in caplog.records if "ledger-unclaimed" in r.getMessage()]
    assert "destination=people" in warning and "'subs' left one" in warning
    close_ledgers()  # poster stopped
    folder = project.root / "state" / "recipients"
    (folder / "subs").rename(folder / "people")
    caplog.clear()
    project.publish(2, 1)
    assert project.run() == [None]
    assert not [r for r in caplog.records if "ledger-unclaimed" in r.getMessage()]
    assert inboxes(project.fake)[UA1] == ["Story 1", "Story 2"]
    with project.opened("people") as destination:
        outcome = destination.ledger.outcome(item_ref("news", "story-2"))
    assert (outcome.accepted, outcome.rejected) == (3, 1), "the blacklisted number stays out"


def test_without_a_ttl_the_gateway_is_asked_to_try_for_a_day_not_its_minute(
    project: Project,
) -> None:
    config = project.root / "feeds.toml"
    config.write_text(config.read_text().replace('ttl = "1h"\n', ""))
    project.publish(1)
    assert project.run() == [None]
    assert {d.params["im_ttl"] for d in project.fake.deliveries} == {"86400"}


def test_refused_numbers_are_recorded_and_a_blacklisted_one_is_never_tried_again(
    project: Project,
) -> None:
    project.publish(1)
    project.run()
    ledger = project.ledger()
    outcome = ledger.outcome(item_ref("news", "story-1"))
    assert (outcome.accepted, outcome.rejected, outcome.uncertain) == (3, 2, 0)
    reasons = dict(outcome.rejected_reasons)
    assert set(reasons) == {"error: number is blacklisted", "error: no route to country"}
    assert [optout.phone for optout in ledger.opted_out()] == [BLACKLISTED]
    project.fake.account.blacklisted.clear()
    project.publish(2, 1)
    project.run()
    assert BLACKLISTED not in inboxes(project.fake)


def test_numbers_refused_as_a_repeat_get_the_item_after_a_minute(project: Project) -> None:
    with project.opened() as destination:
        destination.send(GatewayMessage("text", "news", "a", "Same text"))
        with pytest.raises(RetryLater, match="without sending") as caught:
            destination.send(GatewayMessage("text", "news", "b", "Same text"))
        assert caught.value.retry_after == REPEAT_WAIT
        outcome = destination.ledger.outcome(item_ref("news", "b"))
        assert (outcome.accepted, outcome.rejected) == (0, 1)  # no route; the blacklisted opted out
        project.fake.clock.advance(REPEAT_WAIT)
        receipt = destination.send(GatewayMessage("text", "news", "b", "Same text"))
    assert receipt.body["accepted"] == 3
    assert inboxes(project.fake)[UA1] == ["Same text", "Same text"]


def test_a_number_refused_as_a_repeat_three_times_is_rejected_with_the_reason(
    project: Project,
) -> None:
    with project.opened() as destination:
        for _ in range(REPEAT_TRIES - 1):
            _sent_elsewhere(project.fake, "Same text")
            with pytest.raises(RetryLater):
                destination.send(GatewayMessage("text", "news", "b", "Same text"))
            project.fake.clock.advance(REPEAT_WAIT)
        _sent_elsewhere(project.fake, "Same text")
        receipt = destination.send(GatewayMessage("text", "news", "b", "Same text"))
        outcome = destination.ledger.outcome(item_ref("news", "b"))
    assert receipt.body["accepted"] == 0
    reasons = dict(outcome.rejected_reasons)
    assert reasons["error: repeat detected (3 times, a minute or more apart)"] == 3
    assert len(project.fake.deliveries) == 3 * REPEAT_TRIES  # all sent by the other sender


def test_a_refusal_caused_by_the_destinations_own_sends_waits_and_is_never_final(
    project: Project,
) -> None:
    with project.opened() as destination:
        destination.send(GatewayMessage("text", "news", "a", "Same text"))
        for _ in range(REPEAT_TRIES + 1):
            with pytest.raises(RetryLater):
                destination.send(GatewayMessage("text", "news", "b", "Same text"))
        outcome = destination.ledger.outcome(item_ref("news", "b"))
        assert "error: repeat detected" not in str(outcome.rejected_reasons)
        project.fake.clock.advance(REPEAT_WAIT)
        receipt = destination.send(GatewayMessage("text", "news", "b", "Same text"))
    assert receipt.body["accepted"] == 3


def test_a_burst_reaches_every_number_where_any_message_within_a_minute_is_a_repeat(
    project: Project,
) -> None:
    project.fake.account.repeats_any_text = True
    project.publish(4, 3, 2, 1)
    for _ in range(4):
        project.run()
        project.fake.clock.advance(REPEAT_WAIT)
    stories = ["Story 1", "Story 2", "Story 3", "Story 4"]
    assert {phone: sorted(texts) for phone, texts in inboxes(project.fake).items()} == {
        UA1: stories,
        DE: stories,
        RU: stories,
    }
    ledger = project.ledger()
    for n in range(1, 5):
        reasons = dict(ledger.outcome(item_ref("news", f"story-{n}")).rejected_reasons)
        assert not [reason for reason in reasons if "repeat" in reason]


def _sent_elsewhere(fake: FakeInteltele, text: str) -> None:
    """Send ``text`` to the routable numbers as another system on the same account would."""
    to = f"{UA1},{DE},{RU}"
    params = {"username": "poster", "api_key": API_KEY, "to": to, "im_message": text}
    answer = httpx.get(f"{fake.base_url}/im/send/", params=params, timeout=5)
    assert [one["status"] for one in answer.json()["reply"]] == ["OK"] * 3


def test_a_lost_answer_leaves_its_batch_uncertain_and_unsent_again(project: Project) -> None:
    project.publish(1)
    project.fake.inject("drop")
    project.run()
    assert len(project.fake.deliveries) == 3  # the gateway queued them; poster cannot know
    batches = project.ledger().open_batches()
    assert [(b.size, b.state) for b in batches] == [(5, "uncertain")]
    project.run()
    assert len(project.fake.deliveries) == 3


def test_an_empty_balance_stops_the_destination_and_a_top_up_resumes_it(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    project.fake.account.balance = Decimal("0")
    project.publish(2, 1)
    project.run()
    # The first item stopped the destination: the second was not tried.
    assert caplog.text.count("destination=subs status=deferred") == 1
    assert "low balance" in caplog.text
    assert project.fake.deliveries == []
    assert project.ledger().open_batches() == []
    project.fake.account.balance = Decimal("10")
    project.run()
    assert inboxes(project.fake)[UA1] == ["Story 1", "Story 2"]
    assert sorted(inboxes(project.fake)) == sorted([UA1, DE, RU])


def test_statuses_arrive_by_callback(project: Project) -> None:
    project.fake.account.outcomes[DE] = "undeliv"
    project.publish(1)
    project.run()
    project.fake.clock.advance(10)
    with project.opened() as destination:
        for report in project.fake.gateway.due_reports():
            updates = destination.adapter.callback("POST", {}, urlencode(report).encode())
            destination.ledger.record_statuses(updates)
        outcome = destination.ledger.outcome(item_ref("news", "story-1"))
    assert (outcome.delivered, outcome.failed) == (2, 1)
    assert dict(outcome.failed_reasons) == {"undeliv": 1}


@pytest.mark.parametrize(
    ("encode", "when"),
    [
        (lambda report: urlencode(report).encode(), "yesterday"),
        (lambda report: json.dumps(report).encode(), "2024-05-01 10:00:00"),
        (lambda report: json.dumps(report).encode(), "01/05/2024 10:00"),
    ],
    ids=["form-unreadable-date", "json", "json-unreadable-date"],
)
def test_a_callback_in_json_or_with_any_datetime_is_recorded(
    project: Project, encode: Any, when: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="poster.destinations.inteltele")
    project.fake.account.outcomes[DE] = "undeliv"
    project.publish(1)
    project.run()
    project.fake.clock.advance(10)
    with project.opened() as destination:
        reports = project.fake.gateway.due_reports()
        for report in reports:
            body = encode({**report, "datetime": when})
            assert destination.callback("POST", {}, body) == 1
        outcome = destination.ledger.outcome(item_ref("news", "story-1"))
    assert (outcome.delivered, outcome.failed) == (2, 1)
    unread = "event=inteltele_callback_date_unread" in caplog.text
    assert unread == (when != "2024-05-01 10:00:00")


@pytest.mark.parametrize(
    ("method", "query", "body"),
    [
        ("POST", {}, b"status=delivrd"),
        ("POST", {}, b'{"msgid": "x"}'),
        ("POST", {}, b'["x", "delivrd"]'),
        ("POST", {}, b"\xff\xfe"),
        ("POST", {}, b"msgid=x&status=delivrd&pad=" + b"x" * 4096),
        ("PUT", {"msgid": "x", "status": "delivrd"}, b""),
    ],
    ids=["no-msgid", "json-no-status", "json-not-an-object", "not-text", "too-big", "wrong-method"],
)
def test_a_bad_callback_is_refused(
    project: Project, method: str, query: dict[str, str], body: bytes
) -> None:
    with project.opened() as destination, pytest.raises(CallbackError):
        destination.adapter.callback(method, query, body)


def test_statuses_arrive_by_polling(project: Project) -> None:
    project.fake.account.outcomes[RU] = "expired"
    project.publish(1)
    project.run()
    ids = [d.message_id for d in project.fake.deliveries]
    with project.opened() as destination:
        assert destination.adapter.statuses(ids) == []  # still enroute
        project.fake.clock.advance(10)
        destination.ledger.record_statuses(destination.adapter.statuses(ids))
        outcome = destination.ledger.outcome(item_ref("news", "story-1"))
    assert (outcome.delivered, outcome.failed) == (2, 1)


def test_the_account_and_a_cost_estimate_come_from_the_gateway(project: Project) -> None:
    message = GatewayMessage("text", "news", "k", "Hi")
    with project.opened() as destination:
        adapter = destination.adapter
        assert isinstance(adapter, IntelTeleAdapter)
        account, cost = adapter.account(), adapter.cost(message, [UA1, DE, RU, NO_ROUTE])
    assert account == {
        "balance": "10.00",
        "credit": "0.00",
        "currency": CURRENCY,
        "status callback URL": NO_CALLBACK,
    }
    # ua 0.15, de 0.30, ru at its dearest network 0.20; gb has no rate.
    assert cost == (
        "at most 0.65 for 4 number(s); 1 number(s) have no rate (gb): the gateway refuses them"
    )


def preview_bodies(project: Project, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Run ``poster preview --json`` and return each item's body."""
    config, state = project.root / "feeds.toml", project.root / "state"
    assert main(["-c", str(config), "preview", "--state-dir", str(state), "--json"]) == 0
    out = capsys.readouterr().out
    assert API_KEY not in out
    return [item["body"] for feed in json.loads(out)["feeds"] for item in feed["items"]]


def test_preview_shows_the_requests_recipients_and_cost_sending_nothing(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.publish(1)
    (body,) = preview_bodies(project, capsys)
    assert (body["recipients"], body["requests_total"]) == (5, 1)
    (request,) = body["requests"]
    assert request["params"]["api_key"] == "***"
    assert request["params"]["to"] == ",".join((UA1, DE, BLACKLISTED, NO_ROUTE, RU))
    assert body["cost"].startswith("at most ") and "for 5 number(s)" in body["cost"]
    assert project.fake.deliveries == []


def test_preview_leaves_out_the_numbers_a_run_would_not_send_to(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.publish(1)
    project.run()
    project.publish(2, 1)
    (body,) = [b for b in preview_bodies(project, capsys) if b]  # story 1 went: no body
    assert body["recipients"] == 4, "the blacklisted number opted out"
    (request,) = body["requests"]
    assert request["params"]["to"] == ",".join((UA1, DE, NO_ROUTE, RU))
    assert "for 4 number(s)" in body["cost"]
    assert len(project.fake.deliveries) == 3


def test_preview_says_why_the_cost_is_unknown(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project.publish(1)
    monkeypatch.delenv("POSTER_SUBS_TOKEN")
    (body,) = preview_bodies(project, capsys)
    assert (body["recipients"], body["cost"]) == (5, NO_KEY)
    monkeypatch.setenv("POSTER_SUBS_TOKEN", API_KEY)
    project.fake.inject("http500", "http500", "http500")
    (body,) = preview_bodies(project, capsys)
    assert body["cost"].startswith("unknown (rates not reachable: ")
    assert body["requests"][0]["params"]["im_message"] == "Story 1"


def test_numbers_refused_for_low_balance_mid_batch_get_the_item_after_a_top_up(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    # Enough for the first number only: the gateway refuses the others for low balance.
    project.fake.account.balance = max(Decimal(price) for price, _ in RATES["ua"].values())
    project.publish(1)
    project.run()
    assert inboxes(project.fake) == {UA1: ["Story 1"]}
    config, state = project.root / "feeds.toml", project.root / "state"
    capsys.readouterr()
    assert main(["-c", str(config), "status", "--state-dir", str(state)]) == 1
    shown = capsys.readouterr().out
    assert "REFUSED" in shown and "low balance" in shown, "the destination stops at once"
    ledger = project.ledger()
    assert ledger.open_batches() == []
    assert set(ledger.plan(item_ref("news", "story-1"), [UA1, DE, RU])) == {DE, RU}
    project.fake.account.balance = Decimal("10")
    project.run()
    assert inboxes(project.fake) == {UA1: ["Story 1"], DE: ["Story 1"], RU: ["Story 1"]}


def test_a_number_queued_without_an_id_before_the_balance_ran_out_is_not_sent_again(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    # The first number is queued but the answer gives no message id; the others are refused
    # for low balance, which stops the destination.
    project.fake.account.balance = max(Decimal(price) for price, _ in RATES["ua"].values())
    project.fake.inject("no-id")
    project.publish(1)
    project.run()
    assert "low balance" in caplog.text and "status=deferred" in caplog.text
    assert inboxes(project.fake) == {UA1: ["Story 1"]}
    ledger = project.ledger()
    (batch,) = ledger.open_batches()
    assert (batch.size, batch.state) == (1, "uncertain") and "low balance" in batch.why
    assert set(ledger.plan(item_ref("news", "story-1"), [UA1, DE, RU])) == {DE, RU}
    project.fake.account.balance = Decimal("10")
    project.run()
    assert inboxes(project.fake) == {UA1: ["Story 1"], DE: ["Story 1"], RU: ["Story 1"]}


def callback_line(project: Project, capsys: pytest.CaptureFixture[str]) -> str:
    """Return the callback URL line ``poster account`` prints for the destination."""
    config, state = project.root / "feeds.toml", project.root / "state"
    argv = ["-c", str(config), "account", "--state-dir", str(state), "--to", "subs"]
    assert main(argv) == 0
    (line,) = (ln for ln in capsys.readouterr().out.splitlines() if "callback" in ln)
    return line


def test_the_account_names_the_callback_url_to_set_at_intel_tele(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = project.root / "feeds.toml"
    webhook = '[webhook]\nlisten = "127.0.0.1:8080"\npublic_url = "https://poster.example/"\n\n'
    top = 'templates = "templates"\n\n'
    toml.write_text(toml.read_text(encoding="utf-8").replace(top, top + webhook), encoding="utf-8")
    before = callback_line(project, capsys)
    with Store(project.root / "state") as store:
        path = callback_path(store, "subs")
    after = callback_line(project, capsys)
    assert before == f"  status callback URL  {NO_CALLBACK}"
    assert after == f"  status callback URL  https://poster.example{path}"
