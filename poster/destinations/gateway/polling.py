"""Run a gateway's status poll, look-up by look-up, until the gateway, not one message, fails.

A look-up the gateway refuses for its reference (one it does not know, or no longer keeps) is
refused however often it is asked: its messages are unknown, and the poll goes on with the
others. When the gateway asks to wait, ``PollPause`` says whether the poll stops there, the
references left asked at the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from http import HTTPStatus
from typing import TypeVar

from poster.errors import DeliveryError, MessageRejected, RetryLater
from poster.logs import kv
from poster.store.recipientledger import StatusUpdate
from poster.store.recipientstate import UNKNOWN

log = logging.getLogger(__name__)

Ref = TypeVar("Ref")
Answer = TypeVar("Answer")

PAUSE_AFTER = 3
"""Server errors for this many look-ups in a row pause a poll: the gateway itself is failing."""


class PollPause:
    """Count the look-ups of one poll that the gateway asked to wait for, in a row.

    A rate limit or no answer at all stops the poll at once. A server error for one look-up
    alone does not, so that one message the gateway cannot answer for, polled first as the
    oldest, never holds up the newer ones.
    """

    def __init__(self) -> None:
        self.in_a_row = 0

    def answered(self) -> None:
        """Note a look-up the gateway answered."""
        self.in_a_row = 0

    def stops(self, error: RetryLater) -> bool:
        """Note a look-up the gateway asked to wait for; tell whether the poll stops there."""
        self.in_a_row += 1
        waits = error.status in (None, HTTPStatus.TOO_MANY_REQUESTS)
        return waits or self.in_a_row >= PAUSE_AFTER


class Turns:
    """Choose the message ids each poll asks about, so that none waits for ever.

    Ids never asked come first, the oldest first, then those asked longest ago: messages whose
    status stays open for hours (a phone switched off) never hold up the newer ones, however
    many there are. What a poll did not choose is remembered only while it is still waiting.
    """

    def __init__(self) -> None:
        self._polls = 0
        self._asked: dict[str, int] = {}
        """The poll that last chose each id, by its number."""
        self._before: dict[str, int] = {}
        """What ``_asked`` held for the ids the last poll chose, before it chose them."""

    def choose(self, waiting: Sequence[str], limit: int) -> list[str]:
        """Return at most ``limit`` of ``waiting`` (oldest first) for this poll to ask about."""
        self._polls += 1
        last = {message_id: self._asked.get(message_id, 0) for message_id in waiting}
        chosen = sorted(waiting, key=last.__getitem__)[:limit]  # stable: oldest first in a tie
        self._asked = {message_id: at for message_id, at in last.items() if at}
        self._before = {message_id: self._asked.get(message_id, 0) for message_id in chosen}
        self._asked.update(dict.fromkeys(chosen, self._polls))
        return chosen

    def failed(self) -> None:
        """Note that the last poll failed at its first look-up: only its first id counts as
        asked, so that one the gateway fails on goes last, not first again."""
        for message_id, at in list(self._before.items())[1:]:
            if at:
                self._asked[message_id] = at
            else:
                self._asked.pop(message_id, None)


def poll(
    refs: Iterable[Ref], look_up: Callable[[Ref], Answer], destination: str
) -> Iterator[tuple[Ref, Answer | MessageRejected]]:
    """Yield each reference with its answer, or with the refusal that makes its messages unknown.

    References are looked up in the order given; the poll ends where ``PollPause`` stops it. An
    error that stops the destination (a refused key, a page not found) is raised when the first
    look-up meets it; met later, by a look-up about one message, it ends the poll there, and
    the answers before it are kept.
    """
    pause = PollPause()
    answered = False
    for ref in refs:
        try:
            answer: Answer | MessageRejected = look_up(ref)
        except RetryLater as exc:
            if pause.stops(exc):
                log.info(kv(event="status-poll-paused", destination=destination, why=exc))
                return
            continue
        except MessageRejected as exc:
            answer = exc
        except DeliveryError as exc:
            if not answered:
                raise
            log.warning(kv(event="status-poll-stopped", destination=destination, why=exc))
            return
        pause.answered()
        answered = True
        yield ref, answer


def unknown(message_id: str, refusal: MessageRejected) -> StatusUpdate:
    """Return the update of a message whose status the gateway refuses to tell, with its words."""
    return StatusUpdate(message_id, UNKNOWN, refusal.status_message or str(refusal))
