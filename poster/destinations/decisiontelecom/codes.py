"""Map every DecisionTelecom error to what poster does about it: the one error table.

The document ("Errors") lists four errors, each a JSON object ``{"name", "message", "code",
"status"}`` where ``status`` is the HTTP status. Choices where the document is silent, one line
each:

- the error object comes with its HTTP status; one that arrives with HTTP 200 (as the official
  SDKs also expect) is read the same way, by its own ``status`` and ``code``.
- a refused access key is HTTP 401 and a refused address HTTP 403, the framework's usual answers
  (``{"name": "Unauthorized", ..., "code": 0, "status": 401}``): both are fatal.
- "Invalid Parameter: destination_addr" refuses one phone, not the message: reject-recipient.
- the parameter is read with or without the brackets the document's "[param_name]" shows, so
  "Invalid Parameter: [text]" and "Invalid Parameter: text" name the same field.
- "Invalid Parameter" naming a setting every message shares (sender, types, callback, TTL) will
  refuse every message alike: fatal until an operator fixes the setting.
- Retry-After is honoured when sent; else X-Rate-Limit-Reset (seconds), the rate limiter's header.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from poster.frozen import frozen

RETRY = "retry"
FATAL = "fatal"
REJECT = "reject"
REJECT_RECIPIENT = "reject-recipient"

INVALID_PARAMETER = "Invalid Parameter: "


@frozen
class ErrorEntry:
    """One documented error: its name and message as the gateway sends them, action and hint."""

    name: str
    message: str
    action: str
    hint: str


ERRORS: Mapping[tuple[int, int], ErrorEntry] = MappingProxyType(
    {
        (429, 0): ErrorEntry(
            "Too Many Requests", "Rate limit exceeded", RETRY,
            "the gateway limits the request rate; poster waits and tries again"),
        (400, 1): ErrorEntry(
            "Invalid Parameter: [param_name]", "Empty parameter or parameter validation error",
            REJECT, "the gateway refused a field of the message"),
        (500, 2): ErrorEntry(
            "Internal server error",
            "The server encountered an unexpected condition which prevented it from fulfilling "
            "the request", RETRY, "the gateway failed; poster tries again later"),
        (402, 3): ErrorEntry(
            "Topup balance is required", "User balance is empty", FATAL,
            "the DecisionTelecom balance is empty; top it up, then resume the destination"),
    }
)  # fmt: skip
"""The document's "Errors", keyed by (HTTP status, code)."""

HTTP_ACTIONS: Mapping[int, tuple[str, str]] = MappingProxyType(
    {
        401: (FATAL, "the access key was refused; copy it again from your account manager's "
                     "message and set it as given, without encoding it"),
        403: (FATAL, "the gateway refused this client; ask your account manager whether this "
                     "server's IP address must be allowed"),
        404: (FATAL, "no such API endpoint; check the gateway's base URL (…/v1/api)"),
        429: (RETRY, "the gateway limits the request rate; poster waits and tries again"),
    }
)  # fmt: skip
"""Undocumented HTTP statuses without the error object; any other 5xx retries, 4xx rejects."""

PARAM_ACTIONS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "destination_addr": (REJECT_RECIPIENT, "the phone number is not one the gateway can "
                             "send to (digits with country code, at most 20)"),
        "source_addr": (FATAL, "the sender name (source_addr) is empty, longer than 20 "
                        "characters or not registered for this account"),
        "message_type": (FATAL, "the message type must be 106, 108, 206 or 208 and fit the "
                         "source type"),
        "source_type": (FATAL, "the source type must be 1 (promotional) or 2 (transactional, "
                        "text only)"),
        "callback_url": (FATAL, "the callback URL must be an absolute http(s) URL, and 2-Way "
                         "messages (206, 208) need one"),
        "validity_period": (FATAL, "the validity period must be 40 to 21600 seconds"),
        "text": (REJECT, "the text must be 1 to 1000 characters"),
        "image": (REJECT, "the image must be an http(s) URL of a .jpg, .jpeg or .png of at most "
                  "400x400 pixels"),
        "button_caption": (REJECT, "the button caption must be 1 to 30 characters"),
        "button_action": (REJECT, "the button action must be an absolute http(s) URL"),
        "message_id": (REJECT, "the gateway knows no such message id in the last 5 days"),
    }
)  # fmt: skip
"""What an "Invalid Parameter: <param>" error means, by the parameter it names."""


@frozen
class GatewayError:
    """An error answer: the HTTP status and the gateway's error object, if it sent one."""

    http_status: int
    name: str = ""
    message: str = ""
    code: int | None = None
    status: int | None = None
    retry_after: float | None = None

    @property
    def param(self) -> str | None:
        """Return the parameter an "Invalid Parameter: <param>" error names, else None."""
        if not self.name.startswith(INVALID_PARAMETER):
            return None
        param = self.name.removeprefix(INVALID_PARAMETER).strip()
        if param.startswith("[") and param.endswith("]"):
            param = param[1:-1].strip()
        return param or None

    def text(self) -> str:
        """Return the gateway's own words: ``HTTP 400 code 1 Invalid Parameter: x (message)``."""
        status = self.status if self.status is not None else self.http_status
        words = f"HTTP {status}"
        if self.code is not None:
            words += f" code {self.code}"
        if self.name:
            words += f" {self.name}"
        return words + (f" ({self.message})" if self.message else "")


def read_error(
    http_status: int, data: Any, retry_after: float | None = None
) -> GatewayError | None:
    """Return the error object in a decoded answer, or None when ``data`` is not one.

    The document lays the error out as "Name", "message", "code" and "status": any case of the
    keys is read, and an object with a ``code`` and a name or message is an error.
    """
    if not isinstance(data, dict):
        return None
    data = {str(key).lower(): value for key, value in data.items()}
    if "code" not in data or not {"name", "message"} & data.keys():
        return None
    code, status = data.get("code"), data.get("status")
    return GatewayError(
        http_status,
        str(data.get("name", "")),
        str(data.get("message", "")),
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        status if isinstance(status, int) and not isinstance(status, bool) else None,
        retry_after,
    )


def classify(error: GatewayError) -> tuple[str, str]:
    """Return the action (retry, fatal, reject, reject-recipient) and an operator hint."""
    status = error.status if error.status is not None else error.http_status
    entry = ERRORS.get((status, error.code if error.code is not None else -1))
    param = error.param
    if param is not None and (entry is None or entry.action == REJECT):
        return PARAM_ACTIONS.get(param, (REJECT, f"the gateway refused the field {param}"))
    if entry is not None:
        return entry.action, entry.hint
    return http_action(status)


def http_action(status: int) -> tuple[str, str]:
    """Return the action and hint for an HTTP status that came without an error object."""
    if status in HTTP_ACTIONS:
        return HTTP_ACTIONS[status]
    if status >= 500:
        return RETRY, "the gateway failed; poster tries again later"
    if 300 <= status < 400:
        return FATAL, "the gateway redirected the call; check the base URL (…/v1/api)"
    return REJECT, "the gateway refused the request"
