"""Hold one destination's per-recipient delivery state in memory, as bitmaps per item.

Recipients are numbered in the order first seen; each item keeps one bitmap per mark
(accepted, rejected, delivered, read, failed, unknown), so an item sent to 10,000 numbers costs
a few kilobytes whatever the history. An item's bitmaps are dropped once nothing was sent to it
for the retention and no batch of it is open; its name stays, marked done, so that it is never
planned to anyone again. Which items a recipient came too late for is told by the
order events were recorded in (item serials), never by comparing wall-clock times, which a
clock stepping back would turn around. Batches are kept only while open (pending or uncertain), and
message ids only for ``status_days``, the longest a gateway's status can still arrive.
The state changes only through ``apply(event)``, the same for a live write and a replay.
"""

from __future__ import annotations

import base64
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

DAY = 86400.0
ACCEPTED, REJECTED = "accepted", "rejected"
DELIVERED, READ, FAILED = "delivered", "read", "failed"
UNKNOWN = "unknown"
"""The gateway refused to tell a message's status (too old, or an id it does not know): not
final, and not asked about again."""
MARKS = (ACCEPTED, REJECTED, DELIVERED, READ, FAILED, UNKNOWN)
PENDING, UNCERTAIN = "pending", "uncertain"
Event = dict[str, Any]


def set_bit(bits: bytearray, index: int) -> bool:
    """Set bit ``index``, growing ``bits`` as needed; return whether it was clear."""
    byte, mask = index >> 3, 1 << (index & 7)
    if byte >= len(bits):
        bits.extend(bytes(byte + 1 - len(bits)))
    was_clear = not bits[byte] & mask
    bits[byte] |= mask
    return was_clear


def has_bit(bits: bytearray | None, index: int) -> bool:
    """Tell whether bit ``index`` is set."""
    byte = index >> 3
    return bits is not None and byte < len(bits) and bool(bits[byte] & (1 << (index & 7)))


def count_bits(bits: bytearray | None) -> int:
    """Count the set bits."""
    return int.from_bytes(bits, "little").bit_count() if bits else 0


@dataclass
class ItemState:
    """What one item's recipients got: a bitmap per mark and reasons counted per mark."""

    serial: int
    seen: float
    marks: dict[str, bytearray] = field(default_factory=dict)
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    last: float = 0.0
    """When a batch of the item was last recorded (0 before any)."""

    def mark(self, name: str, index: int, reason: str = "") -> bool:
        """Set ``name`` for recipient ``index``; count ``reason`` the first time only."""
        fresh = set_bit(self.marks.setdefault(name, bytearray()), index)
        if fresh and reason:
            counts = self.reasons.setdefault(name, {})
            counts[reason] = counts.get(reason, 0) + 1
        return fresh


@dataclass
class Batch:
    """A request to one item's recipients whose answer is not in yet, or was lost."""

    item: str
    members: array[int]
    state: str = PENDING
    why: str = ""
    at: float = 0.0


