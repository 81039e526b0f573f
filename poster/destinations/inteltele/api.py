"""Call the Intel Tele IM HTTP API (``inteltele-im-api.txt``): send, status, balance, rates.

Every call carries ``username`` and ``api_key`` as params, as the document's examples do.
Choices where the document is silent, one line each:
- the base URL defaults to https://: the key travels in every request, and the document's
  http:// URLs would send it in clear; ``base_url`` takes http:// for a gateway without TLS.
- params go in the query of a GET by default: the document shows ``im/send`` only so, and every
  example of the other calls is a GET query too ("URL (for GET or POST)" is written only for
  those). ``method="POST"`` sends them as a form body instead, for a gateway known to read one:
  the key then stays out of URLs and server logs. Errors name the URL without its query, and
  the key is redacted from every log line once loaded (``poster.redaction``).
- one ``im/send`` carries at most 50 numbers (and, over GET, a URL of at most 8000 bytes, the
  request line most servers take): a lost answer then leaves at most 50 numbers uncertain. A
  message whose URL is too long for even one number (a 1000-symbol text of emoji, say) is
  refused unsent, naming ``method = "POST"``.
- the gateway answers errors with HTTP 200 and a JSON status (the document gives no HTTP
  codes); 429 and 5xx mean retry, with Retry-After honoured; a 5xx without a readable body to
  ``im/send`` is uncertain, since the message may already be queued.
- ``im/status`` asks about at most 100 message ids per call, comma-separated in ``requests``.
  The document lists no ``requests`` param and its one example names one id, so when such a
  list is answered with none of its ids (or refused as "can't send message"), the ids are asked
  one per call; once that finds what the list did not, the client remembers, in memory, that
  this gateway takes one id a call. One by one, a poll asks at most 100 ids, those asked
  longest ago first, so ids the gateway never answers do not crowd out the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote_plus, urlencode

import httpx

from poster.destinations.inteltele import wire
from poster.destinations.inteltele.calls import ReadAnswer, T, call
from poster.destinations.inteltele.outcomes import error_key, hint_for
from poster.destinations.inteltele.rules import MISSING, normalise_number, send_problems
from poster.destinations.inteltele.schema import (
    MessageStatus,
    Rates,
    RecipientResult,
    SendRequest,
    SendResult,
    StatusRequest,
)
from poster.errors import DestinationFatal, MessageRejected
from poster.frozen import field, frozen, replace

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.sms.intel-tele.com"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
BATCH_NUMBERS = 50
URL_MAX = 8000
STATUS_IDS = 100
SINGLE_STATUSES = 100
"""Ids asked one per ``im/status`` call in one poll: 100 calls every few minutes at most."""
NOT_A_NUMBER = "not a phone number in international format (not sent)"

SEND, STATUS, BALANCE, CREDIT, RATES = "im/send", "im/status", "balance", "credit", "rates"


@frozen
class Credentials:
    """The account's username and API key; the key never shows in a repr."""

    username: str
    api_key: str = field(repr=False)


