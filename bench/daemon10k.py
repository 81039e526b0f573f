"""Run the daemon on 10,000 feeds for half an hour while the farm changes a few feeds a minute.

``python bench/run.py --only daemon10k [--daemon-minutes M]`` builds a farm of small feeds (RSS,
Atom and RDF in three encodings), serves it with nginx logging every request, and runs
``poster run`` with an interval of a few minutes and jitter. Every few seconds one seeded feed
gains an item. It samples the daemon's resident memory and CPU time, notes when each new item
reaches the sandbox channel, and reads nginx's log afterwards to check each feed's polls: one per
interval (plus jitter and some lateness), none missed, none run twice.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import farm as farms
import servers
from idle import cpu_seconds, resident_kib
from scenarios import child_env, poster_config
from servers import Channel

FEEDS = 10_000
INTERVAL = 300.0
JITTER = 30.0
LATENESS = 30.0
"""How late a poll may run after its scheduled time before it counts as missed."""
CHANGES_PER_MINUTE = 6
SAMPLE_EVERY = 10.0
RSS_MIB = 150.0
GROWTH = 0.05
START_TIMEOUT = 600.0


@dataclass
class Watch:
    """What the bench saw while the daemon ran."""

    started: float = 0.0
    rss: list[tuple[float, int]] = field(default_factory=list)
    cpu: list[tuple[float, float]] = field(default_factory=list)
    changed: dict[str, float] = field(default_factory=dict)
    """The link of each new item and when its feed was rewritten."""
    posted: dict[str, float] = field(default_factory=dict)
    """The link of each new item and when the channel got it."""


@dataclass(frozen=True)
class Daemon10k:
    """The figures of the run and what its checks found."""

    feeds: int
    minutes: float
    polls: int
    polls_after_warmup: int
    cpu_ms_per_poll: float
    rss_peak_mib: float
    rss_warm_mib: float
    rss_end_mib: float
    missed: int
    twice: int
    late_items: int
    unposted: int
    item_latency: tuple[float, ...]
    misfires: int
    code: int | None

    @property
    def growth(self) -> float:
        """Return how much the resident memory grew after warm-up, as a fraction."""
        return self.rss_end_mib / self.rss_warm_mib - 1


def run_daemon10k(out: Path, channel: Channel, minutes: float, feeds: int = FEEDS) -> Daemon10k:
    """Build the farm, serve it, run the daemon for ``minutes`` and return what it did."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    print(f"bench: daemon10k: building {feeds:,} small feeds", flush=True)
    farm = farms.build(out / "farm", feeds, "small")
    access = out / "access.log"
    with servers.nginx(farm.root, out / "nginx", farm.feeds[0].path, access) as base:
        config = out / "feeds.toml"
        text = poster_config(farm, farm.feeds, base, channel.api_url, "max_fetches = 8\n")
        text = text.replace('interval = "1h"\njitter = "0s"', _schedule())
        config.write_text(text, encoding="utf-8")
        watch = Watch()
        code, misfires = _run(out, config, farm, channel, minutes * 60, watch)
    return _verdicts(feeds, minutes, access, watch, code, misfires)


def _schedule() -> str:
    """Return the [defaults] lines of the daemon's schedule."""
    return f'interval = "{INTERVAL:.0f}s"\njitter = "{JITTER:.0f}s"'