@dataclass
class LedgerState:
    """Every destination-wide fact the ledger keeps, changed only by ``apply``."""

    status_days: float = 2.0
    phones: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    added: array[float] = field(default_factory=lambda: array("d"))
    order: array[int] = field(default_factory=lambda: array("q"))
    """Per recipient, the serial the next new item was to get when it was first noted: it is
    newer than every item whose serial is lower."""
    optout: dict[int, tuple[str, float]] = field(default_factory=dict)
    items: dict[str, ItemState] = field(default_factory=dict)
    serials: dict[int, str] = field(default_factory=dict)
    batches: dict[str, Batch] = field(default_factory=dict)
    messages: dict[int, dict[str, int]] = field(default_factory=dict)
    next_serial: int = 0
    done: dict[str, float] = field(default_factory=dict)
    """Items whose bitmaps were dropped past retention, and when: never planned again."""
    carried: dict[str, str] = field(default_factory=dict)
    """Items whose sends are kept under another name (a renamed feed's), and that name."""

    def phone_index(self, phone: str, at: float) -> int:
        """Return the number of ``phone``, numbering it as first seen ``at`` when new."""
        found = self.index.get(phone)
        if found is None:
            found = self.index[phone] = len(self.phones)
            self.phones.append(phone)
            self.added.append(at)
            self.order.append(self.next_serial)
        return found

    def newer(self, index: int, item: ItemState) -> bool:
        """Tell whether recipient ``index`` was first noted after ``item`` was first seen."""
        return self.order[index] > item.serial

    def item(self, key: str, at: float) -> ItemState:
        """Return the state of ``key``, first seen ``at`` when new."""
        state = self.items.get(key)
        if state is None:
            state = self.items[key] = ItemState(self.next_serial, at)
            self.serials[self.next_serial] = key
            self.next_serial += 1
        return state

    def resolve(self, key: str) -> str:
        """Return the name ``key``'s sends are kept under: its own, unless it was carried."""
        return self.carried.get(key, key)

    def open_members(self, key: str, state: str) -> Iterator[int]:
        """Yield the recipients of ``key``'s open batches in ``state``."""
        for batch in self.batches.values():
            if batch.item == key and batch.state == state:
                yield from batch.members

    def apply(self, event: Event) -> None:
        """Apply one recorded event; events about items past retention change nothing."""
        getattr(self, f"_on_{event['e']}")(event)

    def _on_seen(self, event: Event) -> None:
        at = event["t"]
        # The recipients first: noted with a new item, they are not newer than it.
        for phone in event["phones"]:
            self.phone_index(phone, at)
        if event.get("item") is not None:
            self.item(event["item"], at)

    def may_carry(self, old: str, new: str) -> bool:
        """Tell whether ``new`` may keep its sends with ``old``: it has none of its own yet, and
        ``old`` has (or had, past retention)."""
        fresh = new not in self.items and new not in self.done and new not in self.carried
        old = self.resolve(old)
        return fresh and old != new and (old in self.items or old in self.done)

    def _on_carry(self, event: Event) -> None:
        for old, new in event["pairs"]:
            if self.may_carry(old, new):
                self.carried[new] = self.resolve(old)

    def _on_intent(self, event: Event) -> None:
        at = event["t"]
        self.item(event["item"], at).last = at
        members = array("l", (self.phone_index(phone, at) for phone in event["phones"]))
        self.batches[event["batch"]] = Batch(event["item"], members, PENDING, "", at)

    def _on_result(self, event: Event) -> None:
        batch = self.batches.get(event["batch"])
        state = None if batch is None else self.items.get(batch.item)
        if batch is None or state is None:
            return
        at, members = event["t"], set(batch.members)
        state.last = max(state.last, at)
        messages = self.messages.setdefault(int(at // DAY), {})
        ids = event.get("ids", {})
        for phone in event["accepted"]:
            index = self.index.get(phone, -1)
            message_id = str(ids.get(phone, ""))
            fresh = index in members and state.mark(ACCEPTED, index)
            # Ids are kept newline-joined in the snapshot; gateways' ids are digits or UUIDs.
            if fresh and message_id and "\n" not in message_id:
                messages[message_id] = (state.serial << 32) | index
        for phone, reason in event["rejected"].items():
            index = self.index.get(phone, -1)
            if index in members:
                state.mark(REJECTED, index, reason)
        for phone in event.get("optout", ()):
            self._suppress(phone, event["rejected"].get(phone, "opted out"), at)
        # "released": recipients a group's requests never reached, free for the next plan.
        named = (*event["accepted"], *event["rejected"], *event.get("released", ()))
        answered = {self.index.get(p) for p in named}
        rest = array("l", (m for m in batch.members if m not in answered))
        if rest:
            why = event.get("why") or "the answer did not name these recipients"
            self.batches[event["batch"]] = Batch(batch.item, rest, UNCERTAIN, why, at)
        else:
            del self.batches[event["batch"]]

    def _on_uncertain(self, event: Event) -> None:
        batch = self.batches.get(event["batch"])
        if batch is not None:
            batch.state, batch.why, batch.at = UNCERTAIN, event["why"], event["t"]

    def _on_release(self, event: Event) -> None:
        self.batches.pop(event["batch"], None)

    def _on_settle(self, event: Event) -> None:
        # An operator found the batch's answer elsewhere: its numbers count as accepted.
        batch = self.batches.pop(event["batch"], None)
        state = None if batch is None else self.items.get(batch.item)
        if batch is not None and state is not None:
            state.last = max(state.last, event["t"])
            for index in batch.members:
                state.mark(ACCEPTED, index)

    def _on_suppress(self, event: Event) -> None:
        self._suppress(event["phone"], event["reason"], event["t"])

    def _suppress(self, phone: str, reason: str, at: float) -> None:
        index = self.phone_index(phone, at)
        self.optout.setdefault(index, (reason, at))

    def _on_status(self, event: Event) -> None:
        for ref, status, reason in event["updates"]:
            found = self.locate(ref)
            if found is not None:
                state, index = found
                state.mark(status, index, reason)
                if status == READ:
                    state.mark(DELIVERED, index)

    def locate(self, ref: str | list[str]) -> tuple[ItemState, int] | None:
        """Find the item and recipient a message id or an ``[item, phone]`` pair names."""
        if isinstance(ref, str):
            packed = next((m[ref] for m in self.messages.values() if ref in m), None)
            if packed is None:
                return None
            key, index = self.serials.get(packed >> 32), packed & 0xFFFFFFFF
        else:  # an item's name may have been carried to its sends' (a renamed feed's)
            key, index = self.resolve(ref[0]), self.index.get(ref[1], -1)
        state = self.items.get(key) if key is not None else None
        if state is None or not has_bit(state.marks.get(ACCEPTED), index):
            return None
        return state, index

    def prune(self, now: float, retention_days: float) -> None:
        """Drop the bitmaps of items idle past retention, and message ids past ``status_days``.

        An item with an open batch is kept until the batch is answered or released; a dropped
        item is marked done, so that it is planned to nobody if it is ever offered again.
        """
        oldest = now - retention_days * DAY
        busy = {batch.item for batch in self.batches.values()}
        for key, state in list(self.items.items()):
            if max(state.seen, state.last) < oldest and key not in busy:
                self.serials.pop(self.items.pop(key).serial, None)
                self.done[key] = now
        first_day = self.first_status_day(now)
        for day in [d for d in self.messages if d < first_day]:
            del self.messages[day]

    def first_status_day(self, now: float) -> int:
        """Return the first day whose message ids may still get a status (``status_days``)."""
        return int((now - self.status_days * DAY) // DAY)

    def export(self) -> Event:
        """Return the whole state as one JSON-ready document."""
        optout = self.optout
        return {
            "phones": [[p, self.added[i], *optout.get(i, ())] for i, p in enumerate(self.phones)],
            "orders": self.order.tolist(),
            "items": {key: _export_item(state) for key, state in self.items.items()},
            "batches": {bid: _export_batch(b) for bid, b in self.batches.items()},
            "messages": {str(day): _export_ids(ids) for day, ids in self.messages.items()},
            "next_serial": self.next_serial,
            "done": self.done,
            "carried": self.carried,
        }

    @classmethod
    def restore(cls, doc: Event, status_days: float) -> LedgerState:
        """Rebuild the state from what ``export`` returned.

        A ledger written before recipients had an order holds only wall-clock times, which a
        clock stepping back may have turned around: its recipients are read as noted before
        every item, so none is held back from an item by a doubtful time (an item's marks
        still keep whoever got it from getting it again).
        """
        state = cls(status_days, next_serial=doc.get("next_serial", 0))
        for phone, added, *optout in doc.get("phones", ()):
            index = state.phone_index(phone, added)
            if optout:
                state.optout[index] = (optout[0], optout[1])
        orders = doc.get("orders")
        state.order = array("q", orders if orders is not None else bytes(8 * len(state.phones)))
        for key, item in doc.get("items", {}).items():
            state.items[key] = _restore_item(item)
            state.serials[item["serial"]] = key
        for bid, b in doc.get("batches", {}).items():
            state.batches[bid] = Batch(b["item"], array("l", b["members"]), *b["state"])
        state.messages = {
            int(day): _restore_ids(*ids) for day, ids in doc.get("messages", {}).items()
        }
        state.done = dict(doc.get("done", {}))
        state.carried = dict(doc.get("carried", {}))
        return state


def _export_item(state: ItemState) -> Event:
    marks = {name: base64.b64encode(bits).decode("ascii") for name, bits in state.marks.items()}
    doc = {"serial": state.serial, "seen": state.seen, "marks": marks, "reasons": state.reasons}
    return doc | {"last": state.last}


def _restore_item(doc: Event) -> ItemState:
    marks = {name: bytearray(base64.b64decode(bits)) for name, bits in doc["marks"].items()}
    return ItemState(doc["serial"], doc["seen"], marks, doc["reasons"], doc.get("last", 0.0))


def _export_ids(ids: dict[str, int]) -> list[str]:
    # One string and one packed array parse far faster than a JSON object of small strings.
    packed = array("q", ids.values()).tobytes()
    return ["\n".join(ids), base64.b64encode(packed).decode("ascii")]


def _restore_ids(joined: str, packed: str) -> dict[str, int]:
    locations = array("q")
    locations.frombytes(base64.b64decode(packed))
    return dict(zip(joined.split("\n") if joined else (), locations, strict=True))


def _export_batch(batch: Batch) -> Event:
    return {"item": batch.item, "members": batch.members.tolist(), "state": _batch_tail(batch)}


def _batch_tail(batch: Batch) -> list[Any]:
    return [batch.state, batch.why, batch.at]
