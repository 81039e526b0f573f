"""Keep a fake DecisionTelecom account and answer its API calls as the document describes.

Every call is judged from the raw request, in the order the real service most likely uses:
Basic auth, the rate limit, queued faults, the body's rules (``rules``), then the balance.
Errors are the document's JSON objects with the same HTTP status. Choices where it is silent:

- a refused key gets HTTP 401 ``{"name": "Unauthorized", ..., "code": 0, "status": 401}``.
- a body that is not a JSON object with ``Content-Type: application/json`` reads as empty, so
  the first missing parameter is named ("Invalid Parameter: source_addr").
- the key is accepted as base64(key), and as base64(key + ":"), what the PHP example's
  CURLOPT_USERPWD sends.
- a number whose country cannot be determined is refused at once ("Invalid Parameter:
  destination_addr"); blacklisted and unroutable numbers are accepted, then end "rejected" (3)
  and "error" (2); offline numbers stay "sent" until the TTL ends, then "undelivered" (4),
  and are not charged ("validity_period").
- statuses advance with the clock: pending (5), sent (0), delivered (1).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import itertools
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from poster.destinations.decisiontelecom.rules import TWO_WAY_TYPES, send_problem
from poster.destinations.decisiontelecom.schema import MessageStatus, whole_number
from poster.frozen import frozen

DEFAULT_TTL = 86400
"""No validity_period: "Viber will try to deliver the message for up to 1 day"."""
STATUS_DAYS = 5
"""receive-viber answers "for the last 5 days"."""
FAULT_KINDS = ("drop", "http500", "garbled500", "slow:<seconds>")

UNAUTHORIZED = (401, "Unauthorized", "Your request was made with invalid credentials.", 0)
TOO_MANY = (429, "Too Many Requests", "Rate limit exceeded", 0)
INVALID = (400, "Invalid Parameter: {}", "Empty parameter or parameter validation error", 1)
INTERNAL = (
    500,
    "Internal server error",
    "The server encountered an unexpected condition which prevented it from fulfilling the request",
    2,
)
TOPUP = (402, "Topup balance is required", "User balance is empty", 3)


@frozen
class Answer:
    """What the server does for one call: JSON after ``delay`` seconds, raw bytes, or hang up."""

    http_status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    raw: bytes | None = None
    drop: bool = False


@frozen
class Accepted:
    """One message the fake took, as the subscriber's phone would get it."""

    message_id: int
    phone: str
    body: dict[str, Any]
    at: float

    @property
    def ttl(self) -> int:
        """Return how long the gateway tries to deliver, in seconds."""
        value = self.body.get("validity_period")
        return value if isinstance(value, int) else DEFAULT_TTL


@dataclass
class Numbers:
    """Phone numbers that misbehave, as digit strings."""

    blacklisted: set[str] = field(default_factory=set)
    unroutable: set[str] = field(default_factory=set)
    unknown_country: set[str] = field(default_factory=set)
    offline: set[str] = field(default_factory=set)


def error(kind: tuple[int, str, str, int], param: str = "", **headers: str) -> Answer:
    """Return the document's error object for ``kind`` with its HTTP status."""
    status, name, message, code = kind
    body = {"name": name.format(param), "message": message, "code": code, "status": status}
    return Answer(status, body, tuple(headers.items()))


