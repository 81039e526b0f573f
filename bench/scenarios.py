"""Run poster and rss2email over the farm, scenario by scenario, and measure each process.

Each pass is one child process under ``/usr/bin/time -v``, for its wall time and peak resident
memory. Every pass is also checked: a fast pass that did the wrong thing is not a result.
"""

from __future__ import annotations

import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import farm as farms
from farm import ITEMS, Farm
from servers import Channel, ensure_program

SCENARIOS = ("cold", "warm", "update")
PROJECT = Path(__file__).resolve().parent.parent
_STAGE_LINE = re.compile(r"^(\w+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)(?:\s+([\d.]+))?$", re.MULTILINE)
_PEAK_LINE = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_CPU_LINE = re.compile(r"(?:User|System) time \(seconds\): ([\d.]+)")


@dataclass(frozen=True)
class Run:
    """One finished child process: wall seconds, peak RSS in KiB, exit code, output, CPU seconds.

    ``cpu`` is user plus system time: unlike the wall time, it does not grow when other
    processes share the machine's cores.
    """

    wall: float
    peak_kib: int
    code: int
    out: str
    err: str
    cpu: float = 0.0


@dataclass(frozen=True)
class Sample:
    """One measured pass of one tool in one scenario, with what its check found."""

    tool: str
    scenario: str
    round: int
    wall: float
    peak_kib: int
    ok: bool
    check: str
    stages: dict[str, float] = field(default_factory=dict)
    cpu: float = 0.0
    """User plus system seconds of the whole process."""
    stage_cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds per stage, summed over the threads as ``stages`` is."""


def measured(command: Sequence[str], env: dict[str, str], scratch: Path) -> Run:
    """Run ``command`` under ``/usr/bin/time -v`` and return what it cost and printed."""
    timer = ensure_program("/usr/bin/time", "time")
    report = scratch / "time.txt"
    started = time.perf_counter()
    done = subprocess.run(
        [timer, "-v", "-o", str(report), *command],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - started
    text = report.read_text(encoding="utf-8")
    peak = _PEAK_LINE.search(text)
    cpu = sum(float(seconds) for seconds in _CPU_LINE.findall(text))
    kib = int(peak.group(1)) if peak else 0
    return Run(wall, kib, done.returncode, done.stdout, done.stderr, cpu)


def stage_seconds(err: str) -> dict[str, float]:
    """Return the per-stage seconds of poster's ``--timings`` table."""
    return {m.group(1): float(m.group(2)) for m in _STAGE_LINE.finditer(err)}


def stage_cpu(err: str) -> dict[str, float]:
    """Return the per-stage CPU seconds of poster's ``--timings`` table, where it gives them."""
    return {m.group(1): float(m.group(5)) for m in _STAGE_LINE.finditer(err) if m.group(5)}


class Tool(Protocol):
    """A feed reader the benchmark can start afresh and run one pass of."""

    name: str

    def fresh(self) -> None:
        """Forget everything: the next pass is a first read."""

    def measure(self, scenario: str, round_: int) -> Sample:
        """Run one pass and check it did what ``scenario`` expects."""


