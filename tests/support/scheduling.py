"""Tell pytest-xdist which tests must share a worker, and which to start first.

The suite runs in parallel (``-n auto``, see ``pyproject.toml``). Most tests are sent to workers
one by one; the tests of the modules in ``SHARED_SETUP`` go to one worker together, because each
worker that ran one of them would pay the setup they share again: the Chromium that loads the
sandbox's pages, the daemon scenario, or a pass over the whole feed corpus.

The units of work in ``LONGEST_FIRST`` are sent before all others, longest first, so that no
worker starts a long one while the other is finishing the last short tests: the workers then
finish within a few seconds of each other.
"""

from __future__ import annotations

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


class SharedSetupScheduling(LoadScopeScheduling):
    """Schedule each test alone, but the modules of one ``SHARED_SETUP`` unit together."""

    _ordered = False

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return SHARED_SETUP.get(module, nodeid)

    def _assign_work_unit(self, node: WorkerController) -> None:
        """Hand out the units of ``LONGEST_FIRST`` before the others, in that order."""
        if not self._ordered:
            self._ordered = True
            for unit in reversed(LONGEST_FIRST):
                if unit in self.workqueue:
                    self.workqueue.move_to_end(unit, last=False)
        super()._assign_work_unit(node)
