"""Hold the state of a strict fake Intel Tele account and answer its API calls; no sockets.

It follows ``inteltele-im-api.txt`` to the letter where the document speaks, and where it is
silent it does, one line each:
- ``balance``, ``credit`` and ``im/status`` report errors in the ``{"reply": [...]}`` shape.
- a missing or unknown username is "wrong username/api_key"; a known one with another key is
  "wrong api key"; five refused logins from one IP block it for 5 minutes.
- any other broken rule of ``rules.py`` (bad ttl, image, button, sms_source) is the generic
  "can't send message"; over 1000 symbols is "message is too long".
- a message is "enroute" until ``deliver_after`` seconds have passed, then takes its number's
  outcome ("delivrd" unless configured); ``im/status`` leaves out ids it does not know.
- ``im/status`` takes one message id in ``requests``, as the document's one example: the
  table names no such param, let alone a list, so "a,b" is one id it does not know.
- sending is allowed while balance - cost stays at or above -credit, so the balance may go
  below zero as in the document's example "-0.42".
- a rate limit answers HTTP 429 with Retry-After: 1 (the document names no rate limit).
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from poster.destinations.inteltele.rules import normalise_number, send_problems
from poster.frozen import frozen

PREFIXES: Mapping[str, tuple[str, str]] = {
    "380": ("ua", "255"), "49": ("de", "262"), "44": ("gb", "234"), "7": ("ru", "250"),
    "1": ("us", "310"),
}  # fmt: skip
"""Dialling prefix -> (country, MCC); gb and us have no rate below, so no route."""

RATES: Mapping[str, Mapping[str, tuple[str, int]]] = {
    "ru": {"01": ("0.186440", 0), "": ("0.200000", 0)},
    "ua": {"": ("0.150000", 1)},
    "de": {"": ("0.300000", 0)},
}
FAULTS = ("drop", "http500", "no-id", "slow:<seconds>")
REPEAT_SECONDS = 60.0
BRUTEFORCE_LOGINS, BRUTEFORCE_SECONDS = 5, 300.0
TIME_FORMATS = {"datetime": "%Y-%m-%d %H:%M:%S", "date": "%Y-%m-%d", "time": "%H:%M:%S"}
PENDING = "enroute"


@frozen
class Reply:
    """What the server writes back: an HTTP status and a JSON body (None = drop the line)."""

    body: Any
    http_status: int = 200
    retry_after: int | None = None
    delay: float = 0.0


@frozen
class Delivery:
    """One accepted message to one phone, as that phone would get it."""

    message_id: str
    phone: str
    country: str
    cost: Decimal
    params: Mapping[str, str]
    """The ``im_*`` and ``sms_*`` params as received, never the credentials."""
    sent_at: float
    done_at: float
    outcome: str

    def status(self, now: float) -> str:
        """Return the message's status at ``now``."""
        return self.outcome if now >= self.done_at else PENDING


@dataclass
class Account:
    """The fake account's settings; tests change them to provoke each documented answer."""

    username: str = "poster"
    api_key: str = "fake-api-key-0123456789"
    balance: Decimal = Decimal("10")
    credit: Decimal = Decimal("0")
    allowed_ips: frozenset[str] | None = None
    banned_senders: set[str] = field(default_factory=set)
    blacklisted: set[str] = field(default_factory=set)
    unroutable: set[str] = field(default_factory=set)
    unknown_country: set[str] = field(default_factory=set)
    outcomes: dict[str, str] = field(default_factory=dict)
    """Phone -> final status other than "delivrd" ("undeliv", "expired", ...)."""
    deliver_after: float = 5.0
    rate_limit: int = 0
    """Calls allowed per second of the clock; 0 means no limit."""
    timezone: str = "UTC"
    reads_form: bool = True
    """Whether a POST's form body is read; False reads the query alone, as the document shows
    every call (the gateway may not read a form at all)."""
    unknown_ids_refused: bool = False
    """Whether ``im/status`` answers an id it does not know with "can't send message" instead
    of leaving it out (the document does not say)."""
    repeats_any_text: bool = False
    """Whether any message to a number within the minute is a repeat, the document's other
    reading of "repeatedly sent to the same number", not only one with the same text."""