def child_env(**extra: str) -> dict[str, str]:
    """Return this process's environment without systemd credentials, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def poster_config(
    farm: Farm, feeds: Sequence[farms.FeedSpec], base: str, api_url: str, daemon: str = ""
) -> str:
    """Return a feeds.toml reading ``feeds`` from the farm's server and posting to ``api_url``.

    ``daemon`` holds extra lines for the ``[daemon]`` table.
    """
    head = (
        f'templates = "{PROJECT / "templates"}"\n\n'
        f'[viber]\napi_url = "{api_url}"\nmin_gap = "0s"\nmax_per_pass = 1000\n\n'
        f"[daemon]\n{daemon}\n"
        '[defaults]\ninterval = "1h"\njitter = "0s"\nbacklog = 0\n\n'
    )
    tables = (f'[[feeds]]\nname = "{s.name}"\nurl = "{farm.url(base, s)}"\n' for s in feeds)
    return head + "\n".join(tables)


class Poster:
    """poster, run as ``poster run --once --timings`` with the project's interpreter."""

    name = "poster"

    def __init__(self, home: Path, farm: Farm, base: str, channel: Channel) -> None:
        self.home = home
        self.farm = farm
        self.channel = channel
        self.config = home / "feeds.toml"
        self.state = home.parent / "poster-state"
        home.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            poster_config(farm, farm.feeds, base, channel.api_url), encoding="utf-8"
        )
        # cProfile sees only the thread it runs in, so the profiled pass reads one feed at a time.
        self.serial_config = home / "feeds-serial.toml"
        self.serial_config.write_text(
            poster_config(farm, farm.feeds, base, channel.api_url, "max_fetches = 1\n"),
            encoding="utf-8",
        )
        self.env = child_env(POSTER_VIBER_TOKEN=channel.token)

    def fresh(self) -> None:
        """Delete the state directory."""
        shutil.rmtree(self.state, ignore_errors=True)

    def arguments(self, *extra: str, config: Path | None = None) -> list[str]:
        """Return poster's arguments for one pass."""
        chosen = str(config or self.config)
        run = ["-c", chosen, "--log-level", "warning", "run", "--once"]
        return [*run, "--state-dir", str(self.state), *extra]

    def command(self, *extra: str, config: Path | None = None) -> list[str]:
        """Return the command line of one pass."""
        return [sys.executable, "-m", "poster", *self.arguments(*extra, config=config)]

    def measure(self, scenario: str, round_: int) -> Sample:
        """Run one pass with --timings and check what it posted and read."""
        before = self.channel.posts()
        run = measured(self.command("--timings"), self.env, self.home)
        ok, check = self._check(scenario, run, self.channel.posts() - before)
        stages, cpu = stage_seconds(run.err), stage_cpu(run.err)
        return Sample(
            self.name, scenario, round_, run.wall, run.peak_kib, ok, check, stages, run.cpu, cpu
        )

    def _check(self, scenario: str, run: Run, posted: int) -> tuple[bool, str]:
        """Compare posts and not-modified feeds with what ``scenario`` must produce."""
        feeds = len(self.farm.feeds)
        unchanged = run.out.count(": not modified\n")
        want_posts = len(self.farm.changed) if scenario == "update" else 0
        want_unchanged = {"cold": 0, "warm": feeds, "update": feeds - len(self.farm.changed)}
        check = f"{posted} posts, {unchanged} not modified, exit {run.code}"
        ok = run.code == 0 and posted == want_posts and unchanged == want_unchanged[scenario]
        if scenario == "update":
            covered = self._changed_feeds_posted(posted)
            check += f", {covered} changed feeds posted"
            ok = ok and covered == want_posts
        return ok, check

    def _changed_feeds_posted(self, last: int) -> int:
        """Return how many changed feeds have their new item among the ``last`` posts."""
        posts = [json.dumps(post) for post in self.channel.sandbox.posts[-last:]] if last else []
        links = (farms.item_link(s, ITEMS) for s in self.farm.changed)
        return sum(any(link in post for post in posts) for link in links)

    def profile(self, output: Path, scenario: str = "cold") -> str:
        """Profile a cold or an update pass with cProfile; return the top 25 by cumulative time.

        An update pass follows an unprofiled first pass over the farm's base items.
        """
        self.fresh()
        farms.reset(self.farm)
        if scenario == "update":
            subprocess.run(self.command(), env=self.env, capture_output=True, check=True)
            farms.update(self.farm)
        profiler = [sys.executable, "-m", "cProfile", "-o", str(output), "-m", "poster"]
        command = [*profiler, *self.arguments(config=self.serial_config)]
        subprocess.run(command, env=self.env, capture_output=True, check=True)
        listing = io.StringIO()
        pstats.Stats(str(output), stream=listing).sort_stats("cumulative").print_stats(25)
        return listing.getvalue()


def rss2email_config(farm: Farm, base: str) -> str:
    """Return an rss2email configuration with every farm feed and no pause between fetches."""
    head = (
        "[DEFAULT]\nto = bench@example.invalid\nfrom = bench@example.invalid\n"
        "same-server-fetch-interval = 0\n\n"
    )
    tables = (f"[feed.{s.name}]\nurl = {farm.url(base, s)}\n" for s in farm.feeds)
    return head + "\n".join(tables)


