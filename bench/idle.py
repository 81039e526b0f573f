"""Measure the CPU time an idle poster daemon uses between polls.

The daemon reads a few feeds on start-up, then has nothing to do for an hour; over a window after
start-up has settled it should use no measurable CPU.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from farm import Farm
from scenarios import child_env, poster_config
from servers import Channel

FEEDS = 5
SETTLE = 5.0
WINDOW = 20.0
START_TIMEOUT = 60.0
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Idle:
    """CPU seconds used over the window, its length, resident memory, and the exit code."""

    cpu: float
    window: float
    rss_kib: int
    feeds: int
    code: int | None


def cpu_seconds(pid: int) -> float:
    """Return utime + stime of ``pid`` from /proc/<pid>/stat (fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = stat.rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state), so utime (14) and stime (15) sit at 11 and 12.
    return (int(fields[11]) + int(fields[12])) / TICKS


def resident_kib(pid: int) -> int:
    """Return VmRSS of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _wait_for_reads(log: Path, process: subprocess.Popen[bytes], feeds: int) -> None:
    """Wait until the daemon has started and read each of its feeds once."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: the daemon exited with {process.returncode}; see {log}")
        text = log.read_text(encoding="utf-8", errors="replace")
        if "event=started" in text and text.count("status=read") >= feeds:
            return
        time.sleep(0.2)
    raise SystemExit(f"bench: the daemon did not read its feeds in time; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    """Send SIGTERM and return the exit code, killing the daemon if it hangs."""
    process.terminate()
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def idle_cpu(home: Path, farm: Farm, base: str, channel: Channel) -> Idle:
    """Start the daemon on a few farm feeds (interval 1h) and measure its CPU once settled."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    config = home / "feeds.toml"
    feeds = farm.feeds[:FEEDS]
    config.write_text(poster_config(farm, feeds, base, channel.api_url), encoding="utf-8")
    log = home / "daemon.log"
    command = [sys.executable, "-m", "poster", "-c", str(config), "run"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--state-dir", str(home / "state")],
            env=child_env(POSTER_VIBER_TOKEN=channel.token),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_reads(log, process, len(feeds))
            time.sleep(SETTLE)
            before, started = cpu_seconds(process.pid), time.monotonic()
            time.sleep(WINDOW)
            used, window = cpu_seconds(process.pid) - before, time.monotonic() - started
            rss = resident_kib(process.pid)
        finally:
            code = _stop(process)
    return Idle(used, window, rss, len(feeds), code)
