"""Drain a lane that posts back to back, writing each next intent while the destination answers.

Each post waits for its intent to reach the disk (an fsync) and then for the destination's
answer. A lane with no ``min_gap`` and no gate sends its entries one right after another, so
here a helper thread renders the next entry and makes its intent durable while the current call
is in flight: the two waits overlap instead of adding up. The calls keep their order, each call
still follows its own durable intent, and each result is recorded after its answer. A crash
during a call can leave the next entry "pending" as well, so it reads as uncertain although it
was never sent: more to look at on the channel, never a duplicate and never a loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from poster.destinations import Message
from poster.pipeline.stages import DEFERRED, UNCERTAIN, Outcome

if TYPE_CHECKING:
    from poster.pipeline.outbox import Entry, Lane, Outbox

Intended = Message | Outcome
"""An entry whose intent is on disk (its message), or the outcome of one that failed to render."""


def back_to_back(lane: Lane) -> bool:
    """Tell whether the lane sends its entries one right after another in a drain."""
    return lane.gate is None and lane.pacer.min_gap <= 0


def drain_ahead(outbox: Outbox, lane: Lane) -> None:
    """Send what the lane holds, up to its ``max_per_pass``, each next intent written ahead."""
    entries = lane.take_all()
    with ThreadPoolExecutor(1, thread_name_prefix="poster-ahead") as helper:
        _Drain(outbox, lane, entries, helper).run()


class _Drain:
    """One drain of one lane: the entries in order, the next one's intent, why the rest wait."""

    def __init__(
        self, outbox: Outbox, lane: Lane, entries: Sequence[Entry], helper: ThreadPoolExecutor
    ) -> None:
        self.outbox = outbox
        self.lane = lane
        self.entries = entries
        self.helper = helper
        self.stop: str | None = None
        self.ahead: Future[Intended] | None = None

    def run(self) -> None:
        """Send each entry in turn; once one is held back or the lane is full, the rest wait."""
        for index, entry in enumerate(self.entries):
            intended = self._intended(entry)
            if intended is None:
                continue
            following = self.entries[index + 1] if index + 1 < len(self.entries) else None
            if following is not None and self.lane.pacer.admit():
                self.ahead = self.helper.submit(self.outbox.intend, self.lane, following)
            outcome = (
                intended
                if isinstance(intended, Outcome)
                else self.outbox.transmit(self.lane, entry, intended)
            )
            if outcome.delivery in (DEFERRED, UNCERTAIN):
                self.stop = f"held back after: {outcome.error}"
            elif following is not None and self.ahead is None:
                self.stop = self._full()
            self.outbox.done(entry, outcome)

    def _intended(self, entry: Entry) -> Intended | None:
        """Return the entry's intent, written ahead or now; None when the entry waits instead."""
        ahead, self.ahead = self.ahead, None
        intended = ahead.result() if ahead is not None else None
        if isinstance(intended, Outcome):
            return intended  # it failed to render, and is recorded so whatever the lane does next
        if self.stop is None and intended is None:
            if not self.lane.pacer.admit():
                self.stop = self._full()
            else:
                intended = self.outbox.intend(self.lane, entry)
        if self.stop is None:
            return intended
        if intended is not None:
            self.outbox.withdraw(self.lane, entry)  # written ahead, never sent: offered again
        self.outbox.wait(self.lane, entry, self.stop)
        return None

    def _full(self) -> str:
        """Say why the rest of the lane waits once it has sent its ``max_per_pass``."""
        return f"waiting for the next pass (max_per_pass={self.lane.pacer.max_per_pass})"
