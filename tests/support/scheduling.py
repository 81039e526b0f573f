"""Tell pytest-xdist which tests must share a worker: those of a module with a costly shared setup.

The suite runs in parallel (``-n auto``, see ``pyproject.toml``). Most tests are sent to workers
one by one; the tests of the modules in ``SHARED_SETUP`` go to one worker together, because each
worker that ran one of them would pay the module's setup again: a Chromium page load, the daemon
scenario, or a pass over the whole feed corpus.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

SHARED_SETUP = frozenset(
    {
        "tests/test_corpus.py",
        "tests/test_hostile_daemon.py",
        "tests/test_parse_fast.py",
        "tests/test_sandbox_page.py",
        "tests/test_sandbox_samples.py",
        "tests/test_sandbox_tabs.py",
    }
)
"""Modules whose tests read one module-scoped fixture or one cached pass (by path from the root)."""


class SharedSetupScheduling(LoadScopeScheduling):
    """Schedule each test alone, but each module of ``SHARED_SETUP`` as one unit of work."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return module if module in SHARED_SETUP else nodeid
