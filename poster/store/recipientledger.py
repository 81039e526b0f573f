"""Record, per destination, which recipients each item went to, so none gets it twice.

Every request to a gateway is a batch: ``record_intent`` is written (fsynced) before the
request, ``record_result`` or ``record_uncertain`` after. The events go to an append-only
journal with the same files, torn-line rules and compaction as the main state
(``poster.store.journal``), and the state they build is held compactly in memory
(``poster.store.recipientstate``): a write costs one journal line whatever the history.

A batch whose answer was lost, or whose process died between intent and result, is
uncertain: ``plan`` never offers its recipients again until an operator releases it.

A ledger is shared by every thread of the process that reads or writes it (a send, status
callbacks, a poll, the destination objects a reload opens): each method takes the ledger's own
lock, so events are applied and journaled one at a time whatever their callers lock.
"""

from __future__ import annotations

import heapq
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from poster.errors import StateError, UsageError
from poster.frozen import frozen
from poster.store.change import Change
from poster.store.files import RECIPIENTS_FOLDER, START_EMPTY, Snapshot, Tables
from poster.store.journal import JournalStorage
from poster.store.journalread import journal_way_out
from poster.store.place import ONE_SHOT
from poster.store.recipientstate import (
    ACCEPTED,
    DELIVERED,
    FAILED,
    PENDING,
    READ,
    REJECTED,
    UNCERTAIN,
    UNKNOWN,
    Batch,
    Event,
    ItemState,
    LedgerState,
    count_bits,
    has_bit,
)

EVENTS = "events"
LEDGER = "ledger"
STATUSES = (DELIVERED, READ, FAILED)
"""The final statuses a gateway reports."""
SETTLED = (*STATUSES, UNKNOWN)
"""The statuses after which a message is not asked about again."""
_DESTINATION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _located(ref: str | tuple[str, str]) -> str | list[str]:
    """Return a status's reference as the ledger's state looks it up (a pair as a list)."""
    return ref if isinstance(ref, str) else list(ref)


