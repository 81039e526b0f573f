"""Benchmark poster against rss2email on farms of 1,000 feeds served by nginx, in one command.

Run as ``python bench/run.py [--rounds N] [--only GROUP]... [--profile] [--poster-only]`` (or
``make bench``); ``--poster-only`` measures poster's passes without rss2email's, e.g.
``--only small --poster-only`` for the small farm's cold, warm and update passes in a minute.
The groups, all by default:

- ``passes``: the full farm (a few KB of HTML per item) under bench/out/farm, served by nginx;
  rss2email from bench/out/r2e-venv; the cold, warm and update scenarios with both tools in
  alternation; then ``--help``, ``status`` and ``check`` on its configuration and state against
  bare Python, and an idle daemon;
- ``small``: the same three scenarios on a farm of small feeds (RSS, Atom and RDF, three
  encodings, one sentence per item);
- ``parse``: poster's parse per item and format against expat and ElementTree alone;
- ``ledger``: the store (bench/ledger.py);
- ``media``: media probing over the feed corpus (bench/media.py);
- ``daemon10k``: the daemon on 10,000 feeds for ``--daemon-minutes`` (default 30);
- ``commands``: only ``--help``, ``status`` and ``check`` against bare Python, on the farm's
  feeds.toml and a state written directly (bench/cli_times.py), in about a minute; not part of
  the default run, whose ``passes`` time them on the state its passes left.

It prints a Markdown report that it also writes to bench/out/results.md. Targets not met are
marked so and still exit 0; a pass or daemon that did the wrong thing (wrong post count, failed
feeds, a missed poll) exits 1.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

try:
    import poster
except ModuleNotFoundError:
    # The bench drives poster in-process (the sandbox) and as children: use the project's venv.
    _venv_python = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
    if not _venv_python.exists():
        raise SystemExit("bench: run `make bench`, or create .venv first (make test)") from None
    os.execv(_venv_python, [str(_venv_python), __file__, *sys.argv[1:]])

import cli_times as command_times
import daemon10k
import farm as farms
import parse_floor
import report
import servers
from idle import idle_cpu
from scenarios import (
    Poster,
    Rss2email,
    Sample,
    Tool,
    compile_poster,
    install_rss2email,
    run_round,
)

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
TOKEN = "bench-sandbox-token-7f3a"
GROUPS = ("passes", "small", "parse", "ledger", "media", "daemon10k", "commands")
DEFAULT_GROUPS = GROUPS[:-1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per scenario (default 3)")
    parser.add_argument("--feeds", type=int, default=farms.FEEDS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--only", action="append", choices=GROUPS, metavar="GROUP",
        help=f"run only this group (repeatable): {', '.join(GROUPS)}",
    )  # fmt: skip
    parser.add_argument(
        "--daemon-minutes", type=float, default=30.0, metavar="M",
        help="how long the 10,000-feed daemon runs (default 30)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true",
        help="also profile a cold and an update poster pass of each farm with cProfile",
    )  # fmt: skip
    parser.add_argument(
        "--poster-only", action="store_true",
        help="run the passes of poster alone, without rss2email (no ratios)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.only = tuple(args.only or DEFAULT_GROUPS)
    return args


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit so nginx and the sandbox are stopped on the way out."""
    raise SystemExit(143)


def run_ledger(home: Path) -> list[str]:
    """Run bench/ledger.py with its default post count and return its lines."""
    shutil.rmtree(home, ignore_errors=True)
    command = [sys.executable, str(BENCH / "ledger.py"), "500", str(home)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.rstrip("\n").splitlines() + done.stderr.rstrip("\n").splitlines()
    return [*lines, f"(exit {done.returncode})"]


def run_media() -> list[str]:
    """Run bench/media.py and return its lines."""
    command = [sys.executable, str(BENCH / "media.py")]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.rstrip("\n").splitlines() + done.stderr.rstrip("\n").splitlines()
    return lines if done.returncode == 0 else [*lines, f"(exit {done.returncode})"]


def source_digest() -> str:
    """Return a digest of poster's source files, to notice code that changes during a run."""
    digest = hashlib.sha256()
    for path in sorted((BENCH.parent / "poster").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _commit() -> str:
    """Return the commit measured, marked when poster/ has changes not yet committed."""
    git = ["git", "-C", str(BENCH.parent)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "poster"], capture_output=True, text=True
    )
    mark = " + uncommitted changes in poster/" if dirty.stdout.strip() else ""
    return (head.stdout.strip() or "unknown commit") + mark


def _versions() -> str:
    """Name the versions of everything measured."""
    venv = OUT / "r2e-venv"
    r2e = Rss2email.version_of(venv) if venv.exists() else "rss2email not run"
    return (
        f"poster {poster.__version__} at {_commit()}, {r2e}, "
        f"{servers.nginx_version()}, client and server on 127.0.0.1"
    )


def _load() -> str:
    """Return the 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])


def _profile_lines(scenario: str, profile: str) -> list[str]:
    """Return one profile's section."""
    lines = ["", f"cProfile of a{'n' if scenario == 'update' else ''} {scenario} poster pass"]
    lines += ["(max_fetches = 1, so one thread does all the work cProfile sees),"]
    lines += ["top 25 by cumulative time:", "", "```"]
    return [*lines, profile.strip("\n"), "```", ""]


def _profiles(mine: Poster) -> list[str]:
    """Profile a cold and an update pass of ``mine``'s farm; return their sections."""
    lines = []
    for scenario in ("cold", "update"):
        print(f"bench: profiling a {scenario} poster pass", flush=True)
        output = OUT / f"{mine.home.name}-{scenario}.prof"
        lines += _profile_lines(scenario, mine.profile(output, scenario))
    return lines


def run_passes(
    style: str, args: argparse.Namespace, channel: servers.Channel
) -> tuple[list[Sample], list[str]]:
    """Run one farm's scenarios, and on the full farm the commands and idle daemon too."""
    root = OUT / ("farm" if style == "full" else f"farm-{style}")
    print(f"bench: building {args.feeds:,} {style} feeds under {root}", flush=True)
    farm = farms.build(root, args.feeds, style)
    if not args.poster_only:
        install_rss2email(OUT / "r2e-venv")
    samples: list[Sample] = []
    lines: list[str] = []
    with servers.nginx(farm.root, OUT / f"nginx-{style}", farm.feeds[0].path) as base:
        print(f"bench: nginx at {base}, sandbox at {channel.api_url}", flush=True)
        suffix = "" if style == "full" else f"-{style}"
        mine = Poster(OUT / f"poster{suffix}", farm, base, channel)
        tools: list[Tool] = [mine]
        if not args.poster_only:
            tools.append(Rss2email(OUT / f"r2e{suffix}", OUT / "r2e-venv", farm, base))
        for round_ in range(args.rounds):
            samples += run_round(round_, tools, farm)
        context = report.Context(
            style, len(farm.feeds), farms.ITEMS, farm.bytes_on_disk(), len(farm.changed),
            args.rounds,
        )  # fmt: skip
        lines += report.passes(samples, context) if samples else []
        if style == "full":
            lines += _commands_and_idle(mine, farm, base, channel, args)
        if args.profile:
            lines += _profiles(mine)
    return samples, lines


def _commands_and_idle(
    mine: Poster, farm: farms.Farm, base: str, channel: servers.Channel, args: argparse.Namespace
) -> list[str]:
    """Time the commands on the state the passes left, then run the idle daemon."""
    print("bench: commands", flush=True)
    if args.rounds == 0:
        mine.fresh()
        mine.measure("cold", 0)  # the commands need a state to read
    records = len(farm.feeds) * farms.ITEMS + (len(farm.changed) if args.rounds else 0)
    rounds = max(7, 3 * args.rounds)
    times = command_times.time_commands(
        mine.config, mine.state, mine.env, rounds, (len(farm.feeds), records)
    )
    lines = [*command_times.lines(times), ""]
    if not command_times.ok(times):
        lines.append("**a command failed: see the exit codes above**")
    print("bench: idle daemon", flush=True)
    return [*lines, report.idle_line(idle_cpu(OUT / "idle", farm, base, channel)), ""]


def main(argv: list[str] | None = None) -> int:
    """Build, serve, measure, report; return 1 only when something did the wrong thing."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    before, load = source_digest(), _load()
    servers.ensure_program("/usr/bin/time", "time")
    compile_poster()
    samples: list[Sample] = []
    body: list[str] = []
    wrong = False
    with servers.channel(TOKEN) as channel:
        for group, style in (("passes", "full"), ("small", "small")):
            if group in args.only:
                found, lines = run_passes(style, args, channel)
                samples += found
                body += lines
        if "daemon10k" in args.only:
            result = daemon10k.run_daemon10k(OUT / "daemon10k", channel, args.daemon_minutes)
            body += [*daemon10k.lines(result), ""]
            wrong = not daemon10k.ok(result)
    if "commands" in args.only:
        print("bench: commands on a written state (bench/cli_times.py)", flush=True)
        times = command_times.run_alone(OUT / "commands", max(7, 3 * args.rounds), args.feeds)
        body += [*command_times.lines(times), ""]
        wrong = wrong or not command_times.ok(times)
    if "parse" in args.only:
        print("bench: parse against the floor", flush=True)
        body += ["Parse, best of 30 per document:", ""]
        body += [*parse_floor.lines(parse_floor.measure(30)), ""]
    if "ledger" in args.only:
        print("bench: store (bench/ledger.py)", flush=True)
        body += ["Store (bench/ledger.py 500):", "", "```", *run_ledger(OUT / "ledger"), "```"]
    if "media" in args.only:
        print("bench: media probing (bench/media.py)", flush=True)
        body += ["", "Media probing (bench/media.py):", "", *run_media()]
    if source_digest() != before:
        body += ["", "**poster/ changed during this run: the rounds measured different code.**"]
    text = "\n".join([*report.head(_versions(), f"{load}; {_load()}"), *body]) + "\n"
    print("\n" + text)
    (OUT / "results.md").write_text(text, encoding="utf-8")
    return 1 if wrong or report.failed(samples) else 0


if __name__ == "__main__":
    sys.exit(main())
