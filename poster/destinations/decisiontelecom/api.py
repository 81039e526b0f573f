"""Call the DecisionTelecom Viber API: send-viber and receive-viber over an injected httpx client.

Everything on the wire follows ``decisiontelecom-viber-api.txt``: POST with a JSON body to
``<base>/send-viber`` and ``<base>/receive-viber``. Choices where the document is silent:

- Auth ("Basic Auth", "Base64 access key"): the header is ``Authorization: Basic `` followed by
  the base64 of the access key exactly as the account manager gives it, no colon added, which
  is what the official SDKs send. The document's own examples read two other ways: its PHP
  sets the key as curl's user, whose header is the base64 of the key and a colon, and its curl
  sends "Basic api key". A call answered 401 (refused before anything was done) is made again
  with the next of the three, and the first one taken is kept.
- ``destination_addr`` goes as a JSON number, as every example writes it, while "<= 20 chars"
  reads as text: until the gateway has taken one form, a number it refuses ("Invalid Parameter:
  destination_addr", nothing done) is offered once more as text, and the form taken is kept.
- A send whose answer is lost (read timeout, reset, unreadable 2xx or 5xx) may have been carried
  out: DeliveryUncertain. receive-viber only reads, so the same troubles there are RetryLater.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from http import HTTPStatus
from typing import Any

import httpx

from poster.destinations import REDACTED
from poster.destinations.decisiontelecom.codes import (
    FATAL,
    INVALID_PARAMETER,
    REJECT_RECIPIENT,
    RETRY,
    GatewayError,
    classify,
    read_error,
)
from poster.destinations.decisiontelecom.rules import send_problem
from poster.destinations.decisiontelecom.schema import (
    SEND_ENDPOINT,
    STATUS_ENDPOINT,
    MessageId,
    RecipientResult,
    SendRequest,
    StatusRequest,
    StatusResult,
    message_id,
    status_of,
)
from poster.errors import (
    DeliveryError,
    DeliveryUncertain,
    DestinationFatal,
    MessageRejected,
    RetryLater,
)
from poster.fetch.apicall import ApiAnswer, call
from poster.fetch.headers import parse_retry_after
from poster.logs import kv

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://web.it-decision.com/v1/api"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
"""The document's PHP example allows 30 seconds a call."""
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
ANSWER_MAX_BYTES = 64 * 1024
"""Answers above this are not read further; every documented answer is a few dozen bytes."""


class DecisionTelecomClient:
    """Send Viber messages and ask their status through one DecisionTelecom account."""

    def __init__(
        self,
        client: httpx.Client,
        access_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        name: str = "decisiontelecom",
    ) -> None:
        if not access_key.strip():
            raise DestinationFatal(f"{name}: the access key is empty")
        self._authorizations = _authorizations(access_key)
        self._taken = 0
        """The authorization the gateway took last: the one tried first."""
        self._number_as: type | None = None
        """How the gateway took ``destination_addr``, once it has: the examples send a JSON
        number while "<= 20 chars" reads as text, so until then a refused number is offered
        as text too."""
        self._client = client
        self._timeout = timeout
        self.name = name
        self.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return (
            f"DecisionTelecomClient(name={self.name!r}, base_url={self.base_url!r}, "
            f"access_key={REDACTED!r})"
        )

    def send(self, request: SendRequest) -> RecipientResult:
        """Send one message to one phone; a refused phone is a result, other refusals raise."""
        body = request.body()
        problem = send_problem(body)
        if problem is not None:
            return self._refused_here(request.destination_addr, *problem)
        answer = self._offer(body)
        if isinstance(answer, GatewayError):
            action, hint = classify(answer)
            if action != REJECT_RECIPIENT:
                raise self._error(answer, SEND_ENDPOINT)
            return RecipientResult(request.destination_addr, False, None, answer.text(), hint=hint)
        found = message_id(answer.get("message_id")) if isinstance(answer, dict) else None
        if found is None:
            raise _unreadable(self.name, SEND_ENDPOINT, 200)
        log.debug("event=decisiontelecom_sent message_id=%s", found)
        return RecipientResult(request.destination_addr, True, found, "accepted")

    def _offer(self, body: dict[str, Any]) -> Any:
        """POST a send, its number as the gateway takes it, or in each form until it is known."""
        as_text = self._number_as is str
        answer = self._post(SEND_ENDPOINT, _numbered(body, as_text), maybe_done=True)
        if _number_refused(answer) and not as_text and self._number_as is not int:
            # Refused before anything was done: the number may be wanted as text instead.
            as_text = True
            answer = self._post(SEND_ENDPOINT, _numbered(body, as_text), maybe_done=True)
        if not isinstance(answer, GatewayError):
            self._number_as = str if as_text else int
        return answer

    def status(self, message_id: MessageId) -> StatusResult | None:
        """Return the current status of a message sent in the last 5 days.

        None means the answer named no known status for it: it is asked again at a later poll.
        """
        answer = self._post(STATUS_ENDPOINT, StatusRequest(message_id).body(), maybe_done=False)
        if isinstance(answer, GatewayError):
            raise self._error(answer, STATUS_ENDPOINT)
        result = status_of(answer)
        if result is None:
            log.info(kv(event="status-unreadable", destination=self.name, message_id=message_id))
        return result

    def _refused_here(self, phone: str, param: str, reason: str) -> RecipientResult:
        """Refuse a message that breaks the document's rules without calling the gateway."""
        name = f"{INVALID_PARAMETER}{param}"
        action, hint = classify(GatewayError(400, name, "", 1, 400))
        if action == REJECT_RECIPIENT:
            return RecipientResult(phone, False, None, f"{name} ({param} {reason})", hint=hint)
        text = f"{self.name} did not send the message: {param} {reason}; {hint}"
        if action == FATAL:
            raise DestinationFatal(text, None, name)
        raise MessageRejected(text, None, name)

    def _error(self, error: GatewayError, endpoint: str) -> DeliveryError:
        """Return the exception for an error answer, by the one error table."""
        action, hint = classify(error)
        status = error.status if error.status is not None else error.http_status
        label = error.name or f"HTTP {status}"
        if action == RETRY:
            text = f"{self.name} deferred {endpoint}: {error.text()}; {hint}"
            return RetryLater(text, status, label, error.retry_after)
        text = f"{self.name} refused {endpoint}: {error.text()}; {hint}"
        if action == FATAL:
            return DestinationFatal(text, status, label)
        return MessageRejected(text, status, label)

    def _post(self, endpoint: str, body: dict[str, Any], *, maybe_done: bool) -> Any:
        """POST ``body`` and return the decoded answer or the error it carries, or raise."""
        url = f"{self.base_url}/{endpoint}"
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        first = self._taken
        for index in range(first, first + len(self._authorizations)):
            tried = index % len(self._authorizations)
            headers = {**HEADERS, "Authorization": self._authorizations[tried]}
            try:
                answer = call(
                    self._client, "POST", url, headers=headers, content=content,
                    timeout=self._timeout, limit=ANSWER_MAX_BYTES,
                )  # fmt: skip
            except httpx.HTTPError as exc:
                raise _transport_error(exc, self.name, endpoint, url, maybe_done) from None
            except httpx.InvalidURL:
                message = f"{self.name}: cannot call {url}; check the base URL"
                raise DestinationFatal(message) from None
            if answer.status != HTTPStatus.UNAUTHORIZED:
                self._taken = tried
                break
        return self._decode(answer, endpoint, maybe_done)

    def _decode(self, answer: ApiAnswer, endpoint: str, maybe_done: bool) -> Any:
        """Return the JSON answer or a GatewayError; raise when a send's answer is unreadable."""
        code = answer.status
        data = _json(answer.body)
        retry_after = _retry_after(answer)
        error = read_error(code, data, retry_after)
        if error is not None:
            return error
        if 200 <= code < 300 and data is not None:
            return data
        if maybe_done and (200 <= code < 300 or code >= 500):
            raise _unreadable(self.name, endpoint, code)
        if 200 <= code < 300:
            return GatewayError(500, retry_after=retry_after)
        return GatewayError(code, retry_after=retry_after)


