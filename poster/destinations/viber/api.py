"""Post to a Viber channel through the Channels Post API, and manage its webhook.

Every rule here follows ``viber-channels-post-api.txt``: the token travels in the
``X-Viber-Auth-Token`` header and as ``auth_token`` in the JSON body; the API answers HTTP 200
even when it refuses, so the outcome is the JSON ``status`` ("Error Codes"). What poster does
with each outcome is decided in one place: ``codes.STATUS_ACTIONS`` and ``_api_error``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from poster import destinations
from poster.config import DEFAULT_API_URL
from poster.destinations import REDACTED, Kind
from poster.destinations.viber.body import encode, envelope
from poster.destinations.viber.codes import STATUS_ACTIONS, action_for, advice, describe
from poster.destinations.viber.kind import KIND
from poster.errors import (
    DeliveryError,
    DeliveryUncertain,
    DestinationFatal,
    MessageRejected,
    RetryLater,
    WebhookError,
)
from poster.fetch.apicall import ApiAnswer, call
from poster.fetch.headers import parse_retry_after
from poster.lazy import names_from
from poster.models import State
from poster.secrets import token_problem
from poster.text import when

if TYPE_CHECKING:
    from poster.destinations import Receipt
    from poster.destinations.viber.answers import AccountInfo as AccountInfo
    from poster.destinations.viber.answers import Member as Member
    from poster.destinations.viber.answers import WebhookResult as WebhookResult

log = logging.getLogger(__name__)

AUTH_HEADER = "X-Viber-Auth-Token"
ANSWER_MAX_BYTES = 1024 * 1024
"""Answers above this are not read further; the documented ones are a few hundred bytes."""

# The records of the account and webhook answers load with the first such call.
__getattr__ = names_from(
    __name__,
    dict.fromkeys(("AccountInfo", "Member", "WebhookResult"), "poster.destinations.viber.answers"),
)


def check_webhook_url(url: str, api_url: str) -> str | None:
    """Return why Viber cannot use ``url`` as a webhook, or None when it can."""
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:  # bytes of the command line that are not UTF-8
        return f"{url!r} holds bytes that are not UTF-8 text; write the URL as text"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return f"{url!r} is not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return f"{url!r} is not an https:// URL Viber can call"
    if parts.scheme == "http" and not (_is_loopback(host) and _is_loopback(_host(api_url))):
        # The reference ("Setting a webhook") only allows SSL with a certificate from a
        # trusted CA; plain HTTP is left for a sandbox API and receiver on this machine.
        return (
            f"the webhook URL {url!r} must use https:// with a certificate from a trusted "
            "certificate authority (Viber refuses plain HTTP and self-signed certificates)"
        )
    return None


def _host(url: str) -> str:
    """Return the host of ``url``, or an empty string when it has none."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _is_loopback(host: str) -> bool:
    """Tell whether ``host`` names this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ViberChannel:
    """Post messages to one Viber channel; satisfies ``poster.destinations.Destination``."""

    def __init__(
        self,
        client: httpx.Client,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        sender: str | None = None,
        name: str = "viber",
        remember: Callable[[str], None] | None = None,
        recall: Callable[[], str | None] | None = None,
    ) -> None:
        problem = token_problem(token)
        if problem:
            raise DestinationFatal(f"{name}: the token {problem}")
        self._client = client
        self._token = token
        self._name = name
        self.api_url = api_url.rstrip("/")
        self.sender = sender
        self._remember = remember
        self._recall = recall
        self._account: AccountInfo | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ViberChannel(name={self._name!r}, api_url={self.api_url!r}, token={REDACTED!r})"

    @property
    def name(self) -> str:
        """Return the destination's name, as used in logs and the ledger."""
        return self._name

    @property
    def kind(self) -> Kind:
        """Return the Viber channel kind."""
        return KIND

    @property
    def callback_token(self) -> str:
        """Return the token Viber signs its callbacks with (the webhook checks them)."""
        return self._token

    def send(self, message: destinations.Message) -> Receipt:
        """Post one message and return the receipt holding Viber's ``message_token``."""
        # here: a pass that posts nothing makes no receipt class
        from poster.destinations.receipts import Receipt, RecipientResult

        body = envelope(message, self.resolve_sender(), self._token)
        data = self._call("post", body)
        message_token = _message_token(data.get("message_token"))
        log.debug("event=viber_post type=%s message_token=%s", message.type, message_token)
        redacted = {**body, "auth_token": REDACTED}
        # A channel is one recipient: the channel itself.
        result = RecipientResult(self._name, State.SENT, message_token)
        return Receipt(self._name, message_token, datetime.now(UTC), redacted, (result,))

    def account_info(self) -> AccountInfo:
        """Fetch the channel's details and admins with ``get_account_info``."""
        # here: a channel whose sender is set or remembered never asks
        from poster.destinations.viber.answers import account_info

        return account_info(self._call("get_account_info", {"auth_token": self._token}))

    def resolve_sender(self) -> str:
        """Return the configured sender, else the channel's single superadmin (asked once)."""
        if self.sender:
            return self.sender
        if self._recall is not None:
            self.sender = self._recall()
            if self.sender:
                return self.sender
        with self._lock:
            if self._account is None:
                self._account = self.account_info()
            account = self._account
        found = account.superadmins()
        if len(found) == 1:
            self.sender = found[0].id
            if self._remember is not None:
                # Kept in the state, so the next start need not ask the channel again.
                self._remember(self.sender)
            log.info("event=sender-resolved destination=%s sender=%s", self._name, self.sender)
            return self.sender
        members = ", ".join(str(m) for m in account.members) or "none"
        which = "no superadmin" if not found else f"{len(found)} superadmins"
        raise DestinationFatal(
            f"{self._name}: cannot choose the sender, the channel has {which}; set from = "
            f'"<id>" in its section of feeds.toml ([viber] or [destinations.{self._name}]) to a '
            f"superadmin's id. Members: {members}"
        )

    def set_webhook(self, url: str) -> WebhookResult:
        """Ask Viber to use ``url`` as the channel's webhook; an empty ``url`` removes it."""
        problem = check_webhook_url(url, self.api_url) if url else None
        if problem:
            raise WebhookError(problem)
        # here: only `poster webhook` calls it
        from poster.destinations.viber.answers import webhook_result

        data, _ = self._request("set_webhook", {"url": url, "auth_token": self._token})
        return webhook_result(url, data["status"], str(data.get("status_message", "")))

    def remove_webhook(self) -> WebhookResult:
        """Remove the channel's webhook (``set_webhook`` with an empty URL)."""
        return self.set_webhook("")

    def _call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to one endpoint and return the JSON answer when its status is 0."""
        data, answer = self._request(endpoint, body)
        retry_after = parse_retry_after(answer.header("retry-after"))
        message = str(data.get("status_message", ""))
        error = _api_error(self._name, endpoint, data["status"], message, retry_after)
        if error is not None:
            raise error
        return data

    def _request(self, endpoint: str, body: dict[str, Any]) -> tuple[dict[str, Any], ApiAnswer]:
        """POST ``body`` to one endpoint and return its JSON answer, whatever its status."""
        url = f"{self.api_url}/{endpoint}"
        headers = {AUTH_HEADER: self._token, "Content-Type": "application/json"}
        try:
            answer = call(
                self._client, "POST", url, headers=headers, content=encode(body),
                timeout=self._client.timeout, limit=ANSWER_MAX_BYTES,
            )  # fmt: skip
        except httpx.LocalProtocolError:
            # h11 quotes the offending header value, which may be the token: drop the cause.
            raise DestinationFatal(
                f"{self._name}: could not build the {endpoint} request"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _transport_error(exc, self._name, endpoint, url) from exc
        return _read_answer(answer, self._name, endpoint, url), answer


NOT_THE_API = frozenset((301, 302, 303, 307, 308, 401, 403, 404, 405, 407, 410))
"""HTTP codes that say the address is not the API's, or the way to it is barred: the channel
answers every call with a JSON status, so these are no fault of one message, and every post
would get the same answer until ``api_url`` (or a proxy in front of it) is fixed."""


NOT_PROCESSED = frozenset((500, 503))
"""The 5xx codes of a server that did not carry the request out (an error, or unavailable),
after which a post is sent again; any other 5xx leaves it uncertain, as SMS.BY's do."""


