"""Decide, without I/O, what a subscription needs at a given time and how to answer a hub.

Everything here takes the time as an argument, so leases, renewals and deadlines are tested
with an injected clock.
"""

from __future__ import annotations

import re
import string
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

from poster.frozen import frozen
from poster.push.subscriptions import State, Subscription

VERIFY_DEADLINE = timedelta(minutes=5)
"""How long a hub may take to verify a request before the subscription counts as failed."""
RETRY_AFTER = timedelta(hours=1)
"""How long a failed subscription waits before it is asked for again."""
RENEW_AT = 0.85
"""The share of a lease after which it is renewed."""
RENEW_MARGIN = timedelta(seconds=5)
"""The least time before a lease ends at which it is renewed: two of the push service's ticks
and the hub's check of the request must fit in before it, however short the lease."""
DEFAULT_LEASE = 86400
"""The lease assumed when a hub's verification names none (WebSub §5.3 says it must)."""
MAX_LEASE = 365 * 86400
DIGESTS = frozenset({"sha1", "sha256", "sha384", "sha512"})
"""WebSub §7.1.1: the methods a hub may sign with; the header is ``method=hexdigest``."""
UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
"""RFC 3986 §2.3: the characters a percent-escape stands for needlessly."""
DEFAULT_PORTS = {"http": "80", "https": "443"}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


class Step(StrEnum):
    """What a subscription needs now."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    FAIL = "fail"
    DROP = "drop"


@frozen
class Action:
    """One step due for one feed's subscription, and why."""

    step: Step
    feed: str
    reason: str


