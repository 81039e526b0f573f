"""Tell pytest-xdist which tests must share a worker, and which to start first.

The suite runs in parallel (``-n auto``, see ``pyproject.toml``). Most tests are sent to workers
a few at a time; the tests of the modules in ``SHARED_SETUP`` go to one worker together, because
each worker that ran one of them would pay the setup they share again: the Chromium that loads
the sandbox's pages, the daemon scenario, or a pass over the whole feed corpus.

The units of work in ``LONGEST_FIRST`` are sent before all others, longest first, so that no
worker starts a long one while the other is finishing the last short tests: the workers then
finish within a few seconds of each other.
"""

from __future__ import annotations

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import WorkerController

SHARED_SETUP = {
    "tests/test_corpus.py": "the corpus through parse and render",
    "tests/test_hostile_daemon.py": "the hostile daemon scenario",
    "tests/test_parse_direct.py": "the corpus through feedparser",
    "tests/test_parse_fast.py": "the corpus through feedparser",
    "tests/test_sandbox_page.py": "the sandbox page in Chromium",
    "tests/test_sandbox_samples.py": "the sandbox page in Chromium",
    "tests/test_sandbox_tabs.py": "the sandbox page in Chromium",
}
"""The unit of work of each module whose tests share a module-scoped fixture or a cached pass
(by path from the root); modules that share one pass have the same unit."""

_KILL = "tests/test_gateway_kill.py::test_a_killed_send_sends_nobody_twice_and_loses_nobody"
LONGEST_FIRST = (
    f"{_KILL}[decisiontelecom]",
    "the corpus through feedparser",
    "the hostile daemon scenario",
    "tests/test_bombs.py::test_the_bombs_are_small_and_inflate_to_a_gibibyte",
    f"{_KILL}[inteltele]",
    "the corpus through parse and render",
    f"{_KILL}[smsby]",
    "the sandbox page in Chromium",
    "tests/test_soak.py::test_every_item_is_posted_once_through_rounds_of_faults",
)
"""Units of work (of ``SHARED_SETUP``, or one test's id) that take longest, longest first: each
takes 3 to 25 s of wall time (``pytest -n 0 --durations=60``)."""


BATCH = 4
"""Tests a worker is sent in one message when its queue runs low: each message costs the
controller and the worker a wake-up, and a few short tests more on one worker hold the others up
little at the end of the run."""


class SharedSetupScheduling(LoadScopeScheduling):
    """Schedule each test alone, but the modules of one ``SHARED_SETUP`` unit together."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        self._ordered = False
        self._where: dict[WorkerController, dict[str, int]] = {}

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return SHARED_SETUP.get(module, nodeid)

    def _assign_work_unit(self, node: WorkerController) -> None:
        """Send up to ``BATCH`` tests at once; ``LONGEST_FIRST`` units go first, and alone."""
        if not self._ordered:
            self._ordered = True
            for unit in reversed(LONGEST_FIRST):
                if unit in self.workqueue:
                    self.workqueue.move_to_end(unit, last=False)
        assigned = self.assigned_work.setdefault(node, {})
        where = self._positions(node)
        indexes: list[int] = []
        while self.workqueue and len(indexes) < BATCH:
            scope = next(iter(self.workqueue))
            if indexes and scope in LONGEST_FIRST:
                break
            assigned[scope] = unit = self.workqueue.pop(scope)
            indexes += [where[nodeid] for nodeid, done in unit.items() if not done]
            if scope in LONGEST_FIRST:
                break
        node.send_runtest_some(indexes)

    def _positions(self, node: WorkerController) -> dict[str, int]:
        """Return where each test is in the worker's collection, by node id, found once."""
        if node not in self._where:
            collection = self.registered_collections[node]
            self._where[node] = {nodeid: n for n, nodeid in enumerate(collection)}
        return self._where[node]

    def mark_test_complete(
        self, node: WorkerController, item_index: int, duration: float = 0
    ) -> None:
        """Mark the test done, and drop its unit from the worker's workload once it is done.

        The base class keeps every unit a worker ever had and counts the pending tests of all of
        them after each test, which costs the controller time that grows with the square of the
        number of units; a crashed worker's pending tests are still found among the units kept.
        """
        nodeid = self.registered_collections[node][item_index]
        scope = self._split_scope(nodeid)
        unit = self.assigned_work[node][scope]
        unit[nodeid] = True
        if all(unit.values()):
            del self.assigned_work[node][scope]
        self._reschedule(node)
