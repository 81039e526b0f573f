"""Send gateway messages through Intel Tele: batches, statuses, callbacks, balance and cost.

One batch is one ``im/send`` with up to 50 comma-separated numbers (the client's batches; over
GET a long message may need two calls for one batch). Requests go one at a time: the API is a
bulk API and names no rate limit. A number "blacklisted" by the gateway is opted out. When the
balance runs out part way through a batch, the numbers already queued are recorded and those
refused for "low balance", and those of the batch's calls not made, are handed back (released):
they were not sent, so a later pass plans them again; the destination stops at once
(``StoppedPartway``, a ``DestinationFatal``), and numbers left open by the answer (queued
without a message id, or not named) stay uncertain. A number refused as a "repeat detected" was
not sent either: it is handed back to be tried after the document's minute. The document blocks
a message "repeatedly sent to the same number within 1 minute", which may mean any message: a
refusal of a number this destination sent to within the minute is its own pacing and only waits,
while the third refusal of one item to one number not sent to lately is final (both counted in
memory, so a restart counts afresh).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from poster.destinations.gateway import BatchOutcome, GatewayMessage, StatusUpdate, StoppedPartway
from poster.destinations.inteltele import wire
from poster.destinations.inteltele.api import BATCH_NUMBERS, SEND, IntelTeleClient
from poster.destinations.inteltele.countries import country_of
from poster.destinations.inteltele.outcomes import error_key
from poster.destinations.inteltele.rules import normalise_number
from poster.destinations.inteltele.schema import (
    DELIVERED,
    MessageStatus,
    RecipientResult,
    SendRequest,
    StatusRequest,
)
from poster.errors import (
    CallbackError,
    DeliveryError,
    DeliveryUncertain,
)
from poster.frozen import frozen
from poster.store.recipientstate import DELIVERED as LEDGER_DELIVERED
from poster.store.recipientstate import FAILED

log = logging.getLogger(__name__)

NO_CALLBACK = "none: set [webhook] public_url and start the daemon once"
"""What ``account`` shows while poster has no public callback URL to give."""
CURRENCY = "the account's own (the Intel Tele API names none in any answer)"
"""The balance and credit answers are bare numbers: the currency is the one the account has."""
CALLBACK_MAX = 4096
"""A status callback carries three short params; a larger body is not read."""
BLACKLISTED = "number is blacklisted"
REPEAT_WAIT = 61.0
"""The document blocks a repeat "to the same number within 1 minute": wait a little longer."""
REPEAT_TRIES = 3
"""Refusals as a repeat, of one item to one number, after which the refusal is final."""
REPEATS_KEPT = 10_000
"""(item, number) refusal counts kept at most; the oldest are forgotten first."""


@frozen
class SendOptions:
    """What a destination adds to every ``im/send``: sender, TTL and the SMS fallback's source."""

    sender: str | None = None
    ttl: timedelta | None = None
    sms_source: str | None = None


NO_OPTIONS = SendOptions()
"""A destination that sets no sender, TTL or SMS fallback."""


@dataclass
class _Outcome:
    """The per-number answers gathered over the calls of one batch."""

    accepted: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    opted_out: set[str] = field(default_factory=set)
    fatal: RecipientResult | None = None
    refused: set[str] = field(default_factory=set)
    """Numbers refused by a stopping error: nothing was sent to them."""
    repeated: dict[str, str] = field(default_factory=dict)
    """Numbers refused as a repeat, not sent, with the gateway's text."""
    maybe_sent: bool = False
    """Whether an earlier call of the batch may have queued a message."""