class Rss2email:
    """rss2email in its own virtual environment, run as ``r2e run --no-send``."""

    name = "rss2email"

    def __init__(self, home: Path, venv: Path, farm: Farm, base: str) -> None:
        self.home = home
        self.farm = farm
        self.r2e = venv / "bin" / "r2e"
        self.config = home / "rss2email.cfg"
        self.data = home / "rss2email.json"
        home.mkdir(parents=True, exist_ok=True)
        self.config.write_text(rss2email_config(farm, base), encoding="utf-8")
        self.env = child_env()

    @staticmethod
    def version_of(venv: Path) -> str:
        """Return the version of the rss2email installed in ``venv``."""
        r2e = venv / "bin" / "r2e"
        done = subprocess.run([str(r2e), "--version"], capture_output=True, text=True)
        return done.stdout.strip()

    def fresh(self) -> None:
        """Delete the feed data file."""
        self.data.unlink(missing_ok=True)

    def measure(self, scenario: str, round_: int) -> Sample:
        """Run one pass and check how many entries it has seen and kept validators for."""
        command = [str(self.r2e), "-c", str(self.config), "-d", str(self.data)]
        run = measured([*command, "run", "--no-send"], self.env, self.home)
        seen, validated = self._state()
        feeds = len(self.farm.feeds)
        want = feeds * ITEMS + (len(self.farm.changed) if scenario == "update" else 0)
        ok = run.code == 0 and seen == want and validated == feeds
        check = f"{seen} entries seen, {validated} feeds with validators, exit {run.code}"
        return Sample(self.name, scenario, round_, run.wall, run.peak_kib, ok, check, cpu=run.cpu)

    def _state(self) -> tuple[int, int]:
        """Return the entries seen and the feeds with an ETag or Last-Modified kept."""
        feeds = json.loads(self.data.read_text(encoding="utf-8"))["feeds"]
        seen = sum(len(feed.get("seen", {})) for feed in feeds)
        validated = sum(bool(feed.get("etag") or feed.get("modified")) for feed in feeds)
        return seen, validated


def install_rss2email(venv: Path) -> None:
    """Create ``venv`` with rss2email from PyPI unless it is already there."""
    if (venv / "bin" / "r2e").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "rss2email"]
    subprocess.run(pip, check=True)


def compile_poster() -> None:
    """Compile poster's modules and its dependencies to bytecode, as pip does on install (and
    did for rss2email).

    The children run with PYTHONDONTWRITEBYTECODE, so without this every poster pass would
    compile its sources afresh while rss2email loads bytecode; the dependencies are compiled
    too, should their bytecode have been cleared since they were installed.
    """
    compileall = [sys.executable, "-m", "compileall", "-qq"]
    subprocess.run([*compileall, str(PROJECT / "poster")], check=True)
    # A file a dependency ships for another Python may not compile; the rest still does.
    subprocess.run([*compileall, sysconfig.get_paths()["purelib"]], check=False)


def run_round(round_: int, tools: Sequence[Tool], farm: Farm) -> list[Sample]:
    """Run every scenario once per tool, alternating which tool goes first each round."""
    order = list(tools) if round_ % 2 == 0 else list(reversed(tools))
    farms.reset(farm)
    for tool in order:
        tool.fresh()
    samples = []
    for scenario in SCENARIOS:
        if scenario == "update":
            farms.update(farm)
        for tool in order:
            samples.append(tool.measure(scenario, round_))
            print(f"  round {round_ + 1} {scenario:<6} {_line(samples[-1])}", flush=True)
    return samples


def _line(sample: Sample) -> str:
    """Describe one sample in a progress line."""
    mark = "ok" if sample.ok else "FAILED"
    return (
        f"{sample.tool:<9} {sample.wall:7.2f} s (CPU {sample.cpu:5.2f} s) "
        f"{sample.peak_kib / 1024:6.1f} MiB  {mark}: {sample.check}"
    )
