"""Send one item to a list of recipients through a gateway adapter, batch by batch.

Recipients go in groups of up to ``GROUP``: a group is recorded in the destination's recipient
ledger before its requests (``record_intent``) and their answers after them in one write
(``record_result``, leaving the recipients whose answer was lost uncertain), so a crash or a
lost answer leaves evidence instead of a second copy, at two fsyncs a group.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from poster.destinations import Kind, Message, Moves, Opening, Receipt, RecipientResult
from poster.destinations.gateway import (
    Adapter,
    BatchOutcome,
    GatewayMessage,
    GatewaySettings,
    StoppedPartway,
    recipients_key,
)
from poster.destinations.gateway.accesskey import gateway_token
from poster.destinations.gateway.daily import DayCounter
from poster.destinations.gateway.polling import Turns
from poster.destinations.gateway.subscribers import GatewaySubscribers, summarise
from poster.errors import (
    ConfigError,
    DeliveryError,
    DeliveryUncertain,
    DestinationFatal,
    MessageRejected,
    PosterError,
    RetryLater,
)
from poster.models import State
from poster.recipients import Recipients
from poster.recipients.daycap import DailyCap
from poster.recipients.listfile import RecipientsFile
from poster.store.recipientledger import RecipientLedger, StatusUpdate, ledger_path

log = logging.getLogger(__name__)
POLL_MAX = 500
"""Message ids asked about in one poll, so a poll stays short whatever the backlog."""
POLL_SPAN = 20_000
"""Message ids, the oldest, that polls take turns over (``Turns``)."""
GROUP = 250
"""Recipients one ledger intent covers: their requests go out together and their answers are
recorded in one write, so two fsyncs serve a group however many requests it takes. A crash
leaves at most one group uncertain."""
RESULTS_MAX = 100
"""Recipients named one by one in a receipt; past this, the rest are only counted."""
EARLY_MAX = 10_000
"""Statuses kept, at most, for messages whose group's answers are not recorded yet."""
LEDGER_DAYS = 90.0
"""The least time the recipient ledger keeps an item's recipients once nothing was sent to it."""


def item_ref(feed: str, key: str) -> str:
    """Return the recipient ledger's name for an item (feed names hold no spaces)."""
    return f"{feed} {key}"


def item_moves(moves: Moves) -> list[tuple[str, str]]:
    """Return the recipient ledger's names of each item of ``moves``, old and new."""
    return [(item_ref(*old), item_ref(*new)) for old, new in moves.items()]


def item_of(ref: str) -> tuple[str, str]:
    """Return the feed and key the recipient ledger's name for an item stands for."""
    feed, _, key = ref.partition(" ")
    return feed, key


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Tally:
    """What the batches of one send did, kept small whatever the number of recipients."""

    accepted: int = 0
    results: list[RecipientResult] = field(default_factory=list)
    lost: int = 0
    """Requests whose answer was lost."""
    first_lost: DeliveryUncertain | None = None
    released: int = 0
    """Recipients handed back unsent, to be planned again on a later pass."""
    retry_after: float | None = None
    """The longest wait the gateway asked for before the released are tried again."""
    stop: DeliveryError | None = None

    def note(self, result: RecipientResult) -> None:
        """Keep ``result`` while the receipt has room for it."""
        if len(self.results) < RESULTS_MAX:
            self.results.append(result)


class Answers:
    """The answers to one group's requests, gathered from the threads that sent them."""

    def __init__(self) -> None:
        self.accepted: dict[str, str] = {}
        self.rejected: dict[str, str] = {}
        self.opted_out: set[str] = set()
        self.released: list[str] = []
        self.retry_after: float | None = None
        self.why = ""
        self._lock = threading.Lock()

    def add(self, outcome: BatchOutcome) -> None:
        """Keep what one request did."""
        with self._lock:
            self.accepted.update(outcome.accepted)
            self.rejected.update(outcome.rejected)
            self.opted_out.update(outcome.opted_out)
            self.released.extend(outcome.released)
            self.retry_after = _longest(self.retry_after, outcome.retry_after)

    def release(self, phones: Sequence[str]) -> None:
        """Note recipients no request reached."""
        with self._lock:
            self.released.extend(phones)

    def lose(self, error: DeliveryUncertain | StoppedPartway) -> None:
        """Note a request whose answer was lost or cut short: its unnamed ones stay uncertain."""
        with self._lock:
            lost = (
                "the answer was lost"
                if isinstance(error, DeliveryUncertain)
                else "the gateway stopped part way"
            )
            self.why = self.why or f"{lost}: {error}"


