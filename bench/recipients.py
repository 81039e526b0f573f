"""Measure what a batch write costs the recipient ledger as its history grows, and its memory.

Run as ``python bench/recipients.py [writes] [directory]``. For ledgers holding 1,000, 100,000
and 2,000,000 recorded (item, recipient) pairs (items of up to 10,000 recipients, 20 items a
day, message ids kept for two days), each in a process of its own, it times ``writes`` batch
writes of 1,000 recipients (``record_intent`` + ``record_result`` with message ids, two fsync'd
journal lines), adds the snapshot rewrite spread over the writes that pay for it, and reports
the time to reopen, the memory the state holds (tracemalloc) and the process's peak RSS.
Target: a batch write at 2,000,000 pairs costs at most 1.5 times one at 1,000.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from poster.store.files import StateFiles, encode_snapshot, write_atomic
from poster.store.recipientledger import LEDGER, RecipientLedger
from poster.store.recipientstate import LedgerState

SIZES = (1_000, 100_000, 2_000_000)
AUDIENCE = 10_000
BATCH = 1_000
PER_DAY = 20
START = 1_714_560_000.0


def phones(count: int) -> list[str]:
    """Return ``count`` distinct realistic numbers."""
    return [f"37529{n:07d}" for n in range(count)]


def prefill(path: Path, pairs: int) -> float:
    """Write a ledger of ``pairs`` accepted (item, recipient) pairs; return the time after."""
    audience = phones(min(pairs, AUDIENCE))
    state = LedgerState(2.0)
    items = max(1, pairs // len(audience))
    at = START
    for n in range(items):
        at = START + n * 86400 / PER_DAY
        key = f"https://example.com/articles/{n:07d}"
        for first in range(0, len(audience), BATCH):
            chunk = audience[first : first + BATCH]
            batch = f"{n}-{first}"
            state.apply({"e": "intent", "t": at, "item": key, "batch": batch, "phones": chunk})
            ids = {phone: f"{n:05d}{phone}" for phone in chunk}
            event = {"e": "result", "t": at, "batch": batch, "accepted": chunk}
            state.apply(event | {"rejected": {}, "ids": ids, "optout": []})
    state.prune(at, 90)
    path.parent.mkdir(parents=True)
    tables = {LEDGER: {"1": state.export()}}
    write_atomic(StateFiles(path).snapshot, encode_snapshot("bench", None, tables))
    return at + 60


def measure(folder: Path, now: float, writes: int) -> dict[str, float]:
    """Reopen a prefilled ledger and time ``writes`` batch writes; return the figures."""
    path = folder / "recipients" / "bench" / "ledger.json"
    clock = [now]
    tracemalloc.start()
    reader = RecipientLedger(
        path, clock=lambda: datetime.fromtimestamp(clock[0], UTC), read_only=True
    )
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    reader.close()
    began = time.perf_counter()
    ledger = RecipientLedger(path, clock=lambda: datetime.fromtimestamp(clock[0], UTC))
    reopen = time.perf_counter() - began
    audience = phones(AUDIENCE)
    times, start_bytes = [], ledger.storage.journal_bytes
    for n in range(writes):
        key = f"https://example.com/new/{n:05d}"
        chunk = list(ledger.plan(key, audience)[:BATCH])
        began = time.perf_counter()
        batch = ledger.record_intent(key, chunk)
        ids = {phone: f"new{n:05d}{phone}" for phone in chunk}
        ledger.record_result(batch, chunk, message_ids=ids)
        times.append(time.perf_counter() - began)
        clock[0] += 1
    per_write_bytes = (ledger.storage.journal_bytes - start_bytes) / writes
    snapshot_bytes = StateFiles(path).snapshot.stat().st_size
    began = time.perf_counter()
    ledger.storage.compact()
    compaction = time.perf_counter() - began
    ledger.close()
    threshold = ledger.storage.compact_threshold(snapshot_bytes)
    share = compaction * per_write_bytes / threshold
    return {
        "compaction_s": compaction,
        "write_ms": statistics.median(times) * 1000,
        "amortised_ms": (statistics.median(times) + share) * 1000,
        "reopen_s": reopen,
        "held_mib": held / 2**20,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "snapshot_mib": snapshot_bytes / 2**20,
    }


def main(argv: list[str]) -> int:
    """Run each size in a fresh process and print a table with ratios to the smallest."""
    if argv[:1] == ["--prefill"]:
        print(prefill(Path(argv[2]) / "recipients" / "bench" / "ledger.json", int(argv[1])))
        return 0
    if argv[:1] == ["--one"]:
        print(json.dumps(measure(Path(argv[1]), float(argv[2]), int(argv[3]))))
        return 0
    writes = int(argv[0]) if argv else 50
    rows = []
    with tempfile.TemporaryDirectory(dir=argv[1] if len(argv) > 1 else None) as top:
        for size in SIZES:
            folder = Path(top) / str(size)
            # Each step in a process of its own, so that peak RSS is the reopened ledger's.
            now = _run("--prefill", str(size), str(folder))
            rows.append({"pairs": size} | json.loads(_run("--one", str(folder), now, str(writes))))
    base = rows[0]["amortised_ms"]
    print("| pairs | write | with compaction | ratio | reopen | held | peak RSS | snapshot |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['pairs']:,.0f} | {row['write_ms']:.2f} ms | {row['amortised_ms']:.2f} ms "
            f"| {row['amortised_ms'] / base:.2f}× | {row['reopen_s']:.2f} s "
            f"| {row['held_mib']:.1f} MiB | {row['rss_mib']:.0f} MiB "
            f"| {row['snapshot_mib']:.1f} MiB, rewrite {row['compaction_s']:.2f} s |"
        )
    return 0


def _run(*args: str) -> str:
    """Run this script with ``args`` in a new process and return what it printed."""
    command = [sys.executable, __file__, *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
