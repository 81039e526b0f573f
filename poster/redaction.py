"""Keep every known secret out of log lines, whichever handler writes them.

Apart from ``secrets`` so that a command that only looks tokens up, such as ``check``, does
not load logging for it.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from poster.secrets import MASK, WHOLE_SECRET


class RedactingFilter(logging.Filter):
    """Replace every known secret, whole, in a record's message, exception and stack text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self._whole: re.Pattern[str] | None = None
        self._alone: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Start redacting ``secret``; an empty one is refused with ValueError.

        Its forms in a URL are redacted too: a key a gateway takes in the query string is
        percent-encoded there (``=`` as ``%3D``, ``/`` as ``%2F``, a space as ``+``), in either
        case of hex and once more inside an encoded URL (``%253D``). So are its base64 forms,
        alone and followed by ``:``, with and without padding: a gateway taking the key as
        ``Authorization: Basic`` may echo that header in an error. A form shorter than
        ``WHOLE_SECRET`` is masked only where no letter or digit touches it, a percent-escape
        or a backslash escape before it counting as a boundary. Every form is masked in any
        case of its letters: an API may echo a key lower-cased.
        """
        if not secret:
            raise ValueError("an empty secret cannot be redacted")
        escaped = {quote(secret, safe=""), quote_plus(secret)}
        forms = {secret, *escaped, *(quote(e, safe="") for e in escaped)}
        for raw in (secret, f"{secret}:"):
            encoded = base64.b64encode(raw.encode()).decode("ascii")
            forms |= {encoded, encoded.rstrip("=")}
        with self._lock:
            # Longest first, so a secret containing another is masked whole.
            self._secrets = tuple(sorted({*self._secrets, *forms}, key=len, reverse=True))
            short = [form for form in self._secrets if len(form) < WHOLE_SECRET]
            whole = "|".join(re.escape(f) for f in self._secrets if len(f) >= WHOLE_SECRET)
            self._whole = re.compile(whole, re.IGNORECASE) if whole else None
            self._alone = _standing_alone(short) if short else None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Return every form of every secret redacted, longest first."""
        return self._secrets

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret replaced by ***."""
        if self._whole is not None:
            text = self._whole.sub(MASK, text)
        if self._alone is not None:
            text = self._alone.sub(MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place and let it through."""
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is reported by the handler, not here
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _standing_alone(forms: Iterable[str]) -> re.Pattern[str]:
    """Return the pattern of ``forms`` (longest first) where no letter or digit touches them.

    The hex digits of a percent-escape (``%3Dbar123``) and the letter of a backslash escape
    (``\nbar123``) before a form end a word as well.
    """
    either = "|".join(re.escape(form) for form in forms)
    before = r"(?:(?<![0-9A-Za-z])|(?<=%[0-9A-Fa-f]{2})|(?<=\\[nrt]))"
    return re.compile(f"{before}(?:{either})(?![0-9A-Za-z])", re.IGNORECASE)


_FORMATTER = logging.Formatter()
_FILTER = RedactingFilter()
_factory_lock = threading.Lock()
_factory_installed = False


def redact(text: str) -> str:
    """Return ``text`` with every secret redacted so far replaced by ***."""
    return _FILTER.redact(text)


def redact_strings(value: Any) -> Any:
    """Return ``value`` with every string in it, in lists and dict values too, redacted.

    ``value`` itself is returned when none of its strings holds a secret: a ledger event lists
    up to a thousand numbers, and looking through them at once spares rebuilding it.
    """
    found: list[str] = []
    _strings(value, found)
    joined = "\n".join(found)
    if _FILTER.redact(joined) == joined:
        return value
    return _redacted(value)


def _strings(value: Any, found: list[str]) -> None:
    """Add every string in ``value``, in lists and dict values too, to ``found``."""
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _strings(item, found)


def _redacted(value: Any) -> Any:
    """Return ``value`` rebuilt with every string in it redacted."""
    if isinstance(value, str):
        return _FILTER.redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redacted(item) for item in value)
    return value


def install_redaction(secret: str) -> None:
    """Redact ``secret`` in every log record from now on, whatever handler writes it.

    Call it as soon as the token is loaded, before the token can reach any log call. It adds
    one shared ``RedactingFilter`` to each handler of the root logger and, for handlers added
    later, wraps the log record factory so that every new record is redacted when created.
    """
    global _factory_installed
    _FILTER.add(secret)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    with _factory_lock:
        if not _factory_installed:
            logging.setLogRecordFactory(_redacting_factory(logging.getLogRecordFactory()))
            _factory_installed = True


def _redacting_factory(
    make: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    """Wrap a log record factory so that each record it makes is redacted."""

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _FILTER.filter(record)
        return record

    return factory
