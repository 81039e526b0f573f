"""Measure what a post costs the store as its history grows, and how long it takes to open.

Run as ``python bench/ledger.py [posts] [directory]``. For a store pre-filled with 1,000 and
with 100,000 delivery records it times ``posts`` posts (``record_pending`` + ``record_sent``,
each one fsync'd journal line), then the snapshot rewrite that a growing journal eventually
triggers, spread over the posts that pay for it, and the start-up time with 100,000 records,
with an empty journal and with one just short of being compacted. Targets: a post at 100,000
records costs at most 1.5 times a post at 1,000; opening 100,000 records takes under 2 s.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from poster.destinations import Receipt
from poster.store import Store
from poster.store.change import Change
from poster.store.documents import new_delivery_doc, to_iso
from poster.store.files import (
    StateFiles,
    encode_change,
    encode_header,
    encode_snapshot,
    write_atomic,
)
from poster.store.journal import JournalStorage
from poster.store.ledger import PENDING, SENT

SIZES = (1_000, 100_000)
FEEDS = 20
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def delivery(n: int) -> dict[str, object]:
    """Return a realistic sent delivery document: a URL key and a message token."""
    doc = new_delivery_doc(
        f"feed-{n % FEEDS:02d}", f"https://example.com/articles/{n:07d}", "viber", to_iso(NOW)
    )
    return {**doc, "state": SENT, "attempts": 1, "message_token": str(5491411463282331111 + n)}


def prefill(state: Path, records: int, journal_bytes: int = 0) -> None:
    """Write a snapshot of ``records`` deliveries directly, then a journal of posts.

    The journal holds what posts leave there, a pending and a sent line for each new item,
    up to ``journal_bytes``.
    """
    state.mkdir(parents=True)
    files = StateFiles(state / "poster.json")
    docs = {str(n): delivery(n) for n in range(1, records + 1)}
    write_atomic(files.snapshot, encode_snapshot("bench", None, {"deliveries": docs}))
    lines = [encode_header("bench")[0]]
    size = len(lines[0])
    for n in itertools.count(records + 1):
        sent = delivery(n)
        pending = {**sent, "state": PENDING, "message_token": None}
        seq = 2 * (n - records)
        pair = [
            encode_change(Change("deliveries", {str(n): doc}), seq - 1 + i)
            for i, doc in enumerate((pending, sent))
        ]
        if size + len(pair[0]) + len(pair[1]) >= journal_bytes:
            break
        lines += pair
        size += len(pair[0]) + len(pair[1])
    write_atomic(files.journal, b"".join(lines))


@dataclass
class Cost:
    """What the posts to one store cost so far."""

    store: Store
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    posted: int = 0


def post_round(cost: Cost, posts: int) -> None:
    """Post ``posts`` new items and note the mean wall and CPU seconds per post."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(posts):
        key = f"https://example.com/new/{cost.posted:07d}"
        cost.store.record_pending("feed-00", key, "viber")
        cost.store.record_sent("feed-00", key, Receipt("viber", str(cost.posted), NOW))
        cost.posted += 1
    cost.wall.append((time.perf_counter() - wall) / posts)
    cost.cpu.append((time.process_time() - cpu) / posts)


def time_posts(states: list[Path], posts: int, rounds: int = 10) -> list[Cost]:
    """Post to every store in turns, so disk noise falls on each alike; return their costs."""
    costs = [Cost(Store(state)) for state in states]
    for _ in range(rounds):
        for cost in costs:
            post_round(cost, posts // rounds)
    return costs


def time_compaction(cost: Cost) -> tuple[float, int]:
    """Return the seconds one compaction takes and the journal bytes each post added."""
    journal = cost.store.path.with_suffix(".journal")
    bytes_per_post = (journal.stat().st_size - len(encode_header("bench")[0])) // cost.posted
    start = time.perf_counter()
    cost.store.compact()
    return time.perf_counter() - start, bytes_per_post


def time_open(state: Path, repeats: int = 3) -> float:
    """Return the shortest time to open the store at ``state`` and close it again."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        Store(state, read_only=True).close()
        best = min(best, time.perf_counter() - start)
    return best


def main(posts: int, root: Path) -> int:
    """Run every measurement, print a table, and return 0 when both targets are met."""
    states = [root / f"posts-{records}" for records in SIZES]
    for state, records in zip(states, SIZES, strict=True):
        prefill(state, records)
    prefill(root / "open", SIZES[1])
    snapshot_bytes = (root / "open" / "poster.json").stat().st_size
    threshold = JournalStorage.compact_threshold(snapshot_bytes)
    prefill(root / "open-journal", SIZES[1], journal_bytes=threshold)
    os.sync()
    opened = time_open(root / "open")
    worst = time_open(root / "open-journal")
    costs = time_posts(states, posts)
    header = ("records", "wall ms/post", "cpu ms/post", "bytes/post", "compact s", "amortized ms")
    print(" ".join(f"{h:>12}" for h in header))
    amortized: list[float] = []
    for records, cost in zip(SIZES, costs, strict=True):
        wall, cpu = statistics.median(cost.wall), statistics.median(cost.cpu)
        compaction, bytes_per_post = time_compaction(cost)
        cost.store.close()
        # A compaction comes once the journal reaches a share of the snapshot, so its
        # cost is shared by the posts that filled the journal.
        snapshot = (root / f"posts-{records}" / "poster.json").stat().st_size
        between = JournalStorage.compact_threshold(snapshot) / bytes_per_post
        amortized.append(wall + compaction / between)
        row = (f"{records:,}", f"{wall * 1e3:.3f}", f"{cpu * 1e3:.3f}", str(bytes_per_post))
        print(
            " ".join(f"{v:>12}" for v in (*row, f"{compaction:.3f}", f"{amortized[-1] * 1e3:.3f}"))
        )
    ratio = amortized[1] / amortized[0]
    cpu_ratio = statistics.median(costs[1].cpu) / statistics.median(costs[0].cpu)
    print(f"cost ratio {SIZES[1]:,} / {SIZES[0]:,} records: {ratio:.2f} (target <= 1.5)")
    print(f"cpu ratio  {SIZES[1]:,} / {SIZES[0]:,} records: {cpu_ratio:.2f}")
    print(f"open {SIZES[1]:,} records, empty journal: {opened:.3f} s (target < 2 s)")
    print(f"open {SIZES[1]:,} records + journal just under compaction: {worst:.3f} s")
    return 0 if ratio <= 1.5 and opened < 2 else 1


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    if len(sys.argv) > 2:
        sys.exit(main(count, Path(sys.argv[2])))
    with tempfile.TemporaryDirectory(prefix="poster-bench-") as directory:
        sys.exit(main(count, Path(directory)))
