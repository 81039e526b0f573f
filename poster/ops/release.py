"""Release an uncertain batch of a gateway destination and offer its item there again.

The recipient ledger's release lets the batch's numbers be planned again; the item's delivery
record at that destination is released too (``reopen_item``), since a record left sent or
uncertain would never offer the item again. The main state is taken first, so a one-shot run
that holds it makes the command change nothing; a daemon that holds it gets the re-opening
through its inbox, as ``poster retry`` does.
"""

from __future__ import annotations

import math
from pathlib import Path

from poster.destinations.gateway.destination import item_of
from poster.errors import UsageError
from poster.frozen import frozen
from poster.ops import inbox
from poster.store.recipientledger import RecipientLedger, ledger_path, no_ledger
from poster.store.store import SNAPSHOT_NAME


@frozen
class Released:
    """What a release did: ``ok`` is false when the item could not be offered again."""

    ok: bool
    lines: tuple[str, ...]


def release_batch(state_dir: Path, destination: str, batch_id: str) -> Released:
    """Release ``batch_id`` of ``destination`` and re-open its item there; say what was done."""
    path = ledger_path(state_dir, destination)
    if not path.exists():
        raise no_ledger(state_dir, destination)
    if not (state_dir / SNAPSHOT_NAME).exists():
        raise UsageError(f"no poster state in {state_dir}; give --state-dir where poster keeps it")
    store = inbox.open_for_change(state_dir)
    try:
        # Items are pruned by runs alone, which know the configured retention.
        with RecipientLedger(path, retention_days=math.inf) as ledger:
            item = _batch_item(ledger, batch_id)
            ledger.release(batch_id)
            # A feed renamed since goes on with the item's sends: its record is re-opened too.
            items = [item, *ledger.carried_into(item)]
        requests = [inbox.Request("reopen", *item_of(i), destination=destination) for i in items]
        feed, key = item_of(item)
        done = f"released batch {batch_id} of item {key!r} of feed {feed!r}"
        if store is None:
            for request in requests:
                inbox.submit(state_dir, request)
            queued = f"{done}; queued for the running daemon: {', '.join(map(str, requests))} "
            return Released(True, (queued + "(it applies it within seconds; `poster status` "
                                   "shows the result)",))  # fmt: skip
        lines = [
            f"applied a request queued earlier: {line}" for line in inbox.drain(state_dir, store)
        ]
        applied = [inbox.apply(store, request) for request in requests]
    finally:
        if store is not None:
            store.close()
    said = "; ".join(f"{one.request}: {one.text}" for one in applied)
    return Released(any(one.ok for one in applied), (*lines, f"{done}; {said}"))


def _batch_item(ledger: RecipientLedger, batch_id: str) -> str:
    """Return the item of the open batch ``batch_id``, or say it is not open."""
    for batch in ledger.open_batches():
        if batch.batch_id == batch_id:
            return batch.item
    raise UsageError(f"no open batch {batch_id} in {ledger.storage.files.folder}")


def settle_item(state_dir: Path, destination: str, item: str) -> str:
    """Record ``item`` as sent at ``destination`` once a settle left none of its numbers
    uncertain or pending, so that ``status`` no longer lists it; say what was done.

    Only a record that says uncertain changes; a run holding the state leaves it as it is.
    """
    from datetime import UTC, datetime

    from poster.destinations import Receipt
    from poster.store.ledger import UNCERTAIN

    if not (state_dir / SNAPSHOT_NAME).exists():
        return ""
    feed, key = item_of(item)
    store = inbox.open_for_change(state_dir, wait=0.0)
    if store is None:
        return ""
    with store:
        records = store.deliveries(states=[UNCERTAIN], feed=feed)
        if not any(r.key == key and r.destination == destination for r in records):
            return ""
        store.record_sent(feed, key, Receipt(destination, None, datetime.now(UTC)))
    return f"item {key!r} of feed {feed!r} is recorded as sent at {destination!r}"