def due(sub: Subscription, now: datetime, wanted: bool) -> Action | None:
    """Return the step a subscription needs at ``now``, or None when it needs nothing."""
    if not wanted or sub.state is State.UNSUBSCRIBING:
        return _unwanted(sub, now)
    if sub.requested is not None and now - sub.requested >= VERIFY_DEADLINE:
        wait = int(VERIFY_DEADLINE.total_seconds() // 60)
        if live(sub, now):  # a renewal: the lease it renews still runs, so ask again
            why = f"the hub did not verify the renewal within {wait} min: asking again"
            return Action(Step.SUBSCRIBE, sub.feed, why)
        return Action(Step.FAIL, sub.feed, f"the hub did not verify the request within {wait} min")
    if sub.state is State.ACTIVE and sub.requested is None and now >= renew_at(sub):
        if sub.expires is not None and now >= sub.expires:  # a machine asleep, a clock jump
            return Action(Step.SUBSCRIBE, sub.feed, "the lease ran out: subscribing again")
        return Action(Step.SUBSCRIBE, sub.feed, "renewing the lease")
    if sub.state is State.FAILED and now - sub.changed >= RETRY_AFTER:
        return Action(Step.SUBSCRIBE, sub.feed, "asking again after a failure")
    return None


def _unwanted(sub: Subscription, now: datetime) -> Action | None:
    """Return the step that ends a subscription whose feed is gone, disabled or paused."""
    if sub.state in (State.PENDING, State.ACTIVE):
        return Action(Step.UNSUBSCRIBE, sub.feed, "the feed is removed or disabled")
    if sub.state in (State.FAILED, State.DENIED):
        return Action(Step.DROP, sub.feed, "the feed is removed or disabled")
    if sub.requested is None or now - sub.requested >= VERIFY_DEADLINE:
        # An unverified unsubscription is let go: the hub's lease runs out on its own.
        return Action(Step.DROP, sub.feed, "unsubscribed")
    return None


def renew_at(sub: Subscription) -> datetime:
    """Return when an active subscription's lease is renewed."""
    lease = timedelta(seconds=sub.lease or DEFAULT_LEASE)
    expires = sub.expires or sub.changed + lease
    return expires - max(lease * (1 - RENEW_AT), RENEW_MARGIN)


def live(sub: Subscription | None, now: datetime) -> bool:
    """Tell whether the hub pushes the feed's new content at ``now``."""
    return (
        sub is not None
        and sub.state is State.ACTIVE
        and sub.expires is not None
        and now < sub.expires
    )


def poll_due(
    sub: Subscription | None, now: datetime, last_read: datetime | None, safety: timedelta
) -> bool:
    """Tell whether a feed should be polled: always, or every ``safety`` while push is live."""
    if not live(sub, now) or last_read is None:
        return True
    return now - last_read >= safety


@frozen
class Answer:
    """How to answer a hub's verification call, and the subscription as it is after it."""

    status: int
    body: bytes
    after: Subscription | None
    changed: bool


def verify_intent(
    sub: Subscription | None, mode: str, topic: str, params: dict[str, str], now: datetime
) -> Answer:
    """Answer a hub's GET: echo the challenge only for a request poster made (WebSub §5.3)."""
    refuse = Answer(404, b"no such subscription\n", sub, False)
    if sub is None or not same_topic(topic, sub.topic):
        return refuse
    challenge = params.get("hub.challenge", "")
    # WebSub §5.3.1: only a pending request is confirmed, a first one or a renewal; a check
    # the subscriber did not ask for (a replay, once active) gets 404.
    asked = sub.state is State.PENDING or (sub.state is State.ACTIVE and sub.requested is not None)
    if mode == "subscribe" and asked and challenge:
        lease = _lease(params.get("hub.lease_seconds"))
        after = sub.moved(
            state=State.ACTIVE, lease=lease, expires=now + timedelta(seconds=lease),
            requested=None, error=None, changed=now,
        )  # fmt: skip
        return Answer(200, challenge.encode(), after, True)
    if mode == "unsubscribe" and sub.state is State.UNSUBSCRIBING and challenge:
        return Answer(200, challenge.encode(), None, True)
    if mode == "denied" and sub.state in (State.PENDING, State.ACTIVE, State.FAILED):
        # WebSub §5.2: a hub may deny at any point, even after a request that seemed to fail;
        # the subscriber should then consider the subscription not possible anymore.
        reason = _printable(params.get("hub.reason", "")) or "no reason given"
        after = sub.moved(state=State.DENIED, error=reason, requested=None, changed=now)
        return Answer(200, b"", after, True)
    return refuse


def same_topic(given: str, asked: str) -> bool:
    """Tell whether the topic a hub names is the one asked for, both normalised (RFC 3986 §6.2.2).

    WebSub §5.1.1: a hub decodes unreserved characters, so ``%7Euser`` comes back as ``~user``.
    A topic that is no URL (``http://[::1``) is not the one asked for.
    """
    try:
        return _normal(given) == _normal(asked)
    except ValueError:
        return False


def _normal(url: str) -> str:
    """Return a URL with scheme and host in lower case, no default port, escapes normalised."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    authority = _authority(scheme, parts.netloc)
    return _ESCAPE.sub(_escape, urlunsplit((scheme, authority, *parts[2:])))


def _authority(scheme: str, netloc: str) -> str:
    """Return a URL's authority with its host in lower case and without a default port."""
    userinfo, at, host_port = netloc.rpartition("@")
    host, colon, port = host_port.rpartition(":")
    if not colon or "]" in port:  # no port, or the last colon is inside an IPv6 literal
        host, port = host_port, ""
    # RFC 3986 §6.2.3: an empty port and the scheme's default port are the same as none.
    if port not in ("", DEFAULT_PORTS.get(scheme)):
        host = f"{host}:{port}"
    return userinfo + at + host.lower()


def _escape(found: re.Match[str]) -> str:
    """Return a percent-escape decoded when it stands for an unreserved character, else upper."""
    char = chr(int(found.group(1), 16))
    return char if char in UNRESERVED else found.group(0).upper()


def _lease(text: str | None) -> int:
    """Return the granted lease in seconds, within sane bounds."""
    digits = (text or "").strip()
    # isdigit() passes "²", which int() refuses: only ASCII digits are a number of seconds.
    if not (digits.isascii() and digits.isdecimal()):
        return DEFAULT_LEASE
    if len(digits) > len(str(MAX_LEASE)):  # int() refuses over 4300 digits; any such is long
        return MAX_LEASE
    return max(1, min(int(digits), MAX_LEASE))


def _printable(text: str) -> str:
    """Return a hub's text safe for one log or status line."""
    return "".join(ch if ch.isprintable() else " " for ch in text)[:200].strip()


def authentic(sub: Subscription, header: str | None, body: bytes) -> bool:
    """Tell whether pushed content is taken: signed with the secret, when the hub was given it.

    WebSub §5.1: a hub given no secret signs nothing; §7.1.2: given one, it signs everything.
    """
    return not sub.secret_given or signed(header, body, sub.secret)


def signed(header: str | None, body: bytes, secret: str) -> bool:
    """Tell whether ``X-Hub-Signature`` is the HMAC of ``body`` with ``secret`` (WebSub §7.1.2)."""
    if not header:
        return False
    method, sep, given = header.strip().partition("=")
    digest = method.strip().lower()
    if not sep or digest not in DIGESTS:
        return False
    import hmac  # here: it loads OpenSSL, which status, reading the plan's constants, never needs

    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("ascii", "replace"))