class Gateway:
    """Answer send-viber and receive-viber for one access key, with a balance and a clock."""

    def __init__(
        self,
        access_key: str = "fake-access-key",
        *,
        balance: float = 100.0,
        price: float = 0.5,
        clock: Callable[[], float] = time.time,
        rate_limit: int = 100,
        rate_window: float = 1.0,
        pending_for: float = 1.0,
        deliver_after: float = 5.0,
    ) -> None:
        self._keys = {_b64(access_key), _b64(access_key + ":")}
        self.balance = balance
        self.price = price
        self.clock = clock
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.pending_for = pending_for
        self.deliver_after = deliver_after
        self.numbers = Numbers()
        self._ids = itertools.count(429)
        self._messages: dict[int, Accepted] = {}
        self._calls: deque[float] = deque()
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()

    @property
    def messages(self) -> list[Accepted]:
        """Return every accepted message, oldest first."""
        with self._lock:
            return list(self._messages.values())

    def forget(self) -> int:
        """Drop every accepted message, so a long run holds no history; return how many."""
        with self._lock:
            count = len(self._messages)
            self._messages.clear()
        return count

    def inbox(self, phone: str) -> list[Accepted]:
        """Return what one subscriber's phone got, oldest first."""
        return [m for m in self.messages if m.phone == phone]

    def inject(self, *faults: str) -> None:
        """Queue faults for the next calls, one each; raise ValueError on an unknown one."""
        for fault in faults:
            kind, colon, seconds = fault.partition(":")
            slow = kind == "slow" and colon and seconds.replace(".", "", 1).isdigit()
            if not slow and (colon or kind not in FAULT_KINDS):
                raise ValueError(f"unknown fault {fault!r}; use one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self._faults.extend(faults)

    def status(self, accepted: Accepted, now: float | None = None) -> MessageStatus:
        """Return the status of an accepted message at ``now`` (the clock when None)."""
        age = (self.clock() if now is None else now) - accepted.at
        if age < self.pending_for:
            return MessageStatus.PENDING
        if accepted.phone in self.numbers.blacklisted:
            return MessageStatus.REJECTED
        if accepted.phone in self.numbers.unroutable:
            return MessageStatus.ERROR
        if accepted.phone in self.numbers.offline:
            return MessageStatus.UNDELIVERED if age >= accepted.ttl else MessageStatus.SENT
        return MessageStatus.DELIVERED if age >= self.deliver_after else MessageStatus.SENT

    def charged(self) -> float:
        """Return what the account has paid: messages not undelivered by their TTL."""
        with self._lock:
            return self._charged()

    def call(self, endpoint: str, authorization: str | None, kind: str, raw: bytes) -> Answer:
        """Answer one API call from its endpoint, Authorization, Content-Type and body."""
        if not self._authorized(authorization):
            return error(UNAUTHORIZED, **{"WWW-Authenticate": 'Basic realm="api"'})
        with self._lock:
            limited = self._rate_limited()
            fault = self._faults.popleft() if self._faults and not limited else ""
        if limited is not None:
            return limited
        if fault == "http500":
            return error(INTERNAL)
        if fault == "garbled500":
            return Answer(500, raw=b"<html><body>502 Bad Gateway</body></html>")
        body = _body(kind, raw)
        answer = self._send(body) if endpoint == "send-viber" else self._status(body)
        if fault == "drop":
            return Answer(0, drop=True)
        if fault.startswith("slow:"):
            return Answer(answer.http_status, answer.body, answer.headers, float(fault[5:]))
        return answer

    def _authorized(self, authorization: str | None) -> bool:
        """Tell whether the header is ``Basic <base64 of the key>``."""
        scheme, _, value = (authorization or "").partition(" ")
        given = value.strip().encode("ascii", "replace")
        return scheme.lower() == "basic" and any(hmac.compare_digest(given, k) for k in self._keys)

    def _rate_limited(self) -> Answer | None:
        """Count this call; return the 429 answer when the window is already full."""
        now = self.clock()
        while self._calls and self._calls[0] <= now - self.rate_window:
            self._calls.popleft()
        if len(self._calls) >= self.rate_limit:
            wait = max(1, int(self._calls[0] + self.rate_window - now + 0.999))
            headers = {"Retry-After": str(wait), "X-Rate-Limit-Limit": str(self.rate_limit)}
            return error(TOO_MANY, **headers, **{"X-Rate-Limit-Remaining": "0"})
        self._calls.append(now)
        return None

    def _send(self, body: dict[str, Any]) -> Answer:
        """Validate and accept one send-viber call."""
        problem = send_problem(body)
        if problem is not None:
            return error(INVALID, problem[0])
        phone = str(body["destination_addr"])
        if phone in self.numbers.unknown_country:
            return error(INVALID, "destination_addr")
        with self._lock:
            # An unlimited balance skips the sum over every message, which long runs cannot pay.
            if self.balance != math.inf and self.balance - self._charged() < self.price - 1e-9:
                return error(TOPUP)
            accepted = Accepted(next(self._ids), phone, body, self.clock())
            self._messages[accepted.message_id] = accepted
        return Answer(200, {"message_id": accepted.message_id})

    def _charged(self) -> float:
        """Return ``charged()`` for a caller already holding the lock."""
        unpaid = MessageStatus.UNDELIVERED
        return self.price * sum(1 for m in self._messages.values() if self.status(m) is not unpaid)

    def _status(self, body: dict[str, Any]) -> Answer:
        """Answer one receive-viber call for a message of the last 5 days."""
        found = whole_number(body.get("message_id"))
        with self._lock:
            accepted = self._messages.get(found) if found is not None else None
        if accepted is None or self.clock() - accepted.at > STATUS_DAYS * 86400:
            return error(INVALID, "message_id")
        return Answer(200, {"message_id": accepted.message_id, "status": self.status(accepted)})

    def two_way(self, phone: str) -> Accepted | None:
        """Return the last 2-Way message to ``phone`` that carries a callback URL."""
        for accepted in reversed(self.inbox(phone)):
            two_way = accepted.body.get("message_type") in TWO_WAY_TYPES
            if two_way and accepted.body.get("callback_url"):
                return accepted
        return None


def _b64(text: str) -> bytes:
    """Return the base64 of ``text`` as ASCII bytes."""
    return base64.b64encode(text.encode("utf-8"))


def _body(kind: str, raw: bytes) -> dict[str, Any]:
    """Return the JSON object body, or an empty one when it is not JSON sent as JSON."""
    if kind.split(";")[0].strip().lower() != "application/json":
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return {}
    return data if isinstance(data, dict) else {}