class Gateway:
    """Answer API calls for one ``Account`` at the time an injected clock gives."""

    def __init__(self, account: Account, clock: Callable[[], float]) -> None:
        self.account = account
        self.clock = clock
        self.deliveries: list[Delivery] = []
        self._last_sent: dict[tuple[str, str | None], float] = {}
        """When each (phone, text) last went out, and (phone, None) any text: the repeat check."""
        self._faults: deque[str] = deque()
        self._refused: dict[str, list[float]] = {}
        self._calls: dict[int, int] = {}
        self._reported: set[str] = set()
        self._lock = threading.Lock()

    def inject(self, *faults: str) -> None:
        """Queue faults for the next API calls, one each; raise ValueError on an unknown one."""
        for fault in faults:
            name, _, seconds = fault.partition(":")
            if not (fault in FAULTS[:3] or (name == "slow" and _is_seconds(seconds))):
                raise ValueError(f"unknown fault {fault!r}; use one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend(faults)

    def call(self, endpoint: str, params: Mapping[str, str], ip: str) -> Reply:
        """Answer one API call to ``endpoint`` ("im/send", ...) from ``ip``."""
        with self._lock:
            fault = self._faults.popleft() if self._faults else ""
            if fault == "http500":
                return Reply({"error": "Internal Server Error"}, 500)
            reply = self._call(endpoint, params, ip)
        if fault == "drop":
            return Reply(None)
        if fault == "no-id":
            reply = Reply(_without_ids(reply.body), reply.http_status, reply.retry_after)
        return Reply(reply.body, reply.http_status, reply.retry_after, _seconds(fault))

    def due_reports(self) -> list[dict[str, str]]:
        """Return the status callbacks now due, each once: msgid, status, datetime (UTC)."""
        now, due = self.clock(), []
        with self._lock:
            for item in self.deliveries:
                if item.message_id not in self._reported and now >= item.done_at:
                    self._reported.add(item.message_id)
                    when = datetime.fromtimestamp(item.done_at, UTC)
                    stamp = when.strftime(TIME_FORMATS["datetime"])
                    report = {"msgid": item.message_id, "status": item.outcome}
                    due.append({**report, "datetime": stamp})
        return due

    def _call(self, endpoint: str, params: Mapping[str, str], ip: str) -> Reply:
        """Check the limits and the login, then run the endpoint."""
        handlers: dict[str, Callable[[Mapping[str, str]], Any]] = {
            "im/send": self._send,
            "im/status": self._status,
            "balance": lambda _: {"balance": f"{self.account.balance:.2f}"},
            "credit": lambda _: {"credit": f"{self.account.credit:.2f}"},
            "rates": lambda _: {self.account.username: _rates()},
        }
        if endpoint not in handlers:
            return Reply({"error": f"no endpoint {endpoint}"}, 404)
        if self._over_rate():
            return Reply({"error": "too many requests"}, 429, retry_after=1)
        refused = self._refusal(params, ip)
        if refused is not None:
            return Reply(_error_body(endpoint, refused))
        return Reply(handlers[endpoint](params))

    def _over_rate(self) -> bool:
        """Count this call and tell whether it goes over the per-second limit."""
        second = int(self.clock())
        self._calls = {second: self._calls.get(second, 0) + 1}
        return 0 < self.account.rate_limit < self._calls[second]

    def _refusal(self, params: Mapping[str, str], ip: str) -> str | None:
        """Return the error for an IP or login the account refuses, or None."""
        account, now = self.account, self.clock()
        if account.allowed_ips is not None and ip not in account.allowed_ips:
            return "ip not allowed"
        recent = [t for t in self._refused.get(ip, []) if now - t < BRUTEFORCE_SECONDS]
        self._refused[ip] = recent
        if len(recent) >= BRUTEFORCE_LOGINS:
            return "bruteforcing detected"
        if params.get("username") != account.username:
            recent.append(now)
            return "wrong username/api_key"
        if params.get("api_key") != account.api_key:
            recent.append(now)
            return "wrong api key"
        return None

    def _send(self, params: Mapping[str, str]) -> Any:
        """Queue one message for each number of ``to``, or refuse the whole request."""
        problems = send_problems(params)
        if problems:
            return _reply_error(problems[0][0])
        if params.get("im_sender") in self.account.banned_senders:
            return _reply_error("sender is banned")
        phones = [p.strip() for p in params["to"].split(",") if p.strip()]
        # Every number of a request gets the same message: pick its params out once, shared.
        kept = {k: v for k, v in params.items() if k.startswith(("im_", "sms_"))}
        return {"reply": [self._one(phone, kept) for phone in phones]}

    def _one(self, phone: str, kept: Mapping[str, str]) -> dict[str, str]:
        """Queue one number's message, or return its per-number error."""
        account, now = self.account, self.clock()
        place = _country(phone) if phone not in account.unknown_country else None
        if place is None:
            return {"number": phone, "status": "error: can't determine country"}
        country, mcc = place
        if phone in account.blacklisted:
            return {"number": phone, "status": "error: number is blacklisted"}
        if phone in account.unroutable or country not in RATES:
            return {"number": phone, "status": "error: no route to country"}
        if self._repeated(phone, kept["im_message"], now):
            return {"number": phone, "status": "error: repeat detected"}
        cost = _cost(country)
        if account.balance - cost < -account.credit:
            return {"number": phone, "status": "error: low balance", "cost": f"{cost:.6f}"}
        account.balance -= cost
        delivery = self._record(phone, country, cost, kept, now)
        return {
            "status": "OK", "cost": f"{cost:.6f}", "country": country, "mcc": mcc,
            "number": phone, "message_id": delivery.message_id,
        }  # fmt: skip

    def _repeated(self, phone: str, text: str, now: float) -> bool:
        """Tell whether the same text (any text, if so set) went to ``phone`` within a minute."""
        last = self._last_sent.get((phone, None if self.account.repeats_any_text else text))
        return last is not None and now - last <= REPEAT_SECONDS

    def _record(
        self, phone: str, country: str, cost: Decimal, kept: Mapping[str, str], now: float
    ) -> Delivery:
        """Keep one accepted message, as the phone will get it."""
        outcome = self.account.outcomes.get(phone, "delivrd")
        done = now + self.account.deliver_after
        delivery = Delivery(str(uuid.uuid4()), phone, country, cost, kept, now, done, outcome)
        self.deliveries.append(delivery)
        self._last_sent[phone, kept.get("im_message")] = now
        self._last_sent[phone, None] = now
        return delivery

    def _status(self, params: Mapping[str, str]) -> Any:
        """Return the status of the message ``requests`` names, if it is known."""
        message_id = params.get("requests", "").strip()
        form = params.get("timeformat")
        zone_name = params.get("timezone") or self.account.timezone
        zone = _zone(zone_name)
        if not message_id or (form is not None and form not in TIME_FORMATS) or zone is None:
            return _reply_error("can't send message")
        known = next((d for d in self.deliveries if d.message_id == message_id), None)
        if known is None:
            return _reply_error("can't send message") if self.account.unknown_ids_refused else {}
        return {message_id: self._entry(known, form, zone, zone_name)}

    def _entry(
        self, item: Delivery, form: str | None, zone: ZoneInfo, zone_name: str
    ) -> dict[str, str]:
        """Return one message's ``im/status`` entry."""
        now = self.clock()
        entry = {"status": item.status(now), "time_zone": zone_name}
        if form is not None:
            stamp = item.done_at if now >= item.done_at else item.sent_at
            entry["date"] = datetime.fromtimestamp(stamp, zone).strftime(TIME_FORMATS[form])
        return entry


def _rates() -> dict[str, dict[str, list[Any]]]:
    """Return the rates table as the document shows it: [price, pay-only-delivered]."""
    return {
        country: {network: [float(price), flag] for network, (price, flag) in networks.items()}
        for country, networks in RATES.items()
    }


@functools.cache
def _cost(country: str) -> Decimal:
    """Return what a message to ``country`` costs: its dearest network's price."""
    return max(Decimal(price) for price, _ in RATES[country].values())


def _country(phone: str) -> tuple[str, str] | None:
    """Return (country, MCC) of a well-formed number with a known prefix, else None."""
    if normalise_number(phone) != phone:
        return None
    return next((place for prefix, place in PREFIXES.items() if phone.startswith(prefix)), None)


def _zone(name: str) -> ZoneInfo | None:
    """Return the time zone called ``name``, or None when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _reply_error(error: str) -> dict[str, list[dict[str, str]]]:
    """Return a whole-request error in the ``im/send`` shape."""
    return {"reply": [{"status": f"error: {error}"}]}


def _error_body(endpoint: str, error: str) -> Any:
    """Return a login error in the shape of ``endpoint`` (``rates`` has its own)."""
    if endpoint != "rates":
        return _reply_error(error)
    if error.startswith("wrong"):
        return {"message": "Invalid auth", "error": True}
    return {"status": error, "error": True}


def _without_ids(body: Any) -> Any:
    """Return an ``im/send`` answer whose queued numbers lack their ``message_id`` (a fault)."""
    if not isinstance(body, dict) or not isinstance(body.get("reply"), list):
        return body
    return {"reply": [{k: v for k, v in one.items() if k != "message_id"} for one in body["reply"]]}


def _is_seconds(text: str) -> bool:
    """Tell whether ``text`` is a number of seconds from 0 to 60."""
    try:
        return 0 <= float(text) <= 60
    except ValueError:
        return False


def _seconds(fault: str) -> float:
    """Return how long a "slow:S" fault delays the answer, else 0."""
    return float(fault.partition(":")[2]) if fault.startswith("slow:") else 0.0


def phones_of(deliveries: Iterable[Delivery]) -> dict[str, list[Delivery]]:
    """Return the accepted messages grouped by the phone that gets them, oldest first."""
    grouped: dict[str, list[Delivery]] = {}
    for item in deliveries:
        grouped.setdefault(item.phone, []).append(item)
    return grouped
