"""Call the SMS.BY Viber gateway over HTTP, as ``bulk-viber-aggregator-api.txt`` describes it.

Choices where the document is silent or unclear, one per line:

- Base URL ``https://app.sms.by`` (the document gives only paths); configurable for tests.
- ``sendBulkViber``: the table puts ``token``/``callback_url``/``messages`` in "query", but a nested
  array cannot travel in a query string; the "Sample api request" is one JSON object, so the three
  go as that JSON body (Content-Type application/json), and ``token`` and ``callback_url`` also go
  in the query, so the request is right whichever place the gateway reads. No error or log line
  shows a URL's query.
- ``statusBulkViber``: ``token`` and ``uuid`` in the query, as its table says, with an empty body.
- v2 "formData" goes as application/x-www-form-urlencoded; the optional ``image`` file upload is
  not used, ``image_url`` is ("Transferring an image via image_url is preferable").
- ``token`` goes where each table puts it: the query for confirmViberMessage, getViberMessages
  and getViberMessageData; formData for the other v2 methods.
- ``getVibernames`` and ``getSubscriberLists`` are named (vibername_id, list_id) but not described:
  POST ``/api/v2/<name>`` with ``token`` in formData, answer ``{"status": "OK", "result": [...]}``
  whose items carry ``vibername_id``/``list_id`` (or ``id``) and ``name``.
- ``callback_url`` gets "the response on the method operation in asynchronous mode", no more:
  ``parse_bulk_callback`` reads a ``statusBulkViber`` answer, the send's answer, or both.
- Error bodies are not described: the reason is read from ``message``, ``error``, ``errors`` or a
  string ``result``; without one, the document's text for the HTTP status is used.
- HTTP 500 is "Server unavailable": nothing was done, whatever the body (JSON, HTML or none), so
  a send answered 500 (or 503) is tried again later, the confirmation below aside. Any other
  5xx to a send is not the gateway's own answer but a proxy's in front of it, which may have
  given up after the gateway took the request: uncertain, never repeated automatically.
- ``sendViberMessageList`` only creates a mailing; nothing is sent or paid before
  ``confirmViberMessage`` ("Money will be debited"), so a lost or 5xx answer to it is safe to
  retry. A lost or 5xx answer to the confirmation is uncertain: the document lists 500 only for
  its v1 methods, and a retry would create and confirm a second mailing to the whole list.

Every failure becomes one of poster's ``DeliveryError`` classes through ``codes.ERRORS``; a phone
the gateway refuses is a ``RecipientResult`` with ``accepted=False``, not an exception.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

from poster.destinations.smsby import codes, parse
from poster.destinations.smsby.codes import Refusal
from poster.destinations.smsby.schema import (
    REDACTED,
    BulkAccepted,
    BulkCallback,
    BulkRequest,
    BulkStatus,
    ListDraft,
    ListMessage,
    Mailing,
    QuickMessage,
    RecipientResult,
    SubscriberList,
    ViberName,
)
from poster.errors import DeliveryError, DeliveryUncertain, DestinationFatal, RetryLater
from poster.fetch.apicall import ApiAnswer, call
from poster.fetch.headers import parse_retry_after
from poster.logs import kv

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://app.sms.by"
DEFAULT_TIMEOUT = 30.0
"""Seconds for each of connect, write, read and pool of every call."""
MAX_ANSWER_BYTES = 1024 * 1024
"""Answers above this are not read further; the documented ones are a few KB."""

FORM = "application/x-www-form-urlencoded"
DEBITS = frozenset({"/api/v2/confirmViberMessage"})
"""Calls that send and charge a mailing already created: any 5xx leaves them uncertain, since a
retry would create and charge a second mailing."""
_UNREADABLE = object()


class SmsByClient:
    """Call each documented method of the SMS.BY Viber gateway with one API key."""

    def __init__(
        self,
        client: httpx.Client,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        name: str = "smsby",
    ) -> None:
        if not token.strip():
            raise DestinationFatal(f"{name}: the API key is empty; set the SMS.BY token")
        self._client = client
        self._token = token
        self._timeout = httpx.Timeout(timeout)
        self.base_url = base_url.rstrip("/")
        self.name = name

    def __repr__(self) -> str:
        return f"SmsByClient(name={self.name!r}, base_url={self.base_url!r}, token={REDACTED!r})"

    def send_bulk(self, request: BulkRequest) -> BulkAccepted:
        """Create mailings with ``sendBulkViber`` and return the ``uuid`` to follow them by."""
        data = self._call(
            "/api/v1/sendBulkViber",
            sends=True,
            query=request.query(self._token),
            body=request.payload(self._token),
        )
        uuid = data.get("uuid") if isinstance(data, dict) else None
        if not isinstance(uuid, str) or not uuid:
            raise self._unreadable("/api/v1/sendBulkViber", 200, sends=True)
        success = str(data.get("success", "OK"))
        if success.upper() != "OK":
            # The document's 200 says "success": "OK"; anything else leaves the mailing unknown.
            raise DeliveryUncertain(
                f"{self.name} answered /api/v1/sendBulkViber with uuid {uuid} but success "
                f"{success[:80]!r}, not OK; the mailing may or may not go out, so it is not "
                "repeated automatically",
                200,
            )
        return BulkAccepted(uuid, success)

    def bulk_status(self, uuid: str, names: Sequence[str] = ()) -> BulkStatus:
        """Return the per-phone statuses and refused mailings of a ``sendBulkViber`` uuid.

        ``names`` are the mailing names of that request, to read its ``errors`` lines by.
        """
        query = {"token": self._token, "uuid": uuid}
        data = self._call("/api/v1/statusBulkViber", sends=False, query=query)
        return parse.bulk_status(data, names)

    def send_quick(self, message: QuickMessage) -> RecipientResult:
        """Send one message to one phone with ``sendQuickViberMessage``."""
        path = "/api/v2/sendQuickViberMessage"
        answer = self._exchange(path, sends=True, form=message.form(self._token))
        if isinstance(answer, Refusal):
            if answer.rule.action != codes.REJECT_RECIPIENT:
                raise answer.error(self.name, path)
            return RecipientResult(
                message.phone, False, status="ERROR", error=answer.text, action=answer.rule.action
            )
        message_id = parse.result(answer).get("message_id")
        if message_id is None:
            raise self._unreadable(path, 200, sends=True)
        return RecipientResult(message.phone, True, str(message_id), status="NEW")

    def delivery_data(self, message_id: int | str) -> RecipientResult:
        """Return what became of a ``sendQuickViberMessage`` message (``getViberDeliveryData``)."""
        form = {"token": self._token, "message_id": str(message_id)}
        data = self._call("/api/v2/getViberDeliveryData", sends=False, form=form)
        return parse.recipient(parse.result(data), str(message_id))

    def create_list_mailing(self, message: ListMessage) -> ListDraft:
        """Create a mailing to a gateway list (``sendViberMessageList``); confirm() sends it."""
        path = "/api/v2/sendViberMessageList"
        result = parse.result(self._call(path, sends=False, form=message.form(self._token)))
        if result.get("message_id") is None:
            raise self._unreadable(path, 200, sends=False)
        return ListDraft(str(result["message_id"]), parse.integer(result.get("count_subscribers")))

    def confirm(self, message_id: int | str) -> None:
        """Confirm a list mailing (``confirmViberMessage``): it goes out and is paid for."""
        self._call(
            "/api/v2/confirmViberMessage",
            sends=True,
            query={"token": self._token},
            form={"message_id": str(message_id)},
        )

    def delivery_list(self, message_id: int | str) -> tuple[RecipientResult, ...]:
        """Return each phone of a list mailing with its status (``getViberDeliveryList``)."""
        form = {"token": self._token, "message_id": str(message_id)}
        data = self._call("/api/v2/getViberDeliveryList", sends=False, form=form)
        return tuple(parse.recipient(item) for item in parse.items(data))

    def mailings(self, offset: int = 0, rows: int = 100) -> tuple[Mailing, ...]:
        """Return the account's Viber mailings, newest page first (``getViberMessages``)."""
        form = {"limit_offset": str(offset), "limit_rows": str(rows)}
        query = {"token": self._token}
        data = self._call("/api/v2/getViberMessages", sends=False, query=query, form=form)
        return tuple(parse.mailing(item) for item in parse.items(data))

    def mailing(self, message_id: int | str) -> Mailing:
        """Return one mailing's text, status and cost (``getViberMessageData``)."""
        query, form = {"token": self._token}, {"message_id": str(message_id)}
        data = self._call("/api/v2/getViberMessageData", sends=False, query=query, form=form)
        return parse.mailing(parse.result(data))

    def vibernames(self) -> tuple[ViberName, ...]:
        """Return the account's Viber sender names (``getVibernames``)."""
        data = self._call("/api/v2/getVibernames", sends=False, form={"token": self._token})
        return tuple(parse.vibername(item) for item in parse.items(data))

    def subscriber_lists(self) -> tuple[SubscriberList, ...]:
        """Return the mailing lists kept by the gateway (``getSubscriberLists``)."""
        data = self._call("/api/v2/getSubscriberLists", sends=False, form={"token": self._token})
        return tuple(parse.subscriber_list(item) for item in parse.items(data))

    def _call(self, path: str, *, sends: bool, **parts: Any) -> Any:
        """Return the answer of one call, raising for any refusal."""
        answer = self._exchange(path, sends=sends, **parts)
        if isinstance(answer, Refusal):
            raise answer.error(self.name, path)
        return answer

    def _exchange(
        self,
        path: str,
        *,
        sends: bool,
        query: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        """POST one call and return its JSON answer, or a ``Refusal`` when the gateway said no."""
        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        content, headers = _body(form, body)
        try:
            answer = call(
                self._client, "POST", url, headers=headers, content=content,
                timeout=self._timeout, limit=MAX_ANSWER_BYTES,
            )  # fmt: skip
        except httpx.LocalProtocolError:
            # h11 may quote a header or URL holding the token: keep the cause out.
            raise DestinationFatal(f"{self.name}: could not build the {path} request") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._transport_error(exc, path, sends) from exc
        code = answer.status
        data = _decode(answer.body)
        log.info(kv(event="smsby_call", endpoint=path, http=code))
        if not 200 <= code < 300:
            if sends and code >= 500 and (path in DEBITS or code not in codes.UNAVAILABLE_HTTP):
                raise self._maybe_done(path, code)
            return self._refusal(data, code, answer)
        if data is _UNREADABLE:
            raise self._unreadable(path, code, sends)
        if isinstance(data, dict) and "status" in data and data["status"] != "OK":
            return self._refusal(data, None, answer)
        return data

    def _refusal(self, data: Any, http: int | None, answer: ApiAnswer) -> Refusal:
        """Return the refusal an error answer stands for, its text free of the token."""
        said = parse.error_text(None if data is _UNREADABLE else data)
        text = said.replace(self._token, REDACTED) if said else ""
        if not text:
            text = codes.classify(http, "").text if http else "status not OK"
        retry_after = parse_retry_after(answer.header("retry-after"))
        return Refusal(codes.classify(http, text), text, http, retry_after)

    def _unreadable(self, path: str, code: int, sends: bool) -> DeliveryError:
        """Return the error for an answer poster cannot read."""
        if sends:
            return DeliveryUncertain(
                f"{self.name} answered HTTP {code} to {path} without a readable result; it may "
                "have been carried out, so it is not repeated automatically",
                code,
            )
        return RetryLater(f"{self.name} answered HTTP {code} to {path} unreadably; will retry")

    def _maybe_done(self, path: str, code: int) -> DeliveryUncertain:
        """Return the error for a send answered by an HTTP 5xx that leaves what it did unknown."""
        said = "which charges the mailing" if path in DEBITS else "which the API does not list"
        return DeliveryUncertain(
            f"{self.name} answered HTTP {code} to {path}, {said}; it may have been carried out, "
            "so it is not repeated automatically",
            code,
        )

    def _transport_error(
        self, exc: httpx.HTTPError | httpx.InvalidURL, path: str, sends: bool
    ) -> DeliveryError:
        """Map an httpx error to retry (never sent), uncertain (maybe sent) or fatal (bad URL)."""
        kind = type(exc).__name__
        where = f"{self.base_url}{path}"
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return RetryLater(f"{self.name}: cannot reach {where} ({kind}); will retry later")
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return DestinationFatal(f"{self.name}: cannot call {where} ({kind}); check api_url")
        if not sends:
            return RetryLater(f"{self.name}: {path} failed ({kind}); will retry later")
        # The request left this machine: the gateway may have sent (and charged) it.
        return DeliveryUncertain(
            f"{self.name}: the connection to {where} failed after the request was sent ({kind}); "
            "it may have been carried out, so it is not repeated automatically"
        )


def parse_bulk_callback(body: bytes) -> BulkCallback:
    """Return what a ``callback_url`` POST carries, or raise ``ValueError``.

    The document says only that the method's answer is sent there, so each shape it may take is
    read: the ``statusBulkViber`` answer (a bare list), the send's answer (``uuid`` and
    ``success``), or both in one object (``uuid`` and ``messages``).
    """
    data = _decode(body)
    if data is _UNREADABLE:
        raise ValueError("the callback body is not JSON")
    if isinstance(data, list):
        found = BulkCallback("", parse.bulk_status(data))
    elif isinstance(data, dict):
        uuid, messages = data.get("uuid"), data.get("messages")
        status = parse.bulk_status(messages) if isinstance(messages, list) else None
        found = BulkCallback(uuid if isinstance(uuid, str) else "", status)
    else:
        raise ValueError("the callback body is neither a JSON list nor an object")
    if found.uuid or (found.status and (found.status.mailings or found.status.errors)):
        return found
    raise ValueError("the callback carries neither a uuid nor a mailing's statuses")


def _body(form: Mapping[str, str] | None, body: Any) -> tuple[bytes, dict[str, str]]:
    """Return a call's body and Content-Type: a form, JSON or nothing, as httpx encodes them."""
    if form is not None:
        return urlencode(form).encode("ascii"), {"Content-Type": FORM}
    if body is not None:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return data.encode("utf-8"), {"Content-Type": "application/json"}
    return b"", {}


def _decode(raw: bytes | None) -> Any:
    """Return the JSON value of a body, or ``_UNREADABLE``."""
    if not raw:
        return _UNREADABLE
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _UNREADABLE