@dataclass
class CallbackAddress:
    """Where the gateway sends status callbacks: set by the daemon while it listens."""

    url: str | None = None

    def __call__(self) -> str | None:
        """Return the callback URL, or None when nothing listens for callbacks."""
        return self.url


class GatewayDestination:
    """Post each item to every recipient of a list through one gateway, at most once each."""

    def __init__(
        self,
        name: str,
        kind: Kind,
        adapter: Adapter,
        recipients: Callable[[], Recipients],
        ledger: Callable[[], RecipientLedger],
        *,
        daily: DayCounter | None = None,
        clock: Callable[[], datetime] = _utcnow,
        group_size: int = GROUP,
        address: CallbackAddress | None = None,
    ) -> None:
        self._name = name
        self._kind = kind
        self.adapter = adapter
        self._recipients = recipients
        self._ledger = ledger
        self._daily = daily
        self._clock = clock
        self.group_size = group_size
        self.address = address or CallbackAddress()
        self._lock = threading.Lock()
        self._turns = Turns()
        self._sending = 0
        """Groups whose answers are not recorded yet."""
        self._early: list[StatusUpdate] = []
        """Statuses that came before the answer naming their message was recorded."""
        self._halted = threading.Event()

    @property
    def name(self) -> str:
        """Return the destination's name."""
        return self._name

    @property
    def kind(self) -> Kind:
        """Return the gateway kind."""
        return self._kind

    @property
    def recipients(self) -> Recipients:
        """Return the recipients, read again when their file changed."""
        return self._recipients()

    @property
    def ledger(self) -> RecipientLedger:
        """Return the destination's recipient ledger, opened on first use."""
        return self._ledger()

    def send(self, message: Message) -> Receipt:
        """Send ``message`` to every recipient still waiting for it, then say what happened."""
        if not isinstance(message, GatewayMessage):
            raise MessageRejected(f"{self._name}: cannot send a {type(message).__name__}")
        item = item_ref(message.feed, message.key)
        with self._lock:
            todo = self.ledger.plan(item, self._phones())
            if not todo and self.ledger.forgotten(item):
                log.warning(
                    "event=gateway-item-forgotten destination=%s item=%r reason=its recipients "
                    "were dropped from the ledger past retention; it is sent to nobody again",
                    self._name, item,
                )  # fmt: skip
        if not todo:
            self._note_open(item, message.key)
        wanted = len(todo)
        todo = self._within_cap(todo)
        tally = Tally()
        self._run_batches(message, item, todo, tally)
        if tally.stop is not None:
            raise tally.stop
        if len(todo) < wanted:
            raise self._held_back(wanted - len(todo))
        if tally.released:
            raise RetryLater(
                f"{self._name}: the gateway refused {tally.released} recipient(s) of item "
                f"{message.key!r} without sending; they get it on a later pass",
                retry_after=tally.retry_after,
            )
        if tally.first_lost is not None:
            first = tally.first_lost
            raise DeliveryUncertain(
                f"{self._name}: {tally.lost} request(s) of item {message.key!r} may "
                f"have been sent; they are not sent again automatically ({first})",
                first.status,
                first.status_message,
            )
        return self._receipt(message, todo, tally)

    def carry(self, moves: Moves) -> None:
        """Keep the sends each item of ``moves`` started under its old name as its new one's.

        Whoever got one of them, or may have, is not sent it again under the new name.
        """
        with self._lock:
            carried = self.ledger.carry(item_moves(moves))
        if carried:
            log.info("destination=%s status=carried items=%d", self._name, carried)

    def _note_open(self, item: str, key: str) -> None:
        """Say so when the item is offered again while all it still needs waits on open batches.

        The item counts as sent, as it was (its uncertain batches are the recipient ledger's
        to settle), but nothing goes out: the numbers of an uncertain batch are sent again only
        when an operator releases it.
        """
        outcome = self.ledger.outcome(item)
        open_numbers = outcome.uncertain + outcome.pending
        if open_numbers:
            name = self._name
            log.warning(
                "event=gateway-nothing-sent destination=%s item=%r open=%d hint=its other numbers "
                "are in batches whose answer was lost: see `poster recipients uncertain %s`, then "
                "release or settle each",
                name, key, open_numbers, name,
            )  # fmt: skip

    def _phones(self) -> tuple[str, ...]:
        """Return the numbers of the recipients file, or stop this destination while it is bad.

        Nothing is sent to a list that cannot be read: the last good one may hold numbers the
        operator just took out.
        """
        try:
            return self._recipients().phones
        except ConfigError as exc:
            problems = "; ".join(str(problem) for problem in exc.problems)
            raise DestinationFatal(
                f"{self._name}: the recipients file cannot be used ({problems}); nothing was "
                "sent: mend it, then reload poster (systemctl reload poster, or SIGHUP)"
            ) from exc

    def halt(self) -> None:
        """Start no further request of the send under way, nor of any later one: poster stops.

        The requests in flight finish and are recorded; the rest of the recipients are handed
        back, not left uncertain, so the item waits for the next start, which plans only them.
        """
        self._halted.set()

    def resumes_interrupted(self) -> bool:
        """Say yes: the recipient ledger's plan skips the accepted and the uncertain numbers."""
        return True

    def poll(self, limit: int = POLL_MAX) -> int:
        """Ask the gateway for statuses of messages without a final one; return how many changed.

        Polls take turns over the waiting messages (``Turns``), at most ``limit`` each.
        """
        with self._lock:
            waiting = self._turns.choose(self.ledger.unsettled(POLL_SPAN), limit)
        if not waiting:
            return 0
        try:
            found = self.adapter.statuses(waiting)
        except PosterError:
            with self._lock:
                self._turns.failed()
            raise
        return self.record(found)

    def subscribers(self) -> GatewaySubscribers:
        """Return how the recipients of this destination's recent items stand."""
        with self._lock:
            return summarise(self._name, self.ledger)

    def callback(self, method: str, query: Mapping[str, str], body: bytes) -> int:
        """Read one status callback and record it; raise ``CallbackError`` when it is unreadable.

        Only message ids this destination sent are recorded (or kept, see ``record``); the count
        says how many those were.
        """
        return self.record(self.adapter.callback(method, query, body))

    def record(self, updates: Sequence[StatusUpdate]) -> int:
        """Record delivery statuses (and opt-outs) in the ledger; return how many were known.

        A group's answers are recorded together after its last request, so a gateway may
        report a message poster has not recorded yet: while a group is being sent, such a
        status is kept (up to ``EARLY_MAX``) and recorded with the group's answers, and counts
        as known.
        """
        if not updates:
            return 0
        with self._lock:
            if not self._sending:
                return self.ledger.record_statuses(updates)
            known, early = self.ledger.partition(updates)
            kept = early[: max(0, EARLY_MAX - len(self._early))]
            self._early += kept
            return self.ledger.record_statuses(known) + len(kept)

    def _within_cap(self, todo: tuple[str, ...]) -> tuple[str, ...]:
        """Keep the recipients today's cap allows, in order; the rest wait for the next day."""
        if self._daily is None or not todo:
            return todo
        allowed = self._daily.take(len(todo), self._clock())
        if allowed < len(todo):
            log.info(
                "destination=%s status=capped sending=%d waiting=%d",
                self._name, allowed, len(todo) - allowed,
            )  # fmt: skip
        if allowed == 0:
            raise self._held_back(len(todo))
        return todo[:allowed]

    def _held_back(self, waiting: int) -> RetryLater:
        """Return the deferral of the ``waiting`` recipients over today's cap, until tomorrow."""
        assert self._daily is not None
        now = self._clock()
        wait_s = (self._daily.resume_at(now) - now).total_seconds()
        return RetryLater(
            f"{self._name}: max_per_day reached; {waiting} recipient(s) get the item tomorrow",
            retry_after=wait_s,
        )

    def _run_batches(
        self, message: GatewayMessage, item: str, todo: Sequence[str], tally: Tally
    ) -> None:
        """Send group after group, each with at most ``adapter.concurrency`` requests at once."""
        size = max(1, self.adapter.batch_size)
        width = max(1, self.adapter.concurrency)
        group = max(size, self.group_size // size * size)
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix=self._name) as pool:
            for phones in _chunks(todo, group):
                self._stop_if_halted(message, tally)
                if tally.stop is not None:
                    break
                self._one_group(pool, message, item, phones, tally)

    def _stop_if_halted(self, message: GatewayMessage, tally: Tally) -> None:
        """Stop the send once poster stops: no request starts after, and its numbers wait."""
        if tally.stop is None and self._halted.is_set():
            with self._lock:
                tally.stop = tally.stop or RetryLater(
                    f"{self._name}: poster is stopping; the recipients of item "
                    f"{message.key!r} not reached yet get it after the next start"
                )

    def _one_group(
        self,
        pool: ThreadPoolExecutor,
        message: GatewayMessage,
        item: str,
        phones: Sequence[str],
        tally: Tally,
    ) -> None:
        """Record a group's intent in one write, send its requests, record their answers in one.

        A number opted out since the plan is left out of the group (``record_intent``).
        """
        with self._lock:
            batch_id = self.ledger.record_intent(item, phones)
            phones = self.ledger.members(batch_id)
            self._sending += 1
        answers = Answers()
        size = max(1, self.adapter.batch_size)
        try:
            futures = [
                pool.submit(self._one_request, message, batch, answers, tally)
                for batch in _chunks(phones, size)
            ]
            wait(futures)
            with self._lock:
                self.ledger.record_result(
                    batch_id, answers.accepted.keys(), answers.rejected, answers.accepted,
                    answers.opted_out, released=answers.released, why=answers.why,
                )  # fmt: skip
                self._tally(answers.accepted, answers.rejected, tally)
                tally.released += len(answers.released)
                tally.retry_after = _longest(tally.retry_after, answers.retry_after)
        finally:
            with self._lock:
                self._sending -= 1
                self._record_early()
        for future in futures:
            future.result()  # an unforeseen error, its recipients recorded as uncertain above

    def _record_early(self) -> None:
        """Record the kept statuses whose message is now known; drop the rest once none is sent.

        Called with the lock held, after a group's answers are recorded.
        """
        if not self._early:
            return
        known, self._early = self.ledger.partition(self._early)
        self.ledger.record_statuses(known)
        if self._early and not self._sending:
            log.warning(
                "event=gateway-statuses-dropped destination=%s count=%d "
                "reason=they name no message poster sent",
                self._name, len(self._early),
            )  # fmt: skip
            self._early = []

    def _one_request(
        self, message: GatewayMessage, phones: Sequence[str], answers: Answers, tally: Tally
    ) -> None:
        """Send one request of a group and keep its answer; after a refusal, or once poster
        stops, send nothing: those numbers are handed back, to be planned at the next start."""
        self._stop_if_halted(message, tally)
        if tally.stop is not None:
            answers.release(phones)
            return
        try:
            outcome = self.adapter.send(message, phones)
        except DeliveryUncertain as exc:
            answers.lose(exc)
            with self._lock:
                tally.lost += 1
                tally.first_lost = tally.first_lost or exc
            log.error("destination=%s recipients=%d status=uncertain error=%s",
                      self._name, len(phones), exc)  # fmt: skip
            return
        except MessageRejected as exc:
            answers.add(BatchOutcome(rejected=dict.fromkeys(phones, str(exc))))
            with self._lock:
                tally.stop = tally.stop or exc
            return
        except StoppedPartway as exc:
            # Part of the request may have gone out: the numbers the answer left open stay
            # uncertain, and only those it says were not sent are handed back.
            answers.add(exc.outcome)
            answers.lose(exc)
            with self._lock:
                tally.stop = exc
            return
        except (RetryLater, DestinationFatal) as exc:
            # Nothing went out: hand the recipients back so the next pass plans them again.
            answers.release(phones)
            with self._lock:
                tally.stop = exc if isinstance(exc, DestinationFatal) else (tally.stop or exc)
            return
        answers.add(outcome)

    def _tally(self, accepted: Any, rejected: Any, tally: Tally) -> None:
        """Count the accepted and name the rejected recipients of one batch."""
        tally.accepted += len(accepted)
        for phone, reason in rejected.items():
            tally.note(RecipientResult(phone, State.FAILED, error=reason))
        for phone, message_id in accepted.items():
            tally.note(RecipientResult(phone, State.SENT, message_id or None))

    def _receipt(self, message: GatewayMessage, todo: Sequence[str], tally: Tally) -> Receipt:
        """Return the receipt: one example request (redacted) and the results kept."""
        requests = self.adapter.requests(message, todo[:1]) if todo else []
        body = {"recipients": len(todo), "accepted": tally.accepted}
        body["requests"] = requests  # type: ignore[assignment]
        first_id = next((r.message_id for r in tally.results if r.message_id), None)
        return Receipt(self._name, first_id, self._clock(), body, tuple(tally.results))


