"""Benchmark poster against rss2email on a farm of 1,000 feeds served by nginx, in one command.

Run as ``python bench/run.py [--rounds N] [--profile]`` (or ``make bench``). It builds the farm
under bench/out/farm, serves it with nginx, installs rss2email into bench/out/r2e-venv, runs the
cold, warm and update scenarios with both tools in alternation, measures an idle daemon, the
store (bench/ledger.py) and media probing over the feed corpus (bench/media.py), and prints a
Markdown report that it also writes to bench/out/results.md. Missed targets are marked MISSED
and still exit 0; a pass that did the wrong thing (wrong post count, failed feeds) exits 1.
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

import farm as farms
import report
import servers
from idle import idle_cpu
from scenarios import Poster, Rss2email, Sample, compile_poster, install_rss2email, run_round

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
TOKEN = "bench-sandbox-token-7f3a"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per scenario (default 3)")
    parser.add_argument("--feeds", type=int, default=farms.FEEDS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile", action="store_true", help="also profile a cold poster pass with cProfile"
    )
    return parser.parse_args(argv)


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


def _versions(r2e: Rss2email) -> str:
    """Name the versions of everything measured."""
    return (
        f"poster {poster.__version__} at {_commit()}, {r2e.version()}, "
        f"{servers.nginx_version()}, client and server on 127.0.0.1"
    )


def _extras(ledger: list[str], media: list[str], profile: str | None) -> list[str]:
    """Return the report's closing sections: the store and media benchmarks and the profile."""
    lines = ["", "Store (bench/ledger.py 500):", "", "```", *ledger, "```"]
    lines += ["", "Media probing (bench/media.py):", "", *media]
    if profile is not None:
        lines += ["", "cProfile of a cold poster pass (max_fetches = 1, so one thread does all"]
        lines += ["the work cProfile sees), top 25 by cumulative time:", "", "```"]
        lines += [profile.strip("\n"), "```"]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Build, serve, measure, report; return 1 only when a pass did the wrong thing."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    before = source_digest()
    servers.ensure_program("/usr/bin/time", "time")
    print(f"bench: building {args.feeds:,} feeds under {OUT / 'farm'}", flush=True)
    farm = farms.build(OUT / "farm", args.feeds)
    install_rss2email(OUT / "r2e-venv")
    compile_poster()
    samples: list[Sample] = []
    profile = None
    with (
        servers.nginx(farm.root, OUT / "nginx", farm.feeds[0].path) as base,
        servers.channel(TOKEN) as channel,
    ):
        print(f"bench: nginx at {base}, sandbox at {channel.api_url}", flush=True)
        mine = Poster(OUT / "poster", farm, base, channel)
        theirs = Rss2email(OUT / "r2e", OUT / "r2e-venv", farm, base)
        for round_ in range(args.rounds):
            samples += run_round(round_, [mine, theirs], farm)
        print("bench: idle daemon", flush=True)
        idle = idle_cpu(OUT / "idle", farm, base, channel)
        if args.profile:
            print("bench: profiling a cold poster pass", flush=True)
            farms.reset(farm)
            profile = mine.profile(OUT / "poster-cold.prof")
        versions = _versions(theirs)
    print("bench: store (bench/ledger.py)", flush=True)
    ledger = run_ledger(OUT / "ledger")
    print("bench: media probing (bench/media.py)", flush=True)
    media = run_media()
    context = report.Context(
        len(farm.feeds), farms.ITEMS, farm.bytes_on_disk(), len(farm.changed), args.rounds, versions
    )
    extras = _extras(ledger, media, profile)
    if source_digest() != before:
        extras += ["", "**poster/ changed during this run: the rounds measured different code.**"]
    text = report.render(samples, idle, context, extras)
    print("\n" + text)
    (OUT / "results.md").write_text(text, encoding="utf-8")
    return 1 if report.failed(samples) else 0


if __name__ == "__main__":
    sys.exit(main())