def _run(
    out: Path, config: Path, farm: farms.Farm, channel: Channel, seconds: float, watch: Watch
) -> tuple[int | None, int]:
    """Run the daemon for ``seconds``, changing feeds and sampling; return exit and misfires."""
    log = out / "daemon.log"
    command = [sys.executable, "-m", "poster", "-c", str(config), "run"]
    with log.open("wb") as sink:
        watch.started = time.time()
        process = subprocess.Popen(
            [*command, "--state-dir", str(out / "state")],
            env=child_env(POSTER_VIBER_TOKEN=channel.token),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            _drive(process, farm, channel, seconds, watch)
        finally:
            code = _stop(process)
    text = log.read_text(encoding="utf-8", errors="replace")
    return code, text.count("was missed by")


def _drive(
    process: subprocess.Popen[bytes],
    farm: farms.Farm,
    channel: Channel,
    seconds: float,
    watch: Watch,
) -> None:
    """Change feeds on a seeded schedule, sample the daemon and note posts until time is up."""
    rng = random.Random(f"{farms.SEED}:daemon10k")
    extra: dict[int, int] = defaultdict(int)
    gap = 60.0 / CHANGES_PER_MINUTE
    next_change = watch.started + INTERVAL  # once the first reads are done
    next_sample = watch.started
    seen = len(channel.sandbox.posts)
    deadline = watch.started + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: daemon10k: the daemon exited with {process.returncode}")
        now = time.time()
        if now >= next_sample:
            watch.rss.append((now, resident_kib(process.pid)))
            watch.cpu.append((now, cpu_seconds(process.pid)))
            next_sample += SAMPLE_EVERY
        if now >= next_change and now < deadline - INTERVAL - JITTER - LATENESS:
            spec = rng.choice(farm.feeds)
            extra[spec.index] += 1
            farms.write_feed(farm.root, spec, extra=extra[spec.index])
            watch.changed[farms.item_link(spec, farms.ITEMS + extra[spec.index] - 1)] = now
            next_change += gap
        posts = channel.sandbox.posts
        for post in posts[seen:]:
            text = json.dumps(post)
            for link in watch.changed.keys() - watch.posted.keys():
                if link in text:
                    watch.posted[link] = now
        seen = len(posts)
        time.sleep(0.5)


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    """Stop the daemon with SIGTERM and return its exit code, killing it if it hangs."""
    process.terminate()
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def _requests(access: Path, since: float) -> dict[str, list[float]]:
    """Return each feed path's request times from nginx's log, from ``since`` on."""
    times: dict[str, list[float]] = defaultdict(list)
    for line in access.read_text(encoding="utf-8").splitlines():
        stamp, path, _status = line.split(" ", 2)
        if float(stamp) >= since:  # not the bench's probe before the daemon started
            times[path].append(float(stamp))
    return times


def _poll_faults(times: list[float], end: float) -> tuple[int, int]:
    """Count a feed's missed polls and polls run twice, from the gaps between its requests."""
    missed = twice = 0
    for number, (before, after) in enumerate(itertools.pairwise(times)):
        gap = after - before
        # The first read waits behind every other first read, so its gap may be short.
        if number > 0 and gap < INTERVAL - LATENESS:
            twice += 1
        if gap > INTERVAL + JITTER + LATENESS:
            missed += round(gap / (INTERVAL + JITTER / 2)) - 1 or 1
    if end - times[-1] > INTERVAL + JITTER + LATENESS:
        missed += 1
    return missed, twice


def _verdicts(
    feeds: int, minutes: float, access: Path, watch: Watch, code: int | None, misfires: int
) -> Daemon10k:
    """Turn the log and the samples into the run's figures and checks."""
    requests = _requests(access, since=watch.started)
    end = watch.cpu[-1][0]
    missed = twice = 0
    for spec_times in requests.values():
        a, b = _poll_faults(spec_times, end)
        missed, twice = missed + a, twice + b
    missed += feeds - len(requests)
    warm = watch.started + 2 * INTERVAL
    polls = sum(len(t) for t in requests.values())
    after = sum(1 for t in requests.values() for stamp in t if stamp >= warm)
    cpu_after = watch.cpu[-1][1] - _at(watch.cpu, warm)
    rss_warm = max(kib for stamp, kib in watch.rss if warm <= stamp < warm + INTERVAL)
    rss_end = max(kib for stamp, kib in watch.rss if stamp >= end - INTERVAL)
    latency = tuple(watch.posted[link] - watch.changed[link] for link in watch.posted)
    bound = INTERVAL + JITTER + LATENESS
    return Daemon10k(
        feeds=feeds,
        minutes=minutes,
        polls=polls,
        polls_after_warmup=after,
        cpu_ms_per_poll=cpu_after * 1000 / max(after, 1),
        rss_peak_mib=max(kib for _stamp, kib in watch.rss) / 1024,
        rss_warm_mib=rss_warm / 1024,
        rss_end_mib=rss_end / 1024,
        missed=missed,
        twice=twice,
        late_items=sum(seconds > bound for seconds in latency),
        unposted=len(watch.changed) - len(watch.posted),
        item_latency=latency,
        misfires=misfires,
        code=code,
    )


def _at(samples: list[tuple[float, float]], moment: float) -> float:
    """Return the first sampled value at or after ``moment``."""
    return next(value for stamp, value in samples if stamp >= moment)


def ok(result: Daemon10k) -> bool:
    """Tell whether the daemon did the right thing: every poll, no double, every item posted."""
    return (
        result.code == 0
        and result.missed == 0
        and result.twice == 0
        and result.unposted == 0
        and result.misfires == 0
    )


def lines(result: Daemon10k) -> list[str]:
    """Return the report's lines: each target with its figure and verdict."""
    r = result
    latency = sorted(r.item_latency) or [0.0]
    bound = INTERVAL + JITTER + LATENESS
    return [
        f"Daemon of {r.feeds:,} small feeds for {r.minutes:g} min (interval {INTERVAL:.0f} s, "
        f"jitter {JITTER:.0f} s, {CHANGES_PER_MINUTE} feed changes a minute after the first "
        f"interval, warm-up = the first two intervals):",
        "",
        f"- resident memory: peak {r.rss_peak_mib:.0f} MiB (target < {RSS_MIB:g}): "
        + _verdict(r.rss_peak_mib < RSS_MIB),
        f"- after warm-up: {r.rss_warm_mib:.1f} MiB at its start, {r.rss_end_mib:.1f} MiB in the "
        f"last interval, growth {r.growth * 100:+.1f} % (target < {GROWTH * 100:g} %): "
        + _verdict(r.growth < GROWTH),
        f"- polls: {r.polls:,} in all, {r.polls_after_warmup:,} after warm-up at "
        f"{r.cpu_ms_per_poll:.2f} ms of CPU each",
        f"- scheduled polls missed: {r.missed}, run twice: {r.twice}, scheduler misfires: "
        f"{r.misfires} (target 0): " + _verdict(r.missed == r.twice == r.misfires == 0),
        f"- new items: {len(r.item_latency) + r.unposted}, posted {len(r.item_latency)}, "
        f"median {statistics.median(latency):.0f} s and at most {latency[-1]:.0f} s after the "
        f"change; later than {bound:.0f} s: {r.late_items}, never posted: {r.unposted} "
        "(target 0): " + _verdict(r.late_items == r.unposted == 0),
        f"- daemon exit code {r.code}",
    ]


def _verdict(met: bool) -> str:
    """Return the mark shown next to a target."""
    return "met" if met else "not met"