def _utcnow() -> datetime:
    return datetime.now(UTC)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(
    method: Callable[Concatenate[RecipientLedger, _P], _R],
) -> Callable[Concatenate[RecipientLedger, _P], _R]:
    """Run ``method`` holding the ledger's lock, so no other thread reads or writes meanwhile."""

    @wraps(method)
    def run(self: RecipientLedger, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return run


@frozen
class ItemOutcome:
    """How one item's recipients stand: counts per state and reasons per failure."""

    accepted: int
    rejected: int
    pending: int
    uncertain: int
    delivered: int
    read: int
    failed: int
    rejected_reasons: tuple[tuple[str, int], ...] = ()
    failed_reasons: tuple[tuple[str, int], ...] = ()
    unknown: int = 0
    """Accepted recipients whose status the gateway refused to tell, and none came since."""


@frozen
class OptOut:
    """A number a gateway reported as opted out or blacklisted, and when."""

    phone: str
    reason: str
    since: datetime


@frozen
class OpenBatch:
    """A batch whose answer is not in: its item, size, state and why."""

    batch_id: str
    item: str
    size: int
    state: str
    why: str


@frozen
class StatusUpdate:
    """A delivery status from a callback or a poll, for a message id or an (item, phone)."""

    ref: str | tuple[str, str]
    status: str
    reason: str = ""
    opted_out: bool = False
    """The gateway says the number is blacklisted or opted out: keep it out of later plans."""


def ledger_names(state_dir: Path) -> list[str]:
    """Return the destinations that have a recipient ledger in ``state_dir``, sorted."""
    try:
        return sorted(p.parent.name for p in (state_dir / RECIPIENTS_FOLDER).glob("*/ledger.json"))
    except OSError:
        return []


def unclaimed_hint(state_dir: Path, destination: str, configured: Collection[str]) -> str | None:
    """Say what to do when ``destination`` has no ledger yet and one a destination no longer
    ``configured`` left does: a gateway destination renamed would send to the numbers that
    opted out, and send again what they got, from a new ledger."""
    try:
        if ledger_path(state_dir, destination).exists():
            return None
    except OSError:  # a state poster may not read says so where the ledger opens
        return None
    unclaimed = [name for name in ledger_names(state_dir) if name not in configured]
    if not unclaimed:
        return None
    folder = state_dir / RECIPIENTS_FOLDER
    return (
        f"{destination!r} starts a new recipient ledger, and {', '.join(map(repr, unclaimed))} "
        f"left one no destination in feeds.toml uses (in {folder}); if {destination!r} is one "
        f"of them renamed, stop poster and rename its folder to {destination!r} before the "
        "first send: its numbers' opt-outs and what each got are kept there"
    )


def no_ledger(state_dir: Path, destination: str) -> UsageError:
    """Say that ``destination`` has no recipient ledger, naming the destinations that have one."""
    folder = state_dir / RECIPIENTS_FOLDER
    names = ledger_names(state_dir)
    where = f"{folder / destination / 'ledger.json'}"
    if not names:
        return UsageError(
            f"{destination!r} has no recipient ledger ({where}), and none of this state has one: "
            "only a gateway destination that sent an item has one (is --state-dir right?)"
        )
    return UsageError(
        f"{destination!r} has no recipient ledger ({where}); the gateway destinations that have "
        f"one: {', '.join(names)}"
    )


def ledger_path(state_dir: Path, destination: str) -> Path:
    """Return the snapshot path of ``destination``'s recipient ledger, refusing odd names."""
    if not _DESTINATION_NAME.fullmatch(destination):
        raise UsageError(
            f"destination name {destination!r} must be letters, digits, '.', '_' or '-'"
        )
    return state_dir / RECIPIENTS_FOLDER / destination / "ledger.json"


UNREADABLE = (KeyError, TypeError, AttributeError, ValueError, IndexError)
"""What a record of the wrong shape raises while the ledger is rebuilt from it."""


LEDGER_WAY_OUT = (
    "restore the ledger folder from a backup, or move this file aside if a copy beside it is "
    "good. Do not delete the ledger, nor move its journal aside: its recipients would then be "
    "sent recent items again"
)


LEDGER_KEEP = (
    "restore the ledger folder from a backup. Do not remove the file: its recipients would "
    "then be sent recent items again"
)


@contextmanager
def _reworded(advice: str, instead: str) -> Iterator[None]:
    """Raise a state error from the block with ``instead`` in place of the main state's
    ``advice``."""
    try:
        yield
    except StateError as exc:
        message = str(exc).removeprefix(f"state file {exc.path}: ")
        raise StateError(exc.path, message.replace(advice, instead)) from exc


class LedgerStorage(JournalStorage):
    """A journaled state whose changes are ledger events and whose snapshot is one document."""

    def __init__(
        self,
        path: Path,
        *,
        status_days: float,
        retention_days: float,
        clock: Callable[[], datetime],
        read_only: bool,
        role: str,
    ) -> None:
        self.state = LedgerState(status_days)
        self.retention_days = retention_days
        self._now = clock
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path, read_only=read_only, role=role, clock=clock)

    def load_tables(self, tables: Tables) -> None:
        """Rebuild the ledger from the snapshot's one document."""
        doc = tables.get(LEDGER, {}).get("1", {})
        try:
            self.state = LedgerState.restore(doc, self.state.status_days)
        except UNREADABLE as exc:
            raise self._unreadable(self.files.snapshot, exc) from None

    def snapshot_tables(self) -> Tables:
        """Drop what is past retention and return the ledger as the snapshot's one document."""
        self.state.prune(self._now().timestamp(), self.retention_days)
        return {LEDGER: {"1": self.state.export()}}

    def apply_change(self, change: Change) -> None:
        """Apply the event a replayed journal line holds."""
        for event in change.put.values():
            try:
                self.state.apply(event)
            except UNREADABLE as exc:
                raise self._unreadable(self.files.journal, exc) from None

    def _load_snapshot(self) -> Snapshot:
        """Read the snapshot as the main state does, with the ledger's way out of damage."""
        # Starting a ledger empty, as the main state's message offers, would send its
        # recipients every item again: paid messages.
        with _reworded(START_EMPTY, LEDGER_KEEP):
            return super()._load_snapshot()

    def _load_journal(self, snapshot: Snapshot) -> None:
        """Replay the journal as the main state does, with the ledger's way out of damage."""
        # Moving a ledger's journal aside, as the main state's message says, would send its
        # recipients what it recorded again: paid messages.
        with _reworded(journal_way_out(), LEDGER_WAY_OUT):
            super()._load_journal(snapshot)

    def _unreadable(self, path: Path, exc: Exception) -> StateError:
        """Return the error for a record of the ledger that poster cannot read."""
        what = f"{type(exc).__name__}: {exc}"[:200]
        return StateError(path, f"holds a record poster cannot read ({what}); {LEDGER_WAY_OUT}")

    def record(self, event: Event) -> None:
        """Write ``event`` durably, then apply it, then compact if the journal is due.

        Its texts have any secret they quote masked, as a gateway may echo its key in a reason.
        """
        from poster.redaction import redact_strings

        event = redact_strings(event)
        self.append_change(Change(EVENTS, {"1": event}))
        self.state.apply(event)
        self.compact_if_due()


