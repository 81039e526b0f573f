"""Measure a daemon reading every hostile feed at once: its peak memory and how long it takes.

Run as ``python bench/hostile.py [rounds]``. Each round runs the scenario of
``tests/test_hostile_daemon.py`` (``tests/support/hostile.py``): compression bombs, a slow drip,
a 50 MB body, entity and nesting bombs, an XXE attempt, a redirect into the local network, broken
UTF-8, a 10 MB title and a template bomb, read four at a time beside three good feeds by one
``poster run`` process; it prints the process's peak RSS (VmHWM), the seconds until every feed
was tried and every post landed and the seconds SIGTERM took, and names each hostile feed that
did not end in its own error.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(TESTS)]

from support.hostile import Scenario  # noqa: E402


def main(rounds: int) -> None:
    """Run the scenario ``rounds`` times and print one line per round, then the worst."""
    peaks = []
    for number in range(1, rounds + 1):
        with tempfile.TemporaryDirectory() as folder, Scenario(Path(folder)) as scenario:
            outcome = scenario.run()
        peaks.append(outcome.peak_kib)
        print(
            f"round {number}: peak RSS {outcome.peak_kib / 1024:.0f} MiB, "
            f"settled in {outcome.settled_after:.1f} s, stopped in {outcome.stopped_after:.2f} s, "
            f"exit {outcome.exit_code}, {len(outcome.posts)} posts"
        )
        for name, error in outcome.unexpected().items():
            print(f"  {name} did not fail as expected: {error}")
    print(f"highest peak RSS over {rounds} rounds: {max(peaks) / 1024:.0f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
