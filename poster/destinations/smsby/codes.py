"""Map every SMS.BY error to what poster does about it, in one table: ``ERRORS``.

The document (``bulk-viber-aggregator-api.txt``) names HTTP 400/404/429/500 with their texts,
``errors`` entries of ``statusBulkViber`` ("mailing list 3: Content url is not valid") and v2
answers whose ``status`` is not "OK". It gives no texts for refused credentials, balance or
numbers; the rows marked ``documented=False`` are the texts the service most likely uses, and
their patterns also match the usual wordings, so an unseen variant still lands on its action.
"""

from __future__ import annotations

import re

from poster.errors import DeliveryError, DestinationFatal, MessageRejected, RetryLater
from poster.frozen import frozen
from poster.text import when

RETRY = "retry"
FATAL = "fatal"
REJECT = "reject"
REJECT_RECIPIENT = "reject-recipient"


@frozen
class ErrorRule:
    """One error of the gateway: how it shows, what poster does, what an operator should do."""

    key: str
    http: int | None
    text: str
    action: str
    hint: str
    pattern: str = ""
    """Regular expression (case-insensitive) that recognises the text in an answer."""
    documented: bool = True


ERRORS: tuple[ErrorRule, ...] = (
    # Responses of sendBulkViber and statusBulkViber.
    ErrorRule("invalid-request", 400, "Invalid request", REJECT,
              "the gateway could not accept the message as sent; see its reason"),
    ErrorRule("not-found", 404, "Page not found", FATAL,
              "the API address is wrong; check the gateway's api_url"),
    ErrorRule("rate-limit", 429, "Request limit exceeded", RETRY,
              "the gateway limits the request rate; poster waits and tries again",
              r"limit exceeded|too many requests|rate limit"),
    ErrorRule("server", 500, "Server unavailable", RETRY,
              "the gateway is down for now; poster tries again later",
              r"server unavailable"),
    # The errors entries of the statusBulkViber example.
    ErrorRule("content-url", None, "Content url is not valid", REJECT,
              "the image URL must be a public http(s) link to a picture",
              r"content url|image url|url is not valid"),
    ErrorRule("image-size", None, "Optimal image size 800x800 px", REJECT,
              "use a picture of about 800x800 pixels", r"image size"),
    # Not described by the document: the texts the service most likely sends.
    ErrorRule("token", 401, "Invalid token", FATAL,
              "the API key is wrong or revoked; copy it again from the SMS.BY account",
              r"token|api key|unauthori[sz]ed|authenticat", False),
    ErrorRule("ip", 403, "Access from this IP address is not allowed", FATAL,
              "add this machine's address to the allowed IPs in the SMS.BY account",
              r"\bip\b", False),
    ErrorRule("bruteforce", None, "Too many failed attempts, access is blocked", FATAL,
              "the account is blocked after failed logins; ask SMS.BY support to unblock it",
              r"brute|failed attempts|access is blocked", False),
    ErrorRule("sender", None, "Viber name is blocked", FATAL,
              "the Viber name (vibername_id) or alphaname is blocked or unknown; check both in "
              "the SMS.BY account", r"viber ?name|alpha ?name|sender", False),
    ErrorRule("balance", None, "Insufficient funds", FATAL,
              "the balance is empty; top up the SMS.BY account",
              r"funds|balance|top.?up", False),
    ErrorRule("blacklist", None, "Phone number is in the blacklist", REJECT_RECIPIENT,
              "the subscriber opted out; the number is skipped",
              r"black.?list|opted.?out|unsubscribed|stop.?list", False),
    ErrorRule("no-route", None, "No route to the phone number", REJECT_RECIPIENT,
              "the gateway cannot reach this operator; the number is skipped",
              r"no route|unroutable|not routable", False),
    ErrorRule("country", None, "Cannot determine the country of the phone number",
              REJECT_RECIPIENT, "check the number has its country code",
              r"country", False),
    ErrorRule("repeat", None, "Repeat message detected", REJECT_RECIPIENT,
              "the same text went to this number a moment ago; the number is skipped",
              r"repeat|duplicate", False),
    ErrorRule("phone", None, "Phone number is not valid", REJECT_RECIPIENT,
              "write the number in international format, digits only (375291111111)",
              r"phone", False),
    ErrorRule("not-found-id", None, "Message not found", REJECT,
              "the gateway does not know this message or mailing id",
              r"(message|mailing|uuid|list)\b[^.]*not found|unknown (message|mailing)", False),
    ErrorRule("confirmed", None, "Mailing is already confirmed", REJECT,
              "the mailing was confirmed before; it is not confirmed twice",
              r"already confirmed", False),
)  # fmt: skip

