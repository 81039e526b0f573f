"""Find the Viber token and keep it out of every log line.

A destination's token is looked up, in order, in the ``POSTER_<NAME>_TOKEN`` environment variable
(``POSTER_VIBER_TOKEN`` for the ``[viber]`` shorthand), the file named by its ``token_file``, and
``$CREDENTIALS_DIRECTORY/<name>-token`` (systemd ``LoadCredential=viber-token:/path``). It is
never stored in the configuration.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from poster.config import SHORTHAND, ViberConfig, token_env
from poster.errors import ConfigError, ConfigProblem

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
CREDENTIAL_NAME = "viber-token"
MASK = "***"
MIN_SECRET = 12
"""Shorter secrets are refused: masking them would blank out ordinary words in every log line."""
# Viber channel tokens are groups of letters and digits joined by dashes, such as
# "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"; the check is loose on group count and size.
_VIBER_TOKEN = re.compile(r"[0-9A-Za-z]{6,}(?:-[0-9A-Za-z]{6,})+")
_VIBER_LENGTH = range(30, 129)


def load_token(
    viber: ViberConfig, environ: Mapping[str, str] | None = None, *, name: str = SHORTHAND
) -> str | None:
    """Return the token from the environment, the token file or systemd credentials, or None."""
    found = find_token(viber, environ, name=name)
    return None if found is None else found[0]


def find_token(
    viber: ViberConfig, environ: Mapping[str, str] | None = None, *, name: str = SHORTHAND
) -> tuple[str, ConfigProblem] | None:
    """Return destination ``name``'s token and a problem naming its source, or None when unset."""
    env = os.environ if environ is None else environ
    variable = token_env(name)
    # An empty variable counts as unset, so `POSTER_VIBER_TOKEN=` cannot hide a token file.
    value = env.get(variable, "").strip()
    if value:
        source = ConfigProblem("environment", variable, "", hint=_HINT)
        _check(value, source)
        return value, source
    if viber.token_file is not None:
        return _read_token_file(viber.token_file, f"{section(name)}.token_file")
    directory = env.get(CREDENTIALS_ENV, "")
    credential = f"{name}-token"
    if directory:
        path = Path(directory) / credential
        if path.exists():
            return _read_token_file(path, f"LoadCredential={credential}")
    return None


def section(name: str) -> str:
    """Return the dotted name of destination ``name``'s section in feeds.toml."""
    return SHORTHAND if name == SHORTHAND else f"destinations.{name}"


def require_token(
    viber: ViberConfig, config_file: str, *, also: str = "", name: str = SHORTHAND
) -> str:
    """Return the token, hidden from every log line from now on, or explain where to put it."""
    found = find_token(viber, name=name)
    if found is None:
        where = section(name)
        hint = (
            f"set {token_env(name)}, [{where}] token_file, or the systemd credential {name}-token"
            "; to try poster without a channel, run `poster run --once --sandbox`"
        )
        message = "no Viber token" if name == SHORTHAND else f"no token for destination {name!r}"
        problem = ConfigProblem(config_file, where, message, None, hint + also)
        raise ConfigError([problem])
    token, source = found
    if not is_local(viber.api_url):
        reason = viber_token_problem(token)
        if reason:
            raise ConfigError([_with(source, f"the token {reason}", source.hint)])
    install_redaction(token)
    return token


def is_local(api_url: str) -> bool:
    """Tell whether ``api_url`` points at this machine (a sandbox channel), not at Viber."""
    host = urlsplit(api_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def viber_token_problem(token: str) -> str | None:
    """Return why ``token`` cannot be a Viber channel token, or None when it looks like one."""
    if len(token) not in _VIBER_LENGTH or not _VIBER_TOKEN.fullmatch(token):
        return (
            "does not look like a Viber channel token (groups of letters and digits joined "
            "by dashes, such as 445da6az…-dazcczb2…-e0vc5fva…)"
        )
    return None


def token_problem(token: str) -> str | None:
    """Return why ``token`` cannot be sent in an HTTP header, or None when it can."""
    if not token:
        return "is empty"
    if not all("!" <= ch <= "~" for ch in token):
        return "contains spaces, control characters or non-ASCII characters"
    if len(token) < MIN_SECRET:
        return f"is {len(token)} characters long; a token has at least {MIN_SECRET}"
    return None


_HINT = "copy the token again from the channel's info screen, Developer Tools"


def _read_token_file(path: Path, key: str) -> tuple[str, ConfigProblem]:
    """Return the stripped token kept in ``path`` and its source; never quote the content."""
    problem = ConfigProblem(str(path), key, "", hint=_HINT)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        hint = "make the file readable by the user poster runs as (and by no one else)"
        raise ConfigError([_with(problem, f"cannot read the token file: {reason}", hint)]) from exc
    # Undecodable bytes become U+FFFD, which token_problem rejects without quoting them.
    token = raw.decode("utf-8", errors="replace").strip()
    _check(token, problem)
    return token, problem


def _check(token: str, problem: ConfigProblem) -> None:
    """Raise ConfigError when ``token`` is not usable, naming where it came from."""
    reason = token_problem(token)
    if reason:
        raise ConfigError([_with(problem, f"the token {reason}", problem.hint)])


def _with(problem: ConfigProblem, message: str, hint: str | None) -> ConfigProblem:
    """Return ``problem`` with its message and hint filled in."""
    return ConfigProblem(problem.file, problem.key, message, problem.feed, hint)


class RedactingFilter(logging.Filter):
    """Replace every known secret, whole, in a record's message, exception and stack text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Start redacting ``secret``; one shorter than MIN_SECRET is refused with ValueError."""
        if len(secret) < MIN_SECRET:
            raise ValueError(f"a secret shorter than {MIN_SECRET} characters cannot be redacted")
        with self._lock:
            if secret not in self._secrets:
                # Longest first, so a secret containing another is masked whole.
                self._secrets = tuple(sorted({*self._secrets, secret}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret replaced by ***."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
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


_FORMATTER = logging.Formatter()
_FILTER = RedactingFilter()
_factory_lock = threading.Lock()
_factory_installed = False


def redact(text: str) -> str:
    """Return ``text`` with every secret redacted so far replaced by ***."""
    return _FILTER.redact(text)


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
