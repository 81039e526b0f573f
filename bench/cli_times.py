"""Time the commands a person types against bare Python, on the farm's configuration and state.

``poster --help``, ``poster status`` and ``poster check`` run as children with the benchmark's
interpreter, in turn with ``python -c pass``, so that load on the machine hits them alike; the
report compares their medians with bare Python's from the same run. Two more rows, without a
target, time ``check`` as a person runs it after an edit: of feeds.toml, adding or removing a
feed, and of a template, on a copy of the configuration and templates. Run alone, a last row
without a target times ``status`` on the same state with a journal just short of being
compacted into the snapshot, as a daemon may leave it between compactions: the open replays it.

Run alone as ``python bench/cli_times.py [--rounds N]`` (or ``bench/run.py --only commands``):
it writes the farm's feeds.toml and, through poster's own store, the state a first pass and an
update leave (every item of every feed held back, a tenth of the feeds with one post each)
under bench/out/commands, without serving or reading any feed, and prints the table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path

import farm as farms
from scenarios import PROJECT, child_env, compile_poster, poster_config

TARGETS = {"--help": 1.5, "status": 2.5, "check": 3.0}
"""The most each command may take, as a multiple of bare ``python -c pass``."""


@dataclass(frozen=True)
class CommandTimes:
    """Wall and CPU seconds of every run of bare Python and of each command, with exit codes.

    The targets are on wall time; CPU time (user + system) is shown beside it because on a
    shared machine it varies far less with the load.
    """

    bare: tuple[float, ...]
    runs: dict[str, tuple[float, ...]]
    codes: dict[str, int]
    feeds: int
    records: int
    bare_cpu: tuple[float, ...] = ()
    cpu: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def ratio(self, name: str) -> float:
        """Return the command's median as a multiple of bare Python's median."""
        return statistics.median(self.runs[name]) / statistics.median(self.bare)

    def cpu_ratio(self, name: str) -> float:
        """Return the command's median CPU time as a multiple of bare Python's."""
        return statistics.median(self.cpu[name]) / statistics.median(self.bare_cpu)


def _run(command: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Run ``command`` and return its wall seconds, CPU seconds and exit code."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    return wall, usage.ru_utime + usage.ru_stime, child.returncode


def time_commands(
    config: Path,
    state: Path,
    env: dict[str, str],
    rounds: int,
    scale: tuple[int, int],
    journaled: Path | None = None,
) -> CommandTimes:
    """Run bare Python and each command ``rounds`` times in turn; ``scale`` is (feeds, records).

    ``journaled`` is ``state`` with a journal just short of compaction, for a row of its own.
    """
    poster = [sys.executable, "-m", "poster"]
    edited = _edited_copy(config)
    commands = {
        "bare": [sys.executable, "-c", "pass"],
        "--help": [*poster, "--help"],
        "status": [*poster, "-c", str(config), "status", "--state-dir", str(state)],
        "check": [*poster, "-c", str(config), "check"],
        ADDED: [*poster, "-c", str(edited), "check"],
        EDITED: [*poster, "-c", str(edited), "check"],
    }
    if journaled is not None:
        commands[JOURNALED] = [*poster, "-c", str(config), "status", "--state-dir", str(journaled)]
    edits = {ADDED: _add_or_remove_a_feed, EDITED: _edit_a_template}
    runs: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    codes: dict[str, int] = {}
    for _ in range(rounds):
        for name, command in commands.items():
            if name in edits:
                edits[name](edited)
            seconds, used, code = _run(command, env, config.parent)
            runs[name].append(seconds)
            cpu[name].append(used)
            codes[name] = max(codes.get(name, 0), code)
    bare, bare_cpu = tuple(runs.pop("bare")), tuple(cpu.pop("bare"))
    return CommandTimes(
        bare, {k: tuple(v) for k, v in runs.items()}, codes, *scale,
        bare_cpu, {k: tuple(v) for k, v in cpu.items()},
    )  # fmt: skip


ADDED = "check after adding or removing a feed"
EDITED = "check after editing a template"
"""The checks a person runs after an edit, shown without a target beside the one of ``check``
on what it checked before."""
JOURNALED = "status, journal just short of compaction"
"""``status`` on the state as a daemon may leave it between compactions, without a target."""

EXTRA = '\n[[feeds]]\nname = "bench-extra"\nurl = "http://127.0.0.1:9/extra.xml"\n'


def _edited_copy(config: Path) -> Path:
    """Return a copy of ``config`` beside it whose templates are a copy the bench may edit."""
    folder = config.parent / "edited"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(PROJECT / "templates", folder / "templates")
    text = config.read_text(encoding="utf-8")
    templates = f'templates = "{PROJECT / "templates"}"'
    assert templates in text, "the farm's feeds.toml names poster's templates"
    copy = folder / "feeds.toml"
    copy.write_text(text.replace(templates, f'templates = "{folder / "templates"}"'), "utf-8")
    return copy


def _add_or_remove_a_feed(config: Path) -> None:
    """Add a feed like the others to ``config``, or remove the one added before."""
    text = config.read_text(encoding="utf-8")
    changed = text.removesuffix(EXTRA) if text.endswith(EXTRA) else text + EXTRA
    config.write_text(changed, encoding="utf-8")


def _edit_a_template(config: Path) -> None:
    """Change the wording of the text template beside ``config``, back and forth."""
    template = config.parent / "templates" / "text.j2"
    text = template.read_text(encoding="utf-8")
    note = "{# edited #}"
    template.write_text(text.removeprefix(note) if text.startswith(note) else note + text, "utf-8")


def ok(times: CommandTimes) -> bool:
    """Tell whether every command did its job: help and check exit 0, each status 0 or 1."""
    checks = (times.codes[name] for name in ("check", ADDED, EDITED) if name in times.codes)
    statuses = (times.codes[name] for name in ("status", JOURNALED) if name in times.codes)
    return times.codes["--help"] == 0 and all(code <= 1 for code in statuses) and not any(checks)


def lines(times: CommandTimes) -> list[str]:
    """Return the Markdown table of the commands' medians and ratios with their verdicts."""
    bare = statistics.median(times.bare)
    rows = [
        f"Commands on a {times.feeds:,}-feed feeds.toml and a state of {times.records:,} "
        f"records, medians of {len(times.bare)} runs each, in turn with bare Python:",
        "",
        "| command | median ms | runs ms | × bare Python | target | CPU ms | CPU × bare | exit |",
        "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: |",
        f"| python -c pass | {bare * 1000:.0f} | {_spread(times.bare)} | 1.00× | – | "
        f"{statistics.median(times.bare_cpu) * 1000:.0f} | 1.00× | 0 |",
    ]
    for name in times.runs:
        target = TARGETS.get(name)
        ratio = times.ratio(name)
        verdict = (
            "–"
            if target is None
            else f"≤ {target:g}×: " + ("met" if ratio <= target else "not met")
        )
        median = statistics.median(times.runs[name]) * 1000
        cpu = statistics.median(times.cpu[name]) * 1000
        rows.append(
            f"| poster {name} | {median:.0f} | {_spread(times.runs[name])} | {ratio:.2f}× | "
            f"{verdict} | {cpu:.0f} | {times.cpu_ratio(name):.2f}× | {times.codes[name]} |"
        )
    return rows


def _spread(seconds: Sequence[float]) -> str:
    """Return the fastest and slowest run in milliseconds."""
    return f"{min(seconds) * 1000:.0f}–{max(seconds) * 1000:.0f}"


def write_state(config: Path, state: Path, farm: farms.Farm) -> int:
    """Record through poster's store what a first pass and an update leave; return the records.

    Every feed's items are held back by its first read, with validators, and each changed feed
    has its new item sent to the first destination, as after the passes' update scenario.
    """
    from datetime import UTC, datetime

    from poster.config import load_config
    from poster.destinations import Receipt
    from poster.models import Validators
    from poster.store import Store

    destination = load_config(config).destinations[0].name
    now = datetime.now(UTC)
    shutil.rmtree(state, ignore_errors=True)
    with Store(state) as store:
        for spec in farm.feeds:
            store.mark_seen(spec.name, [_guid(spec, n) for n in range(farms.ITEMS)])
            etag = f'"{spec.index:08x}-{farms.SEED:x}"'
            store.save_validators(spec.name, Validators(etag, format_datetime(now, usegmt=True)))
        for spec in farm.changed:
            key = _guid(spec, farms.ITEMS)
            store.record_pending(spec.name, key, destination)
            store.record_sent(spec.name, key, Receipt(destination, f"{spec.index}", now))
        store.record_fetches_ok((spec.name for spec in farm.feeds), now)
        store.compact()
    return len(farm.feeds) * farms.ITEMS + len(farm.changed)


def write_journal(state: Path, into: Path, farm: farms.Farm) -> int:
    """Copy ``state`` to ``into`` and journal reads of changed feeds until just short of a
    compaction: each feed's new validators, as a daemon records them; return the journal's size.
    """
    from poster.models import Validators
    from poster.store import Store
    from poster.store.journal import JournalStorage

    shutil.rmtree(into, ignore_errors=True)
    shutil.copytree(state, into)
    snapshot, journal = into / "poster.json", into / "poster.journal"
    threshold = JournalStorage.compact_threshold(snapshot.stat().st_size)
    room = 4096  # more than one line takes: the last one stays under the threshold
    # A daemon still running has not closed the state, which would compact what it wrote.
    leave = JournalStorage.leave_compacted_bytes
    JournalStorage.leave_compacted_bytes = threshold + 1
    try:
        with Store(into) as store:
            for turn in range(1, 1 << 20):
                for spec in farm.feeds:
                    if journal.stat().st_size + room > threshold:
                        return journal.stat().st_size
                    etag = f'"{spec.index:08x}-{turn:x}"'
                    store.save_validators(spec.name, Validators(etag, f"turn {turn}"))
    finally:
        JournalStorage.leave_compacted_bytes = leave
    raise AssertionError("the journal never grew to its threshold")


def _guid(spec: farms.FeedSpec, n: int) -> str:
    """Return the key poster gives item ``n`` of ``spec``: the farm's guid or Atom id."""
    return f"urn:bench:{spec.name}:item-{n:03d}"


def run_alone(home: Path, rounds: int, feeds: int = farms.FEEDS) -> CommandTimes:
    """Write the configuration and state under ``home``, then time the commands on them."""
    farm = farms.plan(home / "farm", feeds)
    config = home / "feeds.toml"
    home.mkdir(parents=True, exist_ok=True)
    # Nothing is read or posted: the addresses only have to be well formed.
    config.write_text(
        poster_config(farm, farm.feeds, "http://127.0.0.1:9", "http://127.0.0.1:9/pa"),
        encoding="utf-8",
    )
    records = write_state(config, home / "state", farm)
    write_journal(home / "state", home / "state-journaled", farm)
    compile_poster()
    env = child_env(POSTER_VIBER_TOKEN="bench-commands-token")
    scale = (feeds, records)
    return time_commands(config, home / "state", env, rounds, scale, home / "state-journaled")


def main(argv: list[str] | None = None) -> int:
    """Time the commands on a fresh configuration and state; exit 1 when a command failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="runs of each command (default 7)")
    parser.add_argument("--feeds", type=int, default=farms.FEEDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        import poster  # noqa: F401
    except ModuleNotFoundError:
        raise SystemExit("bench: run with the project's interpreter: .venv/bin/python") from None
    times = run_alone(Path(__file__).resolve().parent / "out" / "commands", args.rounds, args.feeds)
    print("\n".join(lines(times)))
    return 0 if ok(times) else 1


if __name__ == "__main__":
    sys.exit(main())