UNAVAILABLE_HTTP = frozenset({500, 503})
"""HTTP statuses that say the gateway did nothing, whatever the body: the document's "500 — Server
unavailable", and 503. Any other 5xx to a send comes from something in front of the gateway (a
proxy that gave up waiting): the send may have been carried out."""

_BY_KEY = {rule.key: rule for rule in ERRORS}
_BY_HTTP = {rule.http: rule for rule in ERRORS if rule.http is not None}
_BY_HTTP_ALONE = {429: _BY_KEY["rate-limit"]} | dict.fromkeys(UNAVAILABLE_HTTP, _BY_KEY["server"])
"""HTTP statuses that decide before any text: the request was not carried out, so what a body
says of it (a crashed handler's "Undefined index: phone") refuses neither the number nor the key."""

UNDELIVERED = ErrorRule(
    "undelivered", None, "Not delivered", REJECT_RECIPIENT,
    "the gateway reports this number did not get the message; see its error_code",
)  # fmt: skip
"""A delivery that failed (a non-zero ``error_code``, a failure status) and whose answer gives
no reason poster knows. The document shows ``error_code`` 0 alone, so a code says that the
delivery failed and nothing of why: only the answer's words can opt a number out."""


def rule(key: str) -> ErrorRule:
    """Return the rule named ``key``."""
    return _BY_KEY[key]


def classify(http: int | None, text: str) -> ErrorRule:
    """Return the rule for an answer: by a 429, 500 or 503 alone, else its text, else its status."""
    if http is not None and http in _BY_HTTP_ALONE:
        return _BY_HTTP_ALONE[http]
    # The reason is more precise than the other statuses: a 400 may be a wrong token or an empty
    # balance.
    for candidate in ERRORS:
        if candidate.pattern and re.search(candidate.pattern, text, re.IGNORECASE):
            return candidate
    if http is not None and http in _BY_HTTP:
        return _BY_HTTP[http]
    if http is not None and http >= 500:
        return _BY_HTTP[500]
    if http == 403:
        return _BY_KEY["ip"]
    return _BY_KEY["invalid-request"]


def recipient_rule(text: str = "") -> ErrorRule:
    """Return the rule for a failed delivery, by its text: ``UNDELIVERED`` when it names none."""
    found = classify(None, text) if text else None
    if found is not None and found.action == REJECT_RECIPIENT:
        return found
    return UNDELIVERED


@frozen
class Refusal:
    """An answer in which the gateway said no: the rule, its own words, where it came from."""

    rule: ErrorRule
    text: str
    http: int | None
    retry_after: float | None = None

    def error(self, name: str, call: str) -> DeliveryError:
        """Return the exception poster raises for this refusal of ``call``."""
        said = f"HTTP {self.http}: {self.text}" if self.http else self.text
        tail = f" {call}: {said}; {self.rule.hint}"  # the gateway's words: never a format string
        action = self.rule.action
        if action == RETRY:
            text = f"{name} deferred (retry {when(self.retry_after)}){tail}"
            return RetryLater(text, self.http, self.text, self.retry_after)
        if action == FATAL:
            return DestinationFatal(f"{name} refused{tail}", self.http, self.text)
        return MessageRejected(f"{name} rejected{tail}", self.http, self.text)
