"""Count each gateway item's recipients per state, and the opted-out numbers, for the status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from poster.destinations.gateway.subscribers import (
    subscriber_rows,
    subscriber_samples,
    summarise,
)
from poster.store.recipientledger import RecipientLedger

PHONES = ["375290000001", "375290000002", "375290000003"]


class Ticks:
    """A clock moved by hand, one second per read."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def test_counts_newest_items_first_with_opt_outs(tmp_path: Path) -> None:
    with RecipientLedger(tmp_path / "ledger.json", clock=Ticks()) as ledger:
        for key in ("old", "new"):
            batch = ledger.record_intent(f"city {key}", ledger.plan(f"city {key}", PHONES))
            ledger.record_result(
                batch, PHONES[:1], {PHONES[1]: "blacklisted"}, {PHONES[0]: f"id-{key}"},
                opted_out=[PHONES[1]],
            )  # fmt: skip
        found = summarise("subs", ledger, limit=5)
    assert [(i.feed, i.key) for i in found.items] == [("city", "new"), ("city", "old")]
    assert found.opted_out == 1
    # The opted-out number is not planned for the newer item, so it is not rejected there.
    counts = [(o.accepted, o.rejected, o.uncertain) for o in (i.outcome for i in found.items)]
    assert counts == [(1, 0, 1), (1, 1, 1)]
    rows = subscriber_rows([found])
    assert rows[0][0] == ("subs", "city", "new", "1", "0", "0", "0", "0", "1", "0")
    assert rows[-1][1] == ("1 number(s) opted out",)
    recipients, opted_out = subscriber_samples([found])
    assert opted_out == [({"destination": "subs"}, 1.0)]
    assert len(recipients) == 2 * 7