class IntelTeleClient:
    """Talk to one Intel Tele account over an injected ``httpx.Client``."""

    def __init__(
        self,
        client: httpx.Client,
        credentials: Credentials,
        *,
        base_url: str = DEFAULT_BASE_URL,
        method: Literal["GET", "POST"] = "GET",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        name: str = "inteltele",
    ) -> None:
        if not credentials.username or not credentials.api_key:
            raise DestinationFatal(f"{name}: the username and API key must both be set")
        self._client = client
        self._credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.method = method
        self.timeout = timeout
        self.name = name
        self.statuses_singly = False
        """Whether ``im/status`` is known to take one id a call (learnt, kept in memory)."""
        self._asked: dict[str, int] = {}
        """Message id -> when it was last asked alone, counted in one-by-one asks."""
        self._asks = 0

    def __repr__(self) -> str:
        return f"IntelTeleClient(name={self.name!r}, base_url={self.base_url!r}, api_key='***')"

    def send(self, request: SendRequest) -> SendResult:
        """Send one message in one call; numbers that are not numbers are rejected unsent."""
        reject_invalid(request, self.name)
        numbers, invalid = _split_numbers(request.to)
        batch = replace(request, to=tuple(numbers))
        if not numbers:
            return SendResult(invalid, batch.redacted())
        if self._too_long(replace(batch, to=batch.to[:1])):
            raise MessageRejected(
                f"{self.name} cannot send the message over GET: the URL would be over "
                f'{URL_MAX} bytes; shorten the template, or set method = "POST" if the '
                "gateway reads form bodies",
                None,
                "URL too long",
            )
        results = self._call(SEND, batch.params(), lambda d: wire.recipient_results(d, numbers))
        for result in results:
            log.debug(
                "event=inteltele_send phone=%s action=%s message_id=%s",
                result.phone, result.action, result.message_id,
            )  # fmt: skip
        return SendResult(invalid + results, batch.redacted())

    def send_all(self, request: SendRequest) -> Iterator[SendResult]:
        """Send to every number in batches, yielding each; stop with DestinationFatal on one."""
        reject_invalid(request, self.name)
        for batch in self.batches(request):
            result = self.send(batch)
            yield result
            stopped = result.fatal
            if stopped is not None:
                raise DestinationFatal(
                    f"{self.name} stopped sending at {stopped.phone}: {stopped.status}; "
                    f"{stopped.hint or hint_for(stopped.status)}",
                    None,
                    stopped.status,
                )

    def batches(self, request: SendRequest) -> list[SendRequest]:
        """Split ``request`` into calls of at most 50 numbers (and, over GET, 8000-byte URLs)."""
        groups: list[list[str]] = [[]]
        size = room = self._url_room(request)
        for phone in request.to:
            # Each number adds itself and an urlencoded comma ("%2C") to the query.
            grows = len(quote_plus(phone)) + 3
            if groups[-1] and (len(groups[-1]) >= BATCH_NUMBERS or grows > size):
                groups.append([])
                size = room
            groups[-1].append(phone)
            size -= grows
        return [replace(request, to=tuple(group)) for group in groups if group]

    def status(self, request: StatusRequest) -> tuple[MessageStatus, ...]:
        """Return the current status of each message id the gateway knows (at most 100 a call).

        A list answered with none of its ids is asked again one id a call, once per poll. Asked
        so, an id refused as "can't send message" is one the gateway does not know: it is left
        out and the others are read, unless every id is refused, which then raises.
        """
        ids = request.message_ids
        if self.statuses_singly:
            return self._singly(request, ids)
        found: list[MessageStatus] = []
        probed = False
        for start in range(0, len(ids), STATUS_IDS):
            part = ids[start : start + STATUS_IDS]
            answer = self._listed(request, part)
            if answer is not None or probed:
                found += answer or ()
                continue
            probed = True
            singly = self._singly(request, part)
            if singly:
                self.statuses_singly = True
                log.info(
                    "event=inteltele_status_one_by_one destination=%s reason=a list of ids "
                    "was answered with none of them", self.name,
                )  # fmt: skip
                return (*found, *singly)
        return tuple(found)

    def _listed(
        self, request: StatusRequest, ids: Sequence[str]
    ) -> tuple[MessageStatus, ...] | None:
        """Ask about ``ids`` in one call; None when a list of them got none of them back."""
        part = replace(request, message_ids=tuple(ids))
        try:
            answer = self._call(STATUS, part.params(), wire.statuses)
        except DestinationFatal as exc:
            # "some of the required params are missing": perhaps a list is no message id.
            if len(ids) == 1 or error_key(exc.status_message) != MISSING:
                raise
            return None
        if len(ids) > 1 and not any(status.message_id in ids for status in answer):
            return None
        return answer

    def _singly(self, request: StatusRequest, ids: Sequence[str]) -> tuple[MessageStatus, ...]:
        """Ask about ``ids`` one per call: at most 100, those asked longest ago first."""
        last = {message_id: self._asked.get(message_id, 0) for message_id in ids}
        chosen = sorted(ids, key=last.__getitem__)[:SINGLE_STATUSES]
        self._asked = {message_id: at for message_id, at in last.items() if at}
        found: list[MessageStatus] = []
        refused: list[DestinationFatal] = []
        for message_id in chosen:
            self._asks += 1
            self._asked[message_id] = self._asks
            try:
                found += self._listed(request, (message_id,)) or ()
            except DestinationFatal as exc:
                if error_key(exc.status_message) != MISSING:
                    raise
                refused.append(exc)
        if refused and len(refused) == len(chosen):
            raise refused[-1]  # every id refused: the calls, not the ids, are at fault
        return tuple(found)

    def balance(self) -> Decimal:
        """Return the account's balance (negative while it uses credit)."""
        return self._call(BALANCE, {}, lambda data: wire.amount(data, "balance"))

    def credit(self) -> Decimal:
        """Return how far the balance may go below zero."""
        return self._call(CREDIT, {}, lambda data: wire.amount(data, "credit"))

    def rates(self) -> Rates:
        """Return the account's price per country and network."""
        return self._call(RATES, {}, lambda data: wire.rates(data, self._credentials.username))

    def _too_long(self, request: SendRequest) -> bool:
        """Tell whether ``request`` sent over GET would make a URL longer than servers take."""
        return self._url_room(replace(request, to=())) < len(quote_plus(",".join(request.to)))

    def _url_room(self, request: SendRequest) -> int:
        """Return how many bytes of ``to`` fit in a GET URL beside the other params."""
        if self.method != "GET":
            return URL_MAX
        key, user = self._credentials.api_key, self._credentials.username
        query = urlencode(_auth_params(replace(request, to=()).params(), key, user))
        return URL_MAX - len(self._url(SEND)) - 1 - len(query)

    def _url(self, endpoint: str) -> str:
        """Return the URL of an endpoint, with the document's trailing slash."""
        return f"{self.base_url}/{endpoint}/"

    def _call(self, endpoint: str, params: Mapping[str, str], read: Callable[[Any], T]) -> T:
        """Make one API call and return ``read(data)``; raise the poster error for any failure."""
        who = ReadAnswer(self.name, endpoint, endpoint == SEND)
        sent = _auth_params(params, self._credentials.api_key, self._credentials.username)
        return call(self._client, self.method, self._url(endpoint), sent, self.timeout, who, read)


def reject_invalid(request: SendRequest, name: str) -> None:
    """Raise MessageRejected naming every rule of the document ``request`` breaks."""
    problems = send_problems(request.params())
    if problems:
        reasons = "; ".join(why for _, why in problems)
        raise MessageRejected(f"{name} cannot send the message: {reasons}", None, problems[0][0])


def _auth_params(params: Mapping[str, str], api_key: str, username: str = "") -> dict[str, str]:
    """Return ``params`` preceded by the credentials, as every call carries them."""
    return {"username": username, "api_key": api_key, **params}


def _split_numbers(phones: Sequence[str]) -> tuple[list[str], tuple[RecipientResult, ...]]:
    """Return the distinct numbers to send to, and a rejection for each unusable one."""
    numbers: list[str] = []
    invalid: list[RecipientResult] = []
    for phone in phones:
        number = normalise_number(phone)
        if number is None:
            invalid.append(RecipientResult(phone, False, "reject-recipient", NOT_A_NUMBER))
        elif number not in numbers:
            numbers.append(number)
    return numbers, tuple(invalid)
