"""Turn the samples into Markdown: machine, then per farm medians, ratios, targets, stages."""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from idle import Idle
from scenarios import SCENARIOS, Sample

SPEED_TARGETS = {"cold": 10.0, "warm": 5.0, "update": 8.0}
"""The least rss2email/poster wall-time ratio each scenario must reach."""
COLD_RSS_MIB = 60.0
IDLE_CPU_S = 0.02
STAGES = ("fetch", "parse", "select", "render", "send")


@dataclass(frozen=True)
class Context:
    """What the report says about one farm's passes besides the samples."""

    farm: str
    feeds: int
    items: int
    farm_bytes: int
    changed: int
    rounds: int


def machine() -> str:
    """Describe the CPU model, cores, memory, OS and Python version."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1])
    return (
        f"{model}, {os.cpu_count()} cores, {memory / 1024 / 1024:.1f} GiB, "
        f"Linux {platform.release()}, Python {platform.python_version()}"
    )


def _pick(samples: Sequence[Sample], tool: str, scenario: str) -> list[Sample]:
    """Return the samples of one tool in one scenario."""
    return [s for s in samples if s.tool == tool and s.scenario == scenario]


def _median(samples: Sequence[Sample], tool: str, scenario: str, attr: str) -> float:
    """Return the median of ``attr`` over one tool's samples in one scenario (NaN: none)."""
    picked = _pick(samples, tool, scenario)
    return statistics.median(float(getattr(s, attr)) for s in picked) if picked else math.nan


def _cell(value: float, spec: str, unit: str = "") -> str:
    """Return ``value`` formatted by ``spec`` with ``unit``, or a dash for a tool not run."""
    return "–" if math.isnan(value) else format(value, spec) + unit


def _verdict(ok: bool) -> str:
    """Return the mark shown next to a target."""
    return "met" if ok else "**not met**"


def _main_table(samples: Sequence[Sample]) -> list[str]:
    """Return one row per scenario: medians of both tools, their ratio and the speed target."""
    rows = [
        "| scenario | poster s | rss2email s | rss2email/poster | target | "
        "poster peak MiB | rss2email peak MiB | checks |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for scenario in SCENARIOS:
        mine, theirs = (_median(samples, t, scenario, "wall") for t in ("poster", "rss2email"))
        peaks = (_median(samples, t, scenario, "peak_kib") / 1024 for t in ("poster", "rss2email"))
        ratio = theirs / mine
        want = SPEED_TARGETS.get(scenario)
        target = "–"
        if want is not None and not math.isnan(ratio):
            target = f"≥ {want:g}×: {_verdict(ratio >= want)}"
        checks = all(s.ok for s in samples if s.scenario == scenario)
        rows.append(
            f"| {scenario} | {mine:.2f} | {_cell(theirs, '.2f')} | {_cell(ratio, '.1f', '×')} | "
            f"{target} | "
            + " | ".join(_cell(p, ".1f") for p in peaks)
            + f" | {'ok' if checks else '**FAILED**'} |"
        )
    return rows


def _targets(samples: Sequence[Sample], changed: int) -> list[str]:
    """Return the memory and correctness targets, one bullet each."""
    peak = _median(samples, "poster", "cold", "peak_kib") / 1024
    updates = [s for s in samples if s.tool == "poster" and s.scenario == "update"]
    posts = ", ".join(s.check.split(",")[0] for s in updates)
    return [
        f"- poster peak RSS in cold: {peak:.1f} MiB (target ≤ {COLD_RSS_MIB:g} MiB): "
        + _verdict(peak <= COLD_RSS_MIB),
        f"- update posts to the sandbox per round: {posts} (must be exactly {changed}, one "
        f"per changed feed): {'ok' if all(s.ok for s in updates) else '**FAILED**'}",
    ]


def idle_line(idle: Idle) -> str:
    """Return the idle daemon's figure and verdict."""
    return (
        f"- idle daemon ({idle.feeds} feeds, interval 1h): {idle.cpu:.2f} s CPU over "
        f"{idle.window:.1f} s, RSS {idle.rss_kib / 1024:.1f} MiB, exit {idle.code} "
        f"(target ≤ {IDLE_CPU_S:g} s): {_verdict(idle.cpu <= IDLE_CPU_S)}"
    )


def _stages(samples: Sequence[Sample]) -> list[str]:
    """Return poster's median per-stage seconds (and CPU), their sum, the wall and CPU time."""
    rows = [
        "| poster scenario | " + " | ".join(STAGES) + " | sum of stages | wall | CPU |",
        "| --- |" + " ---: |" * (len(STAGES) + 3),
    ]
    for scenario in SCENARIOS:
        picked = _pick(samples, "poster", scenario)
        spent = [statistics.median(s.stages.get(name, 0.0) for s in picked) for name in STAGES]
        busy = [statistics.median(s.stage_cpu.get(name, 0.0) for s in picked) for name in STAGES]
        wall = _median(samples, "poster", scenario, "wall")
        cpu = _median(samples, "poster", scenario, "cpu")
        pairs = zip(spent, busy, strict=True)
        cells = " | ".join(f"{seconds:.2f} ({used:.2f})" for seconds, used in pairs)
        rows.append(f"| {scenario} | {cells} | {sum(spent):.2f} | {wall:.2f} | {cpu:.2f} |")
    return rows


def _rounds(samples: Sequence[Sample]) -> list[str]:
    """Return every round's wall and CPU time per tool and scenario, to show the spread."""
    lines = []
    for scenario in SCENARIOS:
        for tool in ("poster", "rss2email"):
            picked = _pick(samples, tool, scenario)
            walls = " ".join(f"{s.wall:.2f}" for s in picked)
            cpus = " ".join(f"{s.cpu:.2f}" for s in picked)
            lines += [f"- {scenario} {tool}: {walls} (CPU {cpus})"] if walls else []
    return lines


def head(versions: str, load: str) -> list[str]:
    """Return the report's opening lines: the machine, the tools and the load."""
    return [
        "## poster benchmarks",
        "",
        f"Machine: {machine()}  ",
        f"Tools: {versions}  ",
        f"Load average before and after: {load}",
        "",
    ]


def passes(samples: Sequence[Sample], context: Context) -> list[str]:
    """Return one farm's section: medians, ratios, targets, stages and every round."""
    c = context
    return [
        f"### poster vs rss2email, {c.farm} farm: {c.feeds:,} feeds × {c.items} items "
        f"({c.farm_bytes / 1e6:.0f} MB), {c.changed} changed in update",
        "",
        f"Medians of {c.rounds} round(s); wall time and peak RSS of the whole process "
        "(/usr/bin/time -v).",
        "",
        *_main_table(samples),
        "",
        *_targets(samples, c.changed),
        "",
        "poster's time by stage (median seconds, from `run --once --timings`, with the CPU "
        "seconds in brackets; stages are summed over the threads that read feeds, `[daemon] "
        "max_fetches`, so their sum can exceed the wall time, and a stage's seconds include "
        "waiting for the interpreter while another thread parses; the rest of the wall time "
        "is start-up, state and exit; CPU is the whole process's user and system time):",
        "",
        *_stages(samples),
        "",
        "Wall seconds in each round (and CPU seconds):",
        "",
        *_rounds(samples),
        "",
    ]


def failed(samples: Sequence[Sample]) -> bool:
    """Tell whether any pass did the wrong thing (a correctness failure, not a missed target)."""
    return not all(sample.ok for sample in samples)
