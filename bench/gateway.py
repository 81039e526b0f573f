"""Measure items sent to 10,000 recipients through DecisionTelecom, end to end, against its fake.

Run as ``python bench/gateway.py [items] [recipients] [directory]`` (or ``make bench-gateway``).
The strict DecisionTelecom fake runs in this process; a local RSS file gains one item per pass,
as a feed publishing 20 items a day would, and each pass is ``poster run --once`` in a child
process of its own. For each pass it reports the wall time, the CPU time of poster (the child's
user + system) and of the fake (this process's), the recipient-ledger writes (fsynced journal
lines) and the child's peak RSS, and checks that every recipient got the item once. On a shared
machine the CPU times are the figures to compare.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.decisiontelecom.fakestate import Gateway
from poster.store.recipientledger import RecipientLedger, ledger_path

KEY = "bench-dt-access-key-5150"
ITEMS = 20
RECIPIENTS = 10_000
EPOCH = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def phones(count: int) -> list[str]:
    """Return ``count`` distinct realistic numbers."""
    return [f"37529{n:07d}" for n in range(count)]


def write_feed(path: Path, items: int) -> None:
    """Write an RSS feed of ``items`` items, newest first, one every 72 minutes."""
    entries = []
    for n in range(items, 0, -1):
        when = format_datetime(EPOCH + timedelta(minutes=72 * n))
        title = escape(f"Item {n}: the council meets on the new bridge")
        entries.append(
            f"<item><title>{title}</title><link>https://example.org/news/{n}</link>"
            f"<guid>https://example.org/news/{n}</guid><pubDate>{when}</pubDate></item>"
        )
    body = "".join(entries)
    path.write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>City</title>'
        f"<link>https://example.org/</link><description>News</description>{body}"
        "</channel></rss>",
        encoding="utf-8",
    )


def write_project(top: Path, api_url: str, recipients: int) -> Path:
    """Write feeds.toml, a template and the recipients file; return feeds.toml."""
    (top / "templates").mkdir()
    (top / "templates" / "default.j2").write_text("{{ item.title }}", encoding="utf-8")
    (top / "subscribers.txt").write_text(
        "".join(f"+{phone}\n" for phone in phones(recipients)), encoding="utf-8"
    )
    config = top / "feeds.toml"
    config.write_text(
        'templates = "templates"\n'
        f'[destinations.subs]\nkind = "decisiontelecom"\napi_url = "{api_url}"\n'
        'source_addr = "Poster"\nrecipients = "subscribers.txt"\nmin_gap = "0s"\n'
        '[[feeds]]\nname = "city"\nurl = "city.xml"\nbacklog = "all"\n',
        encoding="utf-8",
    )
    return config


def ledger_writes(state: Path) -> int:
    """Return how many changes the recipient ledger has recorded since it was created."""
    path = ledger_path(state, "subs")
    if not path.exists():
        return 0
    with RecipientLedger(path, read_only=True) as ledger:
        return ledger.storage.writes


def one_pass(config: Path, state: Path) -> tuple[float, float, int]:
    """Run ``poster run --once`` in a child; return its wall time, CPU time and peak RSS (KiB)."""
    command = [sys.executable, "-m", "poster", "-c", str(config), "run", "--once"]
    env = os.environ | {"POSTER_SUBS_TOKEN": KEY}
    began = time.perf_counter()
    child = subprocess.Popen(
        [*command, "--state-dir", str(state)], env=env, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - began
    if child.returncode != 0:
        raise SystemExit(f"poster run --once exited {child.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main(argv: list[str]) -> int:
    """Send ``items`` items to ``recipients`` numbers, one pass each, and print a table."""
    items = int(argv[0]) if argv else ITEMS
    recipients = int(argv[1]) if len(argv) > 1 else RECIPIENTS
    rows = []
    gateway = Gateway(KEY, balance=float("inf"), rate_limit=10**9)
    with (
        tempfile.TemporaryDirectory(dir=argv[2] if len(argv) > 2 else None) as top,
        FakeDecisionTelecom(gateway) as fake,
    ):
        config = write_project(Path(top), fake.base_url, recipients)
        state = Path(top) / "state"
        for n in range(1, items + 1):
            write_feed(Path(top) / "city.xml", n)
            before = ledger_writes(state)
            fake_began = time.process_time()
            wall, cpu, peak = one_pass(config, state)
            fake_cpu = time.process_time() - fake_began
            sent = gateway.forget()
            if sent != recipients:
                raise SystemExit(f"item {n}: the gateway got {sent} messages, not {recipients}")
            rows.append((wall, ledger_writes(state) - before, peak, cpu, fake_cpu))
            print(f"item {n}: {wall:.2f} s, poster CPU {cpu:.2f} s, fake CPU {fake_cpu:.2f} s, "
                  f"{rows[-1][1]} ledger writes", file=sys.stderr)  # fmt: skip
    walls = [row[0] for row in rows]
    print(f"{items} items to {recipients:,} recipients each, DecisionTelecom fake on 127.0.0.1")
    print("| per item (median) | slowest | poster CPU | fake CPU | ledger writes | peak RSS |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {statistics.median(walls):.2f} s | {max(walls):.2f} s "
        f"| {statistics.median(row[3] for row in rows):.2f} s "
        f"| {statistics.median(row[4] for row in rows):.2f} s "
        f"| {statistics.median(row[1] for row in rows):.0f} "
        f"| {max(row[2] for row in rows) / 1024:.0f} MiB |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
