"""Kill a process in the middle of a 10,000-recipient run and check the ledger it leaves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from poster.store.recipientledger import RecipientLedger, ledger_path

RECIPIENTS = tuple(f"44{n:09d}" for n in range(10_000))
BATCH = 100
CHILD = """
import sys
from pathlib import Path
from poster.store.recipientledger import RecipientLedger

path, count = Path(sys.argv[1]), int(sys.argv[2])
phones = tuple(f"44{n:09d}" for n in range(count))
ledger = RecipientLedger(path)
while planned := ledger.plan("item", phones)[:100]:
    batch = ledger.record_intent("item", planned)
    ledger.record_result(batch, planned, message_ids={p: "m" + p for p in planned})
    print(planned[-1], flush=True)
"""


def test_a_killed_run_loses_no_accepted_recipient_and_plans_none_twice(tmp_path: Path) -> None:
    path = ledger_path(tmp_path, "subs")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(len(RECIPIENTS))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    acknowledged = [child.stdout.readline().strip() for _ in range(30)]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with RecipientLedger(path) as ledger:
        outcome = ledger.outcome("item")
        planned = ledger.plan("item", RECIPIENTS)
        uncertain = ledger.open_batches()
    last_acked = RECIPIENTS.index(acknowledged[-1])
    # Every result the child reported is kept, and nothing past what it could have sent.
    assert outcome.accepted >= last_acked + 1
    assert outcome.accepted % BATCH == 0
    assert all(batch.state == "uncertain" and batch.size == BATCH for batch in uncertain)
    assert len(uncertain) <= 1
    # Accepted and uncertain recipients are never offered again; everyone else is.
    assert len(planned) == len(RECIPIENTS) - outcome.accepted - outcome.uncertain
    assert planned == RECIPIENTS[outcome.accepted + outcome.uncertain :]
