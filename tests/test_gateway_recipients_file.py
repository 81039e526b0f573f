"""A recipients file that breaks while poster runs stops its destination; nothing is sent.

The list is read again whenever the file changes. Sending to the last good list could message
a number the operator just took out, so a file that no longer reads refuses every send, saying
why, and the item waits for the mended file, sent then to the numbers the file holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from support.stubgateway import QuietGateway

from poster.destinations.decisiontelecom.kind import KIND
from poster.destinations.gateway import BatchOutcome, GatewayMessage
from poster.destinations.gateway.destination import GatewayDestination
from poster.errors import DestinationFatal
from poster.recipients.listfile import RecipientsFile
from poster.store.recipientledger import RecipientLedger

MESSAGE = GatewayMessage("text", "news", "k1", "Hello")


class CountingGateway(QuietGateway):
    """Accept every number, keeping which ones were sent to."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message: GatewayMessage, phones: Sequence[str]) -> BatchOutcome:
        self.sent += phones
        return BatchOutcome(accepted={phone: f"id-{phone}" for phone in phones})


def test_a_broken_recipients_file_stops_the_destination_and_sends_nothing(
    tmp_path: Path, ledger: RecipientLedger
) -> None:
    numbers = tmp_path / "subs.txt"
    numbers.write_text("+375291111111\n+375292222222\n", encoding="utf-8")
    listed = RecipientsFile(numbers, ("feeds.toml", "destinations.subs.recipients"))
    gateway = CountingGateway()
    destination = GatewayDestination("subs", KIND, gateway, listed, lambda: ledger)
    numbers.write_text("+375291111111\n+375 29 abc\n", encoding="utf-8")
    with pytest.raises(DestinationFatal) as refused:
        destination.send(MESSAGE)
    assert "subs.txt:2" in str(refused.value) and "'a'" in str(refused.value)
    assert "nothing was sent: mend it, then reload poster" in str(refused.value)
    assert gateway.sent == []
    numbers.write_text("+375291111111\n+375293333333\n", encoding="utf-8")
    receipt = destination.send(MESSAGE)
    assert receipt.body["accepted"] == 2
    assert gateway.sent == ["375291111111", "375293333333"]