def _api_error(
    name: str, endpoint: str, status: int, status_message: str, retry_after: float | None
) -> DeliveryError | None:
    """Return the error for an API status, or None for success: the one status policy."""
    action = action_for(status)
    if action == "ok":
        return None
    call = "the post" if endpoint == "post" else endpoint
    what = describe(status, status_message)
    if action == "retry":
        text = f"{name} deferred {call}: {what}; will retry {when(retry_after)}"
        return RetryLater(text, status, status_message, retry_after)
    tail = f" {call}: {what}{advice(status, name)}"  # the API's words: never a format string
    if action == "reject" and endpoint == "post":
        return MessageRejected(f"{name} rejected{tail}", status, status_message)
    # A refused set_webhook or get_account_info is no fault of any one message.
    return DestinationFatal(f"{name} refused{tail}", status, status_message)


def _read_answer(answer: ApiAnswer, name: str, endpoint: str, url: str) -> dict[str, Any]:
    """Return the JSON answer of a 2xx response, or of another carrying an API status, or raise.

    The API answers HTTP 200 even when it refuses; should another code come with an error
    status in its JSON, that status is the API's own word and decides, as it would at 200,
    unless the code says the URL is not the API's (a redirect, 401, 403, 404, ...).
    """
    code = answer.status
    api_words = code not in NOT_THE_API or code in (401, 403)  # a refused token says which
    if not 200 <= code < 300 and api_words and (refused := _refusal(answer.body)):
        return refused
    if (
        endpoint == "post"
        and code >= 500
        and (code not in NOT_PROCESSED or _says_posted(answer.body))
    ):
        # A proxy's 502 or 504 may come after Viber took the post: as a lost answer, it is
        # uncertain, and never sent again without an operator.
        raise DeliveryUncertain(
            f"{name} answered HTTP {code} to the post; it may have been carried out, so it is "
            "not repeated automatically",
            None,
            f"HTTP {code}",
        )
    if code == 429 or code >= 500:
        retry_after = parse_retry_after(answer.header("retry-after"))
        text = f"{name} answered HTTP {code} to {endpoint}; will retry {when(retry_after)}"
        raise RetryLater(text, None, f"HTTP {code}", retry_after)
    if not 200 <= code < 300:
        if endpoint == "post" and code not in NOT_THE_API:
            text = f"{name} rejected the post: HTTP {code} from {url}"
            raise MessageRejected(text, None, f"HTTP {code}")
        text = f"{name} answered HTTP {code} from {url}; check viber.api_url"
        raise DestinationFatal(text, None, f"HTTP {code}")
    if answer.body is None:
        raise _unreadable(name, endpoint, code, url)
    try:
        data = json.loads(answer.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _unreadable(name, endpoint, code, url) from exc
    if not isinstance(data, dict) or not isinstance(data.get("status"), int):
        raise _unreadable(name, endpoint, code, url)
    return data


def _refusal(body: bytes | None) -> dict[str, Any] | None:
    """Return ``body`` decoded when it is a JSON object with one of the API's error statuses.

    A status the API does not list (``{"status": 503}`` from a proxy) is the HTTP code again,
    which then decides.
    """
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    status = data.get("status")
    return data if type(status) is int and status in STATUS_ACTIONS and status != 0 else None


def _says_posted(body: bytes | None) -> bool:
    """Tell whether ``body`` is the API's JSON for a post it took: status 0."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and type(data.get("status")) is int and data["status"] == 0


def _unreadable(name: str, endpoint: str, code: int, url: str) -> DeliveryError:
    """Return the error for a success answer poster cannot read: a post may have worked; to
    any other call, the channel's API always answers a JSON status, so the address is not its."""
    if endpoint != "post":
        text = f"{name} answered HTTP {code} from {url} without a JSON status; check viber.api_url"
        return DestinationFatal(text, None, f"HTTP {code}")
    return DeliveryUncertain(
        f"{name} answered HTTP {code} to the post without a JSON status; it may have "
        "been carried out, so it is not repeated automatically",
        None,
        f"HTTP {code}",
    )


def _transport_error(
    exc: httpx.HTTPError | httpx.InvalidURL, name: str, endpoint: str, url: str
) -> DeliveryError:
    """Map an httpx error to retry (never sent), uncertain (maybe sent) or fatal (bad URL)."""
    kind = type(exc).__name__
    # Nothing left this machine: the connection or a pool slot was never obtained.
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return RetryLater(f"{name}: cannot reach viber at {url} ({kind}); will retry later")
    if isinstance(exc, httpx.ProxyError):
        return RetryLater(f"{name}: the proxy to {url} failed ({kind}); will retry later")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return DestinationFatal(f"{name}: cannot call {url} ({kind}); check viber.api_url")
    if endpoint != "post":  # asking again changes nothing that a first call did
        return RetryLater(f"{name}: the {endpoint} call to {url} failed ({kind}); will retry later")
    # Read/write timeouts, dropped connections and anything else after sending began: the API
    # may have acted on the request, and a second post would duplicate it.
    return DeliveryUncertain(
        f"{name}: the connection to {url} failed after the {endpoint} request was sent ({kind}); "
        "it may have been carried out, so it is not repeated automatically"
    )


def _message_token(value: Any) -> str | None:
    """Return the 64-bit ``message_token`` as decimal text, which survives any JSON reader."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    return None