class IntelTeleAdapter:
    """Speak the Intel Tele IM API for one destination."""

    batch_size = BATCH_NUMBERS
    concurrency = 1

    def __init__(
        self,
        client: IntelTeleClient,
        options: SendOptions = NO_OPTIONS,
        callback_url: Callable[[], str | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.options = options
        self.callback_url = callback_url
        self._clock = clock
        self._repeats: dict[tuple[str, str, str], int] = {}
        """(feed, item key, number) -> how often the gateway refused it as a repeat."""
        self._last_accepted: dict[str, float] = {}
        """Number -> when it last took a message, for the minute before; oldest first."""

    def request(self, message: GatewayMessage, phones: Sequence[str]) -> SendRequest:
        """Return the ``im/send`` request carrying ``message`` to ``phones``."""
        ttl = self.options.ttl
        sms = self.options.sms_source and message.sms_text
        return SendRequest(
            to=tuple(phones),
            message=message.text,
            sender=self.options.sender,
            image=message.image,
            button_text=message.button_caption,
            button_link=message.button_action,
            ttl=None if ttl is None else int(ttl.total_seconds()),
            sms_source=self.options.sms_source if sms else None,
            sms_message=message.sms_text if sms else None,
        )

    def send(self, message: GatewayMessage, phones: Sequence[str]) -> BatchOutcome:
        """Send ``message`` to ``phones`` and say what became of each."""
        given = {normalise_number(phone) or phone: phone for phone in phones}
        outcome = _Outcome()
        calls = list(self.client.batches(self.request(message, phones)))
        for index, call in enumerate(calls):
            try:
                result = self.client.send(call)
            except DeliveryError as exc:
                raise _after(exc, outcome) from exc
            for one in result.results:
                _note(outcome, given.get(one.phone, one.phone), one)
            if outcome.fatal is not None:
                # The calls not made sent nothing either.
                outcome.refused.update(given.get(p, p) for c in calls[index + 1 :] for p in c.to)
                break
        wait = self._hold_repeats(message, outcome)
        found = BatchOutcome(
            outcome.accepted,
            outcome.rejected,
            frozenset(outcome.opted_out),
            frozenset(outcome.refused),
            wait,
        )
        if outcome.fatal is not None:
            # The numbers queued are recorded as sent. Those queued without a message id, or
            # missing from the answer, may have gone out: the outcome leaves them uncertain and
            # hands back only the refused ones, and the destination stops until a top-up.
            fatal = outcome.fatal
            text = f"{self.client.name} stopped: {fatal.status}; {fatal.hint}"
            raise StoppedPartway(text, found, fatal.status)
        return found

    def _hold_repeats(self, message: GatewayMessage, outcome: _Outcome) -> float | None:
        """Hand back the numbers refused as a repeat, until their third refusal; return the wait.

        A refusal of a number sent to within the minute is this destination's own pacing, not
        the item's: it waits without counting.
        """
        now = self._clock()
        recent = self._recently_accepted(now)
        for phone in outcome.accepted:
            self._repeats.pop((message.feed, message.key, phone), None)
            recent.pop(phone, None)
            recent[phone] = now
        held = False
        for phone, status in outcome.repeated.items():
            ref = (message.feed, message.key, phone)
            if phone in recent:
                outcome.refused.add(phone)
                held = True
                continue
            tries = self._repeats.pop(ref, 0) + 1
            if tries >= REPEAT_TRIES:
                outcome.rejected[phone] = f"{status} ({tries} times, a minute or more apart)"
                continue
            self._repeats[ref] = tries
            outcome.refused.add(phone)
            held = True
        while len(self._repeats) > REPEATS_KEPT:
            del self._repeats[next(iter(self._repeats))]
        return REPEAT_WAIT if held else None

    def _recently_accepted(self, now: float) -> dict[str, float]:
        """Return the numbers that took a message within the minute, the older ones dropped."""
        recent = self._last_accepted
        while recent and now - next(iter(recent.values())) >= REPEAT_WAIT:
            del recent[next(iter(recent))]
        return recent

    def requests(self, message: GatewayMessage, phones: Sequence[str]) -> list[dict[str, Any]]:
        """Return each call ``send`` would make: method, URL and params, credentials redacted."""
        url = f"{self.client.base_url}/{SEND}/"
        return [
            {"method": self.client.method, "url": url, "params": call.redacted()}
            for call in self.client.batches(self.request(message, phones))
        ]

    def statuses(self, message_ids: Sequence[str]) -> list[StatusUpdate]:
        """Ask ``im/status`` about ``message_ids``; return the final statuses among them."""
        found = self.client.status(StatusRequest(tuple(message_ids)))
        return [update for status in found if (update := _update(status)) is not None]

    def callback(self, method: str, query: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        """Read one status callback (GET query, POST form or JSON), or raise ``CallbackError``.

        Only a callback with no ``msgid`` and ``status`` anywhere is refused; the time recorded
        is the time of receipt, so a ``datetime`` in no known form is noted at debug level.
        """
        params = dict(query)
        if method.upper() == "POST":
            params.update(_body_params(body))
        elif method.upper() != "GET":
            raise CallbackError(f"a status callback comes as GET or POST, not {method[:10]}")
        try:
            status = wire.callback(params)
        except wire.Unreadable as exc:
            why = str(exc)
            if len(body) > CALLBACK_MAX:
                why += f"; a body over {CALLBACK_MAX} bytes is not read"
            raise CallbackError(why) from exc
        if status.raw_date and status.at is None:
            log.debug(
                "event=inteltele_callback_date_unread destination=%s msgid=%s datetime=%r",
                self.client.name, status.message_id[:64], status.raw_date[:40],
            )  # fmt: skip
        update = _update(status)
        return [] if update is None else [update]

    def account(self) -> Mapping[str, str]:
        """Return the balance, how far below zero it may go, and the callback URL to set there."""
        # The status callback URL is an account setting at Intel Tele, not a send parameter.
        url = self.callback_url() or NO_CALLBACK
        return {
            "balance": f"{self.client.balance()}",
            "credit": f"{self.client.credit()}",
            "currency": CURRENCY,
            "status callback URL": url,
        }

    def cost(self, message: GatewayMessage, phones: Sequence[str]) -> str | None:
        """Return the most sending ``message`` to ``phones`` costs, from the account's rates."""
        if not phones:
            return None
        rates = self.client.rates()
        counts: dict[str, int] = {}
        for phone in phones:
            country = country_of(normalise_number(phone) or "") or "?"
            counts[country] = counts.get(country, 0) + 1
        estimate = rates.estimate(counts)
        text = f"at most {estimate.total} for {len(phones)} number(s)"
        if estimate.unknown_countries:
            missing = sum(counts[c] for c in estimate.unknown_countries)
            names = ", ".join(c for c in estimate.unknown_countries if c != "?") or "unknown"
            text += f"; {missing} number(s) have no rate ({names}): the gateway refuses them"
        if message.sms_text and self.options.sms_source:
            text += "; SMS fallbacks are charged on top, per part"
        return text


def _note(outcome: _Outcome, phone: str, result: RecipientResult) -> None:
    """Record one number's answer: queued, refused, opted out, stopping, or left open."""
    outcome.maybe_sent = outcome.maybe_sent or result.action in ("ok", "uncertain")
    if result.action == "ok" and result.message_id is not None:
        outcome.accepted[phone] = result.message_id
    elif result.action == "reject-recipient":
        outcome.rejected[phone] = result.status
        if error_key(result.status) == BLACKLISTED:
            outcome.opted_out.add(phone)
    elif result.action == "retry-recipient":
        outcome.repeated[phone] = result.status
    elif result.action == "fatal":
        outcome.refused.add(phone)
        outcome.fatal = outcome.fatal or result


def _after(exc: DeliveryError, outcome: _Outcome) -> DeliveryError:
    """Return the error of a failed call; uncertain once an earlier call of the batch went out."""
    if isinstance(exc, DeliveryUncertain) or not outcome.maybe_sent:
        return exc
    # Releasing the batch now would send its first numbers a second time.
    return DeliveryUncertain(f"{exc}; part of the batch was already sent", exc.status, str(exc))


def _update(status: MessageStatus) -> StatusUpdate | None:
    """Return the ledger's update for a final status; None while the message is on its way."""
    if not status.final:
        return None
    if status.status == DELIVERED:
        return StatusUpdate(status.message_id, LEDGER_DELIVERED)
    return StatusUpdate(status.message_id, FAILED, status.status)


def _body_params(body: bytes) -> dict[str, str]:
    """Return the params of a callback body: a JSON object or a form; {} when it is neither.

    The document names the params but not how a POST carries them, so both are read.
    """
    if len(body) > CALLBACK_MAX:
        return {}
    text = body.decode("utf-8", errors="replace").strip()
    if not text.startswith("{"):
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(key): str(value)
        for key, value in data.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }
