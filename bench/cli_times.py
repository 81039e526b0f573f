"""Time the commands a person types against bare Python, on the farm's configuration and state.

``poster --help``, ``poster status`` and ``poster check`` run as children with the benchmark's
interpreter, in turn with ``python -c pass``, so that load on the machine hits them alike; the
report compares their medians with bare Python's from the same run.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TARGETS = {"--help": 1.5, "status": 2.5, "check": 3.0}
"""The most each command may take, as a multiple of bare ``python -c pass``."""


@dataclass(frozen=True)
class CommandTimes:
    """Wall seconds of every run of bare Python and of each command, with the exit codes."""

    bare: tuple[float, ...]
    runs: dict[str, tuple[float, ...]]
    codes: dict[str, int]
    feeds: int
    records: int

    def ratio(self, name: str) -> float:
        """Return the command's median as a multiple of bare Python's median."""
        return statistics.median(self.runs[name]) / statistics.median(self.bare)


def _wall(command: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Run ``command`` and return its wall seconds and exit code."""
    started = time.perf_counter()
    done = subprocess.run(
        command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    return time.perf_counter() - started, done.returncode


def time_commands(
    config: Path, state: Path, env: dict[str, str], rounds: int, scale: tuple[int, int]
) -> CommandTimes:
    """Run bare Python and each command ``rounds`` times in turn; ``scale`` is (feeds, records)."""
    poster = [sys.executable, "-m", "poster"]
    commands = {
        "bare": [sys.executable, "-c", "pass"],
        "--help": [*poster, "--help"],
        "status": [*poster, "-c", str(config), "status", "--state-dir", str(state)],
        "check": [*poster, "-c", str(config), "check"],
    }
    runs: dict[str, list[float]] = {name: [] for name in commands}
    codes: dict[str, int] = {}
    for _ in range(rounds):
        for name, command in commands.items():
            seconds, code = _wall(command, env, config.parent)
            runs[name].append(seconds)
            codes[name] = max(codes.get(name, 0), code)
    bare = tuple(runs.pop("bare"))
    return CommandTimes(bare, {k: tuple(v) for k, v in runs.items()}, codes, *scale)


def ok(times: CommandTimes) -> bool:
    """Tell whether every command did its job: help and check exit 0, status 0 or 1."""
    return times.codes["--help"] == 0 and times.codes["check"] == 0 and times.codes["status"] <= 1


def lines(times: CommandTimes) -> list[str]:
    """Return the Markdown table of the commands' medians and ratios with their verdicts."""
    bare = statistics.median(times.bare)
    rows = [
        f"Commands on a {times.feeds:,}-feed feeds.toml and a state of {times.records:,} "
        f"records, medians of {len(times.bare)} runs each, in turn with bare Python:",
        "",
        "| command | median ms | runs ms | × bare Python | target | exit |",
        "| --- | ---: | --- | ---: | --- | ---: |",
        f"| python -c pass | {bare * 1000:.0f} | {_spread(times.bare)} | 1.00× | – | 0 |",
    ]
    for name, target in TARGETS.items():
        ratio = times.ratio(name)
        verdict = "met" if ratio <= target else "not met"
        median = statistics.median(times.runs[name]) * 1000
        rows.append(
            f"| poster {name} | {median:.0f} | {_spread(times.runs[name])} | {ratio:.2f}× | "
            f"≤ {target:g}×: {verdict} | {times.codes[name]} |"
        )
    return rows


def _spread(seconds: Sequence[float]) -> str:
    """Return the fastest and slowest run in milliseconds."""
    return f"{min(seconds) * 1000:.0f}–{max(seconds) * 1000:.0f}"