def _longest(one: float | None, other: float | None) -> float | None:
    """Return the longer of two waits, either of which may be unset."""
    if one is None or other is None:
        return other if one is None else one
    return max(one, other)


def _chunks(phones: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Yield ``phones`` in runs of ``size``, in order."""
    for start in range(0, len(phones), size):
        yield phones[start : start + size]


_LEDGERS: dict[Path, RecipientLedger] = {}
_LEDGERS_LOCK = threading.Lock()


def ledger_days(retention: timedelta) -> float:
    """Return the days the recipient ledger keeps an idle item: the state's retention, or more."""
    return max(retention.total_seconds() / 86400, LEDGER_DAYS)


def shared_ledger(path: Path, retention_days: float = LEDGER_DAYS) -> RecipientLedger:
    """Return the one open ledger at ``path`` in this process, opening it on first use.

    ``retention_days`` is the configuration's, the one a reload read last.
    """
    with _LEDGERS_LOCK:
        found = _LEDGERS.get(path)
        if found is None:
            found = _LEDGERS[path] = RecipientLedger(path, retention_days=retention_days)
        found.retention_days = retention_days
        return found


def close_ledgers() -> None:
    """Close every ledger this process opened (at exit, and between tests)."""
    with _LEDGERS_LOCK:
        for ledger in _LEDGERS.values():
            ledger.close()
        _LEDGERS.clear()


def open_gateway(
    kind: Kind,
    name: str,
    settings: GatewaySettings,
    where: Opening,
    adapter: Callable[[str], Adapter],
    address: CallbackAddress | None = None,
) -> GatewayDestination:
    """Return the gateway destination ``name``: key loaded, recipients read, ledger on first use."""
    token = where.token or gateway_token(name, settings, where.config_file)
    recipients = RecipientsFile(settings.recipients, (where.config_file, recipients_key(name)))
    path, days = ledger_path(where.state_dir, name), ledger_days(where.retention)
    # Counted with no cap too, so that a cap set during the day counts what went before it.
    daily = DayCounter(DailyCap(settings.max_per_day), path.parent / "day.json")
    return GatewayDestination(
        name, kind, adapter(token), recipients, lambda: shared_ledger(path, days), daily=daily,
        address=address,
    )  # fmt: skip
