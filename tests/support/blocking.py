"""Run a call that must not block, failing the test instead of hanging it when it does."""

from __future__ import annotations

import threading
from collections.abc import Callable


def finished(call: Callable[[], object], seconds: float = 5.0) -> object:
    """Run ``call`` on a thread; return what it returned or raised, failing if it blocked."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the test to look at
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, "the call blocked"
    return outcome[0]
