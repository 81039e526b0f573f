"""A status the gateway reports before poster has recorded the answer naming its message.

A group's answers are written together after its last request, so a delivery callback for the
group's first message can come while the rest are still being sent. It is kept and recorded
with the group's answers, not refused; one that names no message of the group is dropped then.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

import pytest
from support.stubgateway import QuietGateway

from poster.destinations.decisiontelecom.kind import KIND
from poster.destinations.gateway import BatchOutcome, GatewayMessage
from poster.destinations.gateway import destination as gateway
from poster.destinations.gateway.destination import GatewayDestination, item_ref
from poster.recipients import parse_recipients
from poster.store.recipientledger import RecipientLedger, StatusUpdate
from poster.store.recipientstate import DELIVERED, FAILED

PHONES = ("375291111111", "375292222222", "375293333333")
MESSAGE = GatewayMessage("text", "news", "k1", "Hello")
ITEM = item_ref("news", "k1")


class EagerGateway(QuietGateway):
    """A gateway that reports each message delivered before it answers the request."""

    def __init__(self, strays: Sequence[str] = ()) -> None:
        self.destination: GatewayDestination | None = None
        self.strays = list(strays)
        """Message ids reported during the first request that no request ever returns."""
        self.counted: list[int] = []
        """What the destination said of each callback: how many statuses it took."""

    def send(self, message: GatewayMessage, phones: Sequence[str]) -> BatchOutcome:
        ids = [f"id-{phone}" for phone in phones]
        assert self.destination is not None
        body = json.dumps({"ids": [*ids, *self.strays]}).encode()
        self.strays = []
        self.counted.append(self.destination.callback("POST", {}, body))
        return BatchOutcome(accepted=dict(zip(phones, ids, strict=True)))

    def callback(self, method: str, query: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        return [StatusUpdate(ref, DELIVERED) for ref in json.loads(body)["ids"]]


def destination(adapter: EagerGateway, ledger: RecipientLedger) -> GatewayDestination:
    numbers = parse_recipients("\n".join(PHONES), "subscribers.txt")
    made = GatewayDestination("subs", KIND, adapter, lambda: numbers, lambda: ledger)
    adapter.destination = made
    return made


def test_a_status_before_its_answer_is_recorded_with_the_group(ledger: RecipientLedger) -> None:
    adapter = EagerGateway()
    destination(adapter, ledger).send(MESSAGE)
    outcome = ledger.outcome(ITEM)
    assert (outcome.accepted, outcome.delivered) == (3, 3)
    assert adapter.counted == [1, 1, 1]  # each callback taken, so the daemon answers 200


def test_a_status_naming_no_message_of_the_group_is_dropped_after_it(
    ledger: RecipientLedger, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = EagerGateway(strays=["id-never-sent"])
    with caplog.at_level(logging.WARNING, logger=gateway.__name__):
        sent = destination(adapter, ledger)
        sent.send(MESSAGE)
    assert ledger.outcome(ITEM).delivered == 3
    assert "event=gateway-statuses-dropped destination=subs count=1" in caplog.text
    # With no group being sent, an unknown message is refused at once, as before.
    assert sent.callback("POST", {}, json.dumps({"ids": ["id-never-sent"]}).encode()) == 0


def test_statuses_kept_are_bounded(
    ledger: RecipientLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "EARLY_MAX", 2)
    adapter = EagerGateway(strays=["stray-1", "stray-2"])
    destination(adapter, ledger).send(MESSAGE)
    # The first message's status and a stray fill the room: the other stray and the next two
    # messages' statuses are refused (the daemon answers 400; the next poll brings them).
    assert adapter.counted == [2, 0, 0]
    assert ledger.outcome(ITEM).delivered == 1


class OptOutMidSend(EagerGateway):
    """A gateway that reports the last number opted out while the next item's first is sent."""

    def send(self, message: GatewayMessage, phones: Sequence[str]) -> BatchOutcome:
        assert self.destination is not None
        if message.key == "k2" and phones[0] == PHONES[0]:
            opted = StatusUpdate(f"k1-{PHONES[2]}", FAILED, "blacklisted", opted_out=True)
            assert self.destination.record([opted]) == 1
        return BatchOutcome(accepted={phone: f"{message.key}-{phone}" for phone in phones})


def test_a_number_opted_out_during_a_send_is_left_out_of_its_later_groups(
    ledger: RecipientLedger,
) -> None:
    adapter = OptOutMidSend()
    numbers = parse_recipients("\n".join(PHONES), "subscribers.txt")
    sent = GatewayDestination("subs", KIND, adapter, lambda: numbers, lambda: ledger, group_size=1)
    adapter.destination = sent
    sent.send(MESSAGE)
    receipt = sent.send(GatewayMessage("text", "news", "k2", "Later"))
    assert receipt.body["accepted"] == 2
    outcome = ledger.outcome(item_ref("news", "k2"))
    assert (outcome.accepted, outcome.pending, outcome.uncertain) == (2, 0, 0)
    assert ledger.plan(item_ref("news", "k2"), PHONES) == ()
    assert [o.phone for o in ledger.opted_out()] == [PHONES[2]]
