"""Post feed items to a list of numbers through the strict DecisionTelecom fake, over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from feedserver import FeedServer
from support.daemon import Feeds
from support.decisiontelecom import Clock, fake_gateway, gateway_project, inboxes, run_once

from poster.app import build
from poster.cli import EXIT_FAILED, EXIT_OK, main
from poster.config import load_config
from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.gateway.destination import GatewayDestination, close_ledgers, item_ref
from poster.store.recipientledger import RecipientLedger, ledger_path

KEY = "dt-access-key-never-shown-4242"
PHONES = [f"37529{n:07d}" for n in range(1000, 1050)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeDecisionTelecom]:
    with fake_gateway(KEY, clock) as server:
        yield server


@pytest.fixture
def project(
    tmp_path: Path, fake: FakeDecisionTelecom, feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Path, Path, Feeds]:  # fmt: skip
    """Write feeds.toml posting feed "city" to the fake and to a recording destination."""
    monkeypatch.setenv("POSTER_SUBS_TOKEN", KEY)
    archive = '[destinations.archive]\nkind = "recording"\nmin_gap = "0s"\n'
    return gateway_project(tmp_path, fake, Feeds(feed_server), PHONES, archive)


def ledger(state: Path) -> RecipientLedger:
    return RecipientLedger(ledger_path(state, "subs"), read_only=True)


def test_an_item_reaches_each_of_fifty_numbers_once(project, fake) -> None:  # type: ignore[no-untyped-def]
    config, state, feeds = project
    (post,) = feeds.publish("city", 1)
    assert run_once(config, state) == EXIT_OK
    assert inboxes(fake) == dict.fromkeys(PHONES, 1)
    body = fake.gateway.messages[0].body
    assert (body["message_type"], body["source_type"], body["source_addr"]) == (106, 1, "Poster")
    assert body["text"] == post.title
    with ledger(state) as book:
        assert book.outcome(item_ref("city", post.guid)).accepted == 50
    assert run_once(config, state) == EXIT_OK
    assert len(fake.gateway.messages) == 50


def test_a_group_of_fifty_requests_costs_one_intent_and_one_result(project, fake) -> None:  # type: ignore[no-untyped-def]
    config, state, feeds = project
    feeds.publish("city", 1)
    assert run_once(config, state) == EXIT_OK
    with ledger(state) as book:
        # The item and numbers first seen, then one intent and one result for all fifty.
        assert book.storage.writes == 3


def test_a_refused_number_is_recorded_with_its_reason(project, fake) -> None:  # type: ignore[no-untyped-def]
    config, state, feeds = project
    fake.gateway.numbers.unknown_country.add(PHONES[3])
    (post,) = feeds.publish("city", 1)
    assert run_once(config, state) == EXIT_OK
    with ledger(state) as book:
        outcome = book.outcome(item_ref("city", post.guid))
    assert (outcome.accepted, outcome.rejected) == (49, 1)
    ((reason, count),) = outcome.rejected_reasons
    assert "Invalid Parameter: destination_addr" in reason and count == 1


def test_a_rejected_message_fails_and_its_number_still_gets_the_next_item(
    project, fake, clock
) -> None:  # type: ignore[no-untyped-def]
    config, state, feeds = project
    fake.gateway.numbers.blacklisted.add(PHONES[7])  # its messages end "rejected" (3)
    (first,) = feeds.publish("city", 1)
    assert run_once(config, state) == EXIT_OK
    clock.now += 60
    assert main(["-c", str(config), "gateway", "poll", "--state-dir", str(state)]) == EXIT_OK
    close_ledgers()
    feeds.publish("city", 2)
    assert run_once(config, state) == EXIT_OK
    assert len(fake.gateway.inbox(PHONES[7])) == 2
    assert len(fake.gateway.inbox(PHONES[8])) == 2
    with ledger(state) as book:
        assert book.opted_out() == []
        assert book.outcome(item_ref("city", first.guid)).failed == 1


def test_a_refused_status_id_is_unknown_and_the_poll_goes_on(project, fake, clock) -> None:  # type: ignore[no-untyped-def]
    config, state, feeds = project
    (first,) = feeds.publish("city", 1)
    assert run_once(config, state) == EXIT_OK
    # The gateway keeps statuses "for the last 5 days": it no longer knows the first item's
    # ids. The poll asks the oldest first, so each is refused before the second item's ids.
    fake.gateway.forget()
    (second,) = feeds.publish("city", 2)
    assert run_once(config, state) == EXIT_OK
    clock.now += 60
    assert main(["-c", str(config), "gateway", "poll", "--state-dir", str(state)]) == EXIT_OK
    close_ledgers()
    with ledger(state) as book:
        old = book.outcome(item_ref("city", first.guid))
        new = book.outcome(item_ref("city", second.guid))
        assert (old.unknown, old.delivered, old.failed) == (len(PHONES), 0, 0)
        assert (new.unknown, new.delivered) == (0, len(PHONES))
        # Neither the refused ids nor the delivered ones are asked about again.
        assert book.unsettled(1000) == []


def test_two_way_messages_are_not_sent_without_a_callback_url(project, fake, capsys) -> None:  # type: ignore[no-untyped-def]
    """A pass outside the daemon has no callback URL to give, so 2-Way messages wait for it."""
    config, state, feeds = project
    webhook = '[webhook]\nlisten = "127.0.0.1:8080"\npublic_url = "https://poster.example.org"\n'
    text = config.read_text().replace("[destinations.subs]\n", webhook + "[destinations.subs]\n")
    config.write_text(
        text.replace('source_addr = "Poster"\n', 'source_addr = "Poster"\nreplies = true\n')
    )
    feeds.publish("city", 1)
    assert run_once(config, state) != EXIT_OK
    assert fake.gateway.messages == []
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "refuses posts" in line]
    assert "subs: replies = true" in line and "callback URL" in line and "nothing was sent" in line


def test_preview_shows_the_callback_url_the_daemon_gives_its_secret_hidden(  # type: ignore[no-untyped-def]
    project, fake, capsys
) -> None:
    config, state, feeds = project
    feeds.publish("city", 1)
    preview = ["-c", str(config), "preview", "--state-dir", str(state), "--json"]

    def sent_request() -> dict[str, object]:
        assert main(preview) == EXIT_OK
        items = json.loads(capsys.readouterr().out)["feeds"][0]["items"]
        (post,) = [item for item in items if item["destination"] == "subs"]
        (request,) = post["body"]["requests"]
        return dict(request["json"])

    assert "callback_url" not in sent_request()
    webhook = '[webhook]\nlisten = "127.0.0.1:8080"\npublic_url = "https://poster.example.org/"\n'
    text = config.read_text().replace("[destinations.subs]\n", webhook + "[destinations.subs]\n")
    config.write_text(
        text.replace('source_addr = "Poster"\n', 'source_addr = "Poster"\nreplies = true\n')
    )
    request = sent_request()
    assert request["message_type"] == 206
    assert request["callback_url"] == "https://poster.example.org/gateway/subs/***"
    assert fake.gateway.messages == []


def test_a_lost_answer_leaves_that_batch_uncertain_and_nobody_gets_two(project, fake) -> None:  # type: ignore[no-untyped-def]
    config, state, feeds = project
    fake.gateway.inject("drop")
    feeds.publish("city", 1)
    assert run_once(config, state) == EXIT_FAILED
    with ledger(state) as book:
        (batch,) = book.open_batches()
    assert (batch.size, batch.state) == (1, "uncertain")
    run_once(config, state)
    assert inboxes(fake) == dict.fromkeys(PHONES, 1)


def test_an_empty_balance_stops_the_gateway_while_the_recording_goes_on(project, fake) -> None:  # type: ignore[no-untyped-def]
    config, state, feeds = project
    fake.gateway.balance = 0.5 * 10
    feeds.publish("city", 1)
    run_once(config, state)
    assert len(fake.gateway.messages) == 10
    recorded = (state / "archive.jsonl").read_text().splitlines()
    assert len(recorded) == 1 and json.loads(recorded[0])["text"]
    fake.gateway.balance = 100.0
    run_once(config, state)
    assert inboxes(fake) == dict.fromkeys(PHONES, 1)


def test_max_per_day_holds_the_rest_back_in_order(project, fake) -> None:  # type: ignore[no-untyped-def]
    config, state, feeds = project
    text = config.read_text().replace('min_gap = "0s"\n', 'min_gap = "0s"\nmax_per_day = 20\n', 1)
    config.write_text(text)
    feeds.publish("city", 1)
    run_once(config, state)
    run_once(config, state)
    assert sorted(m.phone for m in fake.gateway.messages) == PHONES[:20]
    from poster.destinations.gateway.subscribers import read_subscribers

    [subs] = read_subscribers(load_config(config), state)
    assert subs.capped is not None
    assert subs.capped.startswith("max_per_day=20 reached today (20 sent): the rest go from ")
    assert subs.capped.endswith(" 00:00 UTC")


def test_messages_whose_status_stays_open_never_hold_up_the_newer_ones(  # type: ignore[no-untyped-def]
    project, fake, clock
) -> None:
    config, state, feeds = project
    fake.gateway.numbers.offline.update(PHONES[:10])  # "sent" for hours, asked first as oldest
    (post,) = feeds.publish("city", 1)
    assert run_once(config, state) == EXIT_OK
    clock.now += 60
    with build(load_config(config), state) as app:
        subs = app.destinations["subs"]
        assert isinstance(subs, GatewayDestination)
        settled = [subs.poll(limit=5) for _ in range(10)]
        outcome = subs.ledger.outcome(item_ref("city", post.guid))
    close_ledgers()
    # Ten polls of five ask each of the fifty once: the ten still open hold up none of the rest.
    assert sum(settled) == 40 and outcome.delivered == 40
    assert len(fake.gateway.messages) == len(PHONES)


@pytest.mark.parametrize(
    ("retention", "days"), [("200d", 200.0), ("30d", 90.0)], ids=["longer", "at-least-90-days"]
)
def test_the_ledger_keeps_idle_items_as_long_as_the_state_keeps_records(  # type: ignore[no-untyped-def]
    project, retention, days
) -> None:
    config, state, _ = project
    config.write_text(config.read_text() + f'[daemon]\nretention = "{retention}"\n')
    with build(load_config(config), state) as app:
        subs = app.destinations["subs"]
        assert isinstance(subs, GatewayDestination)
        assert subs.ledger.retention_days == days
    close_ledgers()


@pytest.mark.parametrize(
    ("purpose", "image", "expected"),
    [
        ("promotional", "https://example.org/a.JPG", 108),
        ("promotional", "https://example.org/a.gif", 106),
        ("transactional", "https://example.org/a.png", 106),
    ],
    ids=["jpeg-picture", "gif-is-text", "transactional-is-text"],
)
def test_the_message_type_follows_the_image_and_purpose(
    purpose: str, image: str, expected: int
) -> None:
    from poster.destinations.decisiontelecom.adapter import DecisionTelecomAdapter, Sending
    from poster.destinations.decisiontelecom.kind import KIND, PURPOSES
    from poster.models import Media, Post

    post = Post("picture", "word " * 300, "city", "k1", link="https://example.org/1",
                image=Media(image))  # fmt: skip
    message = KIND.compose(post)
    adapter = DecisionTelecomAdapter(None, Sending("Poster", PURPOSES[purpose], 3600, False))  # type: ignore[arg-type]
    body = adapter.request(message, "375291234567").body()  # type: ignore[arg-type]
    assert body["message_type"] == expected
    assert len(body["text"]) <= 1000 and body["validity_period"] == 3600


def test_a_cap_set_during_the_day_counts_what_went_before_it(project, fake) -> None:  # type: ignore[no-untyped-def]
    config, state, feeds = project
    feeds.publish("city", 1)
    run_once(config, state)  # no cap yet: every number gets the first item
    before = len(fake.gateway.messages)
    assert before == len(PHONES)
    cap = before + 2
    text = config.read_text().replace(
        'min_gap = "0s"\n', f'min_gap = "0s"\nmax_per_day = {cap}\n', 1
    )
    config.write_text(text)
    feeds.publish("city", 1, 2)
    run_once(config, state)
    assert len(fake.gateway.messages) == cap  # two more today, not another whole list