def _numbered(body: dict[str, Any], as_text: bool) -> dict[str, Any]:
    """Return ``body`` with its ``destination_addr`` as text when ``as_text``."""
    return {**body, "destination_addr": str(body["destination_addr"])} if as_text else body


def _number_refused(answer: Any) -> bool:
    """Tell whether ``answer`` refuses the call's ``destination_addr`` parameter."""
    return isinstance(answer, GatewayError) and answer.param == "destination_addr"


def _authorizations(access_key: str) -> tuple[str, ...]:
    """Return the Authorization values the document's words allow, the official SDKs' first."""
    plain = base64.b64encode(access_key.encode("utf-8")).decode("ascii")
    user = base64.b64encode(f"{access_key}:".encode()).decode("ascii")
    return f"Basic {plain}", f"Basic {user}", f"Basic {access_key}"


def _retry_after(answer: ApiAnswer) -> float | None:
    """Return Retry-After, else the rate limiter's X-Rate-Limit-Reset, in seconds."""
    found = parse_retry_after(answer.header("retry-after"))
    if found is None:
        found = parse_retry_after(answer.header("x-rate-limit-reset"))
    return found


def _json(raw: bytes | None) -> Any:
    """Return ``raw`` decoded as JSON, or None when it is missing or not JSON.

    The document prints receive-viber's answer with a comma before its closing brace
    (``{"message_id":429, "status":1, }``): an answer written so is read as the JSON it means.
    """
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        pass
    try:
        return json.loads(_TRAILING_COMMA.sub(rb"\1", raw))
    except (ValueError, UnicodeDecodeError):
        return None


_TRAILING_COMMA = re.compile(rb",\s*([}\]])")
"""A comma before a closing brace or bracket, which JSON does not allow."""


def _unreadable(name: str, endpoint: str, code: int) -> DeliveryUncertain:
    """Return the error for a send answer poster cannot read: the message may have gone out."""
    return DeliveryUncertain(
        f"{name} answered HTTP {code} to {endpoint} with nothing poster can read; the message "
        "may have been sent, so it is not sent again automatically",
        code,
        f"HTTP {code}",
    )


def _transport_error(
    exc: httpx.HTTPError, name: str, endpoint: str, url: str, maybe_done: bool
) -> DeliveryError:
    """Map an httpx error to retry (never sent or only a read), uncertain (maybe sent) or fatal."""
    kind = type(exc).__name__
    if isinstance(exc, httpx.UnsupportedProtocol):
        return DestinationFatal(f"{name}: cannot call {url} ({kind}); check the base URL")
    # Nothing left this machine: the connection or a pool slot was never obtained.
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if never_sent or not maybe_done:
        return RetryLater(f"{name}: {endpoint} to {url} failed ({kind}); will retry later")
    return DeliveryUncertain(
        f"{name}: the connection to {url} failed after the {endpoint} request was sent ({kind}); "
        "the message may have been sent, so it is not sent again automatically"
    )