class RecipientLedger:
    """Decide who still needs an item and record every batch sent to a gateway."""

    def __init__(
        self,
        path: Path,
        *,
        retention_days: float = 90.0,
        status_days: float = 2.0,
        clock: Callable[[], datetime] = _utcnow,
        read_only: bool = False,
        role: str = ONE_SHOT,
    ) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._storage = LedgerStorage(
            path,
            status_days=status_days,
            retention_days=retention_days,
            clock=clock,
            read_only=read_only,
            role=role,
        )
        self._state = self._storage.state
        self._state.prune(self._now(), self._storage.retention_days)
        if not read_only:
            self._settle_pending()

    @_locked
    def close(self) -> None:
        """Close the journal and release the lock."""
        self._storage.close()

    def __enter__(self) -> RecipientLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def storage(self) -> LedgerStorage:
        """Return the journaled storage, for its files and counters."""
        return self._storage

    @property
    def retention_days(self) -> float:
        """Return how long an item's recipients are kept once nothing was sent to it."""
        return self._storage.retention_days

    @retention_days.setter
    def retention_days(self, days: float) -> None:
        with self._lock:
            self._storage.retention_days = days

    @_locked
    def plan(self, item: str, recipients: Sequence[str]) -> tuple[str, ...]:
        """Return who still needs ``item``: not answered, not open, not opted out, not newer.

        An item forgotten past retention is planned to nobody.
        """
        item = self._state.resolve(item)
        if item in self._state.done:
            return ()
        self._note_seen(item, recipients)
        state, st = self._state, self._state.items[item]
        busy = set(state.open_members(item, PENDING))
        busy.update(state.open_members(item, UNCERTAIN))
        accepted, rejected = st.marks.get(ACCEPTED), st.marks.get(REJECTED)
        chosen = []
        for phone in recipients:
            index = state.index[phone]
            if (
                index in busy
                or index in state.optout
                or state.newer(index, st)
                or has_bit(accepted, index)
                or has_bit(rejected, index)
            ):
                continue
            chosen.append(phone)
        return tuple(chosen)

    @_locked
    def record_intent(self, item: str, recipients: Sequence[str], batch_id: str = "") -> str:
        """Record, before the request, that ``recipients`` are about to get ``item``.

        A number opted out since the plan (a callback came meanwhile) is left out, as the plan
        would now leave it out: ``members`` names who the batch holds.
        """
        import uuid  # here: it loads platform, which reading the ledger for a status never needs

        batch_id = batch_id or uuid.uuid4().hex
        state, item = self._state, self._state.resolve(item)
        wanted = [phone for phone in recipients if state.index.get(phone, -1) not in state.optout]
        allowed = set(self.plan(item, wanted))
        refused = [phone for phone in wanted if phone not in allowed]
        if refused or batch_id in state.batches or len(allowed) != len(wanted):
            raise StateError(
                self._storage.files.journal,
                f"batch {batch_id} for item {item!r} names recipients that must not get it "
                f"again (first: {refused[0] if refused else 'a repeated number'})",
            )
        event = {"e": "intent", "t": self._now(), "item": item, "batch": batch_id}
        self._storage.record(event | {"phones": wanted})
        return batch_id

    @_locked
    def carry(self, pairs: Iterable[tuple[str, str]]) -> int:
        """Keep each new item's sends with its old one's: ``(old, new)`` pairs, a renamed feed's.

        Whoever got the old item, or may have, is not planned the new one, and the rest get
        it once. An item already planned under its new name, or one the ledger does not know
        under its old, is left as it is. Returns how many were carried.
        """
        wanted = [[old, new] for old, new in pairs if self._state.may_carry(old, new)]
        if wanted:
            self._apply({"e": "carry", "t": self._now(), "pairs": wanted})
        return len(wanted)

    @_locked
    def carried_into(self, item: str) -> list[str]:
        """Return the items whose sends are kept with ``item``'s: a renamed feed's, in order."""
        return [new for new, old in self._state.carried.items() if old == item]

    @_locked
    def members(self, batch_id: str) -> tuple[str, ...]:
        """Return the numbers of the open batch ``batch_id``, in the order recorded."""
        phones = self._state.phones
        return tuple(phones[index] for index in self._open_batch(batch_id).members)

    @_locked
    def record_result(
        self,
        batch_id: str,
        accepted: Iterable[str],
        rejected: Mapping[str, str] | None = None,
        message_ids: Mapping[str, str] | None = None,
        opted_out: Iterable[str] = (),
        *,
        released: Iterable[str] = (),
        why: str = "",
    ) -> None:
        """Record the gateway's answer; recipients it does not name are left uncertain.

        ``released`` names recipients no request reached (planned again); ``why`` says why the
        ones left uncertain are.
        """
        self._open_batch(batch_id)
        event: Event = {"e": "result", "t": self._now(), "batch": batch_id}
        event |= {"accepted": list(accepted), "rejected": dict(rejected or {})}
        event |= {"ids": dict(message_ids or {}), "optout": list(opted_out)}
        if released := list(released):
            event["released"] = released
        if why:
            event["why"] = why
        self._storage.record(event)

    @_locked
    def record_uncertain(self, batch_id: str, why: str) -> None:
        """Record that the answer to ``batch_id`` was lost: its recipients wait for an operator."""
        self._open_batch(batch_id)
        self._storage.record({"e": "uncertain", "t": self._now(), "batch": batch_id, "why": why})

    @_locked
    def release(self, batch_id: str) -> None:
        """Let an uncertain batch's recipients be planned again (an operator's retry)."""
        batch = self._open_batch(batch_id)
        if batch.state != UNCERTAIN:
            raise UsageError(f"batch {batch_id} is still waiting for its answer, not uncertain")
        self._storage.record({"e": "release", "t": self._now(), "batch": batch_id})

    @_locked
    def settle(self, batch_id: str) -> None:
        """Record an uncertain batch as received (an operator checked with the gateway): its
        numbers count as accepted and none of them is sent the item again."""
        batch = self._open_batch(batch_id)
        if batch.state != UNCERTAIN:
            raise UsageError(f"batch {batch_id} is still waiting for its answer, not uncertain")
        self._storage.record({"e": "settle", "t": self._now(), "batch": batch_id})

    @_locked
    def suppress(self, phone: str, reason: str) -> None:
        """Keep ``phone`` out of every later plan (an opt-out or a blacklist)."""
        self._storage.record({"e": "suppress", "t": self._now(), "phone": phone, "reason": reason})

    @_locked
    def record_statuses(self, updates: Iterable[StatusUpdate]) -> int:
        """Record delivery statuses in one write; return how many named a known message."""
        rows, suppressed = [], []
        for update in updates:
            if update.status not in SETTLED:
                raise ValueError(f"unknown delivery status {update.status!r}")
            ref = _located(update.ref)
            found = self._state.locate(ref)
            if found is not None:
                rows.append([ref, update.status, update.reason])
                if update.opted_out:
                    suppressed.append((self._state.phones[found[1]], update.reason))
        if rows:
            self._storage.record({"e": "status", "t": self._now(), "updates": rows})
        for phone, reason in suppressed:
            self.suppress(phone, reason or "opted out")
        return len(rows)

    @_locked
    def partition(
        self, updates: Iterable[StatusUpdate]
    ) -> tuple[list[StatusUpdate], list[StatusUpdate]]:
        """Split ``updates`` into those naming a message recorded as accepted, and the rest."""
        known: list[StatusUpdate] = []
        unknown: list[StatusUpdate] = []
        for update in updates:
            found = self._state.locate(_located(update.ref))
            (unknown if found is None else known).append(update)
        return known, unknown

    @_locked
    def record_status(self, ref: str | tuple[str, str], status: str, reason: str = "") -> bool:
        """Record one delivery status; return whether it named a known message."""
        return self.record_statuses([StatusUpdate(ref, status, reason)]) == 1

    @_locked
    def outcome(self, item: str) -> ItemOutcome:
        """Count how ``item``'s recipients stand."""
        item = self._state.resolve(item)
        st = self._state.items.get(item)
        if st is None:
            return ItemOutcome(0, 0, 0, 0, 0, 0, 0)
        pending = sum(1 for _ in self._state.open_members(item, PENDING))
        uncertain = sum(1 for _ in self._state.open_members(item, UNCERTAIN))
        counts = {name: count_bits(st.marks.get(name)) for name in (ACCEPTED, REJECTED, *STATUSES)}
        return ItemOutcome(
            counts[ACCEPTED],
            counts[REJECTED],
            pending,
            uncertain,
            counts[DELIVERED],
            counts[READ],
            counts[FAILED],
            tuple(sorted(st.reasons.get(REJECTED, {}).items())),
            tuple(sorted(st.reasons.get(FAILED, {}).items())),
            _unknown(st),
        )

    @_locked
    def unsettled(self, limit: int) -> list[str]:
        """Return up to ``limit`` message ids, oldest first, with no final or unknown status yet.

        Only ids of the last ``status_days`` are given: an older one's status no longer comes,
        and the ledger drops it when it next writes its snapshot.
        """
        state, found = self._state, []
        first_day = state.first_status_day(self._now())
        for day in sorted(d for d in state.messages if d >= first_day):
            for message_id, packed in state.messages[day].items():
                key = state.serials.get(packed >> 32)
                st = state.items.get(key) if key is not None else None
                index = packed & 0xFFFFFFFF
                if st is None or any(has_bit(st.marks.get(s), index) for s in SETTLED):
                    continue
                found.append(message_id)
                if len(found) >= limit:
                    return found
        return found

    @_locked
    def recent_items(self, limit: int) -> list[str]:
        """Return up to ``limit`` items, the most recently first seen first."""
        items = self._state.items
        return heapq.nlargest(limit, items, key=lambda key: (items[key].seen, items[key].serial))

    @_locked
    def forgotten(self, item: str) -> bool:
        """Tell whether ``item``'s recipients were dropped past retention (it is done)."""
        return self._state.resolve(item) in self._state.done

    @_locked
    def optout_count(self) -> int:
        """Count the suppressed numbers."""
        return len(self._state.optout)

    @_locked
    def opted_out(self) -> list[OptOut]:
        """List the suppressed numbers, oldest first."""
        phones, rows = self._state.phones, sorted(self._state.optout.items(), key=lambda r: r[1][1])
        return [OptOut(phones[i], why, datetime.fromtimestamp(at, UTC)) for i, (why, at) in rows]

    @_locked
    def open_batches(self) -> list[OpenBatch]:
        """List batches whose answer is not in, uncertain ones included."""
        return [
            OpenBatch(bid, b.item, len(b.members), b.state, b.why)
            for bid, b in self._state.batches.items()
        ]

    def _now(self) -> float:
        return self._clock().timestamp()

    def _note_seen(self, item: str, recipients: Sequence[str]) -> None:
        """Record the first-seen time of a new item and of new recipients."""
        state = self._state
        new = [phone for phone in dict.fromkeys(recipients) if phone not in state.index]
        if item in state.items and not new:
            return
        self._apply({"e": "seen", "t": self._now(), "item": item, "phones": new})

    def _apply(self, event: Event) -> None:
        """Record ``event``, or only apply it in memory when the ledger is read-only."""
        if self._storage.read_only:
            self._state.apply(event)
        else:
            self._storage.record(event)

    def _open_batch(self, batch_id: str) -> Batch:
        """Return the open batch ``batch_id`` or say it is not open."""
        batch = self._state.batches.get(batch_id)
        if batch is None:
            raise UsageError(f"no open batch {batch_id} in {self._storage.files.folder}")
        return batch

    def _settle_pending(self) -> None:
        """Mark batches left pending by a stopped process as uncertain: they may have gone out."""
        for batch_id, batch in list(self._state.batches.items()):
            if batch.state == PENDING:
                why = "poster stopped after the request was recorded and before its answer"
                self.record_uncertain(batch_id, why)


def _unknown(state: ItemState) -> int:
    """Count the recipients marked unknown that no final status reached afterwards."""
    marks = state.marks
    unknown = int.from_bytes(marks.get(UNKNOWN) or b"", "little")
    for name in STATUSES:
        unknown &= ~int.from_bytes(marks.get(name) or b"", "little")
    return unknown.bit_count()
