"""An item offered again while its numbers wait on an uncertain batch sends nothing, and says so.

``poster retry`` releases an item for the next pass, but the numbers of a batch whose answer was
lost are sent again only when an operator releases that batch: re-offered, the item sends
nothing, and the log points to the command that does send.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from support.stubgateway import QuietGateway

from poster.destinations.decisiontelecom.kind import KIND
from poster.destinations.gateway import BatchOutcome, GatewayMessage
from poster.destinations.gateway.destination import GatewayDestination
from poster.errors import DeliveryUncertain
from poster.recipients import parse_recipients
from poster.store.recipientledger import RecipientLedger

PHONES = ("375291111111", "375292222222")
MESSAGE = GatewayMessage("text", "news", "k1", "Hello")


class LosingGateway(QuietGateway):
    """Lose the answer of the first request; count every request."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: GatewayMessage, phones: Sequence[str]) -> BatchOutcome:
        self.calls += 1
        if self.calls == 1:
            raise DeliveryUncertain("the connection dropped")
        return BatchOutcome(accepted={phone: f"id-{phone}" for phone in phones})


def test_an_item_whose_numbers_are_all_uncertain_sends_nothing_when_offered_again(
    ledger: RecipientLedger, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = LosingGateway()
    numbers = parse_recipients("\n".join(PHONES), "subs.txt")
    destination = GatewayDestination("subs", KIND, gateway, lambda: numbers, lambda: ledger)
    gateway.batch_size = 2
    with pytest.raises(DeliveryUncertain):
        destination.send(MESSAGE)
    with caplog.at_level(logging.WARNING):
        assert destination.send(MESSAGE).body["accepted"] == 0
    assert gateway.calls == 1
    assert "event=gateway-nothing-sent destination=subs item='k1' open=2" in caplog.text
    assert "see `poster recipients uncertain subs`" in caplog.text
    [batch] = ledger.open_batches()
    ledger.release(batch.batch_id)
    assert destination.send(MESSAGE).body["accepted"] == 2, "a released batch is sent again"
    assert gateway.calls == 2
