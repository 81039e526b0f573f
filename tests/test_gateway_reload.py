"""A reload opens new gateway destinations on the recipient ledger the old ones still write.

The lane thread finishes its send on the old destination while callbacks and polls reach the
new one: the ledger keeps their writes apart itself, whatever lock each destination holds. A
stop halts a send between two groups, and the next start sends the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from support.stubgateway import QuietGateway

from poster.destinations.decisiontelecom.kind import KIND
from poster.destinations.gateway import BatchOutcome, GatewayMessage
from poster.destinations.gateway.destination import GatewayDestination, item_ref
from poster.errors import RetryLater
from poster.recipients import parse_recipients
from poster.store.recipientledger import RecipientLedger, StatusUpdate
from poster.store.recipientstate import DELIVERED

PHONES = tuple(f"37529{n:07d}" for n in range(1000))
MESSAGE = GatewayMessage("text", "news", "k1", "Hello")


class Accepting(QuietGateway):
    """A gateway that accepts every number at once, four requests at a time."""

    concurrency = 4

    def send(self, message: GatewayMessage, phones: Sequence[str]) -> BatchOutcome:
        return BatchOutcome(accepted={phone: f"id-{phone}" for phone in phones})


def opened(ledger: RecipientLedger) -> GatewayDestination:
    """Return a destination on ``ledger``, as each (re)load opens one."""
    numbers = parse_recipients("\n".join(PHONES), "subscribers.txt")
    return GatewayDestination(
        "subs", KIND, Accepting(), lambda: numbers, lambda: ledger, group_size=25
    )


def test_callbacks_on_the_reloaded_destination_during_a_send_leave_a_sound_ledger(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.json"
    ledger = RecipientLedger(path)
    old, new = opened(ledger), opened(ledger)
    done = threading.Event()

    def callbacks() -> None:
        count = 0
        while not done.is_set():
            new.record([StatusUpdate(f"id-{PHONES[count % len(PHONES)]}", DELIVERED)])
            count += 1

    thread = threading.Thread(target=callbacks)
    thread.start()
    try:
        old.send(MESSAGE)
    finally:
        done.set()
        thread.join()
    ledger.close()
    with RecipientLedger(path) as reopened:
        outcome = reopened.outcome(item_ref("news", "k1"))
        assert (outcome.accepted, outcome.pending, outcome.uncertain) == (len(PHONES), 0, 0)
        assert reopened.plan(item_ref("news", "k1"), PHONES) == ()
        assert reopened.open_batches() == []


def test_a_halted_send_finishes_its_requests_in_flight_and_leaves_the_rest_for_the_next_start(
    tmp_path: Path,
) -> None:
    with RecipientLedger(tmp_path / "ledger.json") as ledger:
        destination = opened(ledger)
        sent: list[str] = []

        class Halting(Accepting):
            def send(self, message: GatewayMessage, phones: Sequence[str]) -> BatchOutcome:
                destination.halt()  # poster is told to stop while the first group is sent
                sent.extend(phones)
                return super().send(message, phones)

        destination.adapter = Halting()
        with pytest.raises(RetryLater, match="stopping"):
            destination.send(MESSAGE)
        # Only the requests under way when poster stopped went out: at most one per thread.
        assert 1 <= len(sent) <= Accepting.concurrency
        item = item_ref("news", "k1")
        outcome = ledger.outcome(item)
        assert (outcome.accepted, outcome.pending, outcome.uncertain) == (len(sent), 0, 0)
        assert ledger.plan(item, PHONES) == tuple(p for p in PHONES if p not in sent)
        assert ledger.open_batches() == []
