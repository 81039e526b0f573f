"""Check and convert single values of ``feeds.toml``: durations, sizes, headers, URLs."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

T = TypeVar("T")

DURATION_HINT = 'write a duration like "90s", "15m", "1h30m" or "2d", or a number of seconds'


# The checks' own records are plain classes: they never leave the config package, and each
# dataclass costs a command about a millisecond to create when the module loads.
class Issue:
    """One thing wrong with a value; ``sub`` is where below the key (``[1]``, ``.lat``)."""

    __slots__ = ("hint", "message", "sub")

    def __init__(self, message: str, hint: str | None = None, sub: str = "") -> None:
        self.message = message
        self.hint = hint
        self.sub = sub

    def __repr__(self) -> str:
        return f"Issue({self.message!r}, {self.hint!r}, {self.sub!r})"


class Invalid(Exception):
    """Carry every issue found in one value."""

    def __init__(self, *issues: Issue) -> None:
        self.issues = issues
        super().__init__("; ".join(issue.message for issue in issues))


def fail(message: str, hint: str | None = None) -> Invalid:
    """Return an ``Invalid`` with a single issue, ready to raise."""
    return Invalid(Issue(message, hint))


class Context:
    """What a check needs besides the value: the base folder, templates and environment."""

    __slots__ = ("base_dir", "environ", "templates_dir")

    def __init__(
        self, base_dir: Path, templates_dir: Path | None, environ: Mapping[str, str]
    ) -> None:
        self.base_dir = base_dir
        self.templates_dir = templates_dir
        self.environ = environ


Convert = Callable[[object, Context], Any]

_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a float"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
    (date, "a date"),
    (time, "a time"),
)


def type_name(value: object) -> str:
    """Name the TOML type of ``value`` for messages, never the value itself."""
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), "a value")


def need(value: object, kind: type[T], what: str) -> T:
    """Return ``value`` if it has the TOML type ``kind``, else raise saying expected and got."""
    # bool is a subclass of int in Python, but true is not a number in TOML.
    if isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool):
        return value
    raise fail(f"expected {what}, got {type_name(value)}")


def number(value: object, what: str = "a number") -> float:
    """Return a finite TOML integer or float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"expected {what}, got {type_name(value)}")
    if not math.isfinite(value):
        raise fail(f"expected {what}, got {value}, which is not a finite number")
    return float(value)


def did_you_mean(word: str, options: Iterable[str], what: str = "known keys") -> str:
    """Suggest the closest option, or list them all when none is close."""
    names = sorted(options)
    close = close_match(word, names)
    return f'did you mean "{close}"?' if close is not None else f"{what}: {', '.join(names)}"


def close_match(word: str, options: Iterable[str]) -> str | None:
    """Return the option closest to ``word`` when one is close enough, else None."""
    import difflib  # here: only a mistake in the file needs a suggestion

    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def each(entries: Iterable[tuple[str, object]], convert: Callable[[object], T]) -> list[T]:
    """Convert every ``(sub, value)`` entry, raising one ``Invalid`` for all that fail."""
    done: list[T] = []
    issues: list[Issue] = []
    for sub, raw in entries:
        try:
            done.append(convert(raw))
        except Invalid as exc:
            issues += [Issue(i.message, i.hint, sub + i.sub) for i in exc.issues]
    if issues:
        raise Invalid(*issues)
    return done


def text(value: object, _ctx: Context) -> str:
    """Check a non-empty string."""
    result = need(value, str, "a string")
    if not result.strip():
        raise fail("is empty")
    return result


def boolean(value: object, _ctx: Context) -> bool:
    """Check a boolean."""
    return need(value, bool, "a boolean (true or false)")


def choice(*options: str) -> Convert:
    """Return a check that the value is one of ``options``."""

    def convert(value: object, _ctx: Context) -> str:
        word = need(value, str, "a string")
        if word not in options:
            raise fail(
                f"{word!r} is not one of {', '.join(options)}",
                did_you_mean(word, options, "choose one of"),
            )
        return word

    return convert


_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def _duration_counts(text: str) -> dict[str, str] | None:
    """Split ``"1h30m"`` into the count before each unit, the units in the order d, h, m, s.

    Each count is digits and dots; None when ``text`` is not such counts and units.
    """
    rest, counts = text, {}
    for unit in _UNIT_SECONDS:
        count, found, after = rest.partition(unit)
        if found and count and all(c == "." or c.isdecimal() for c in count):
            counts[unit], rest = count, after
    return counts if counts and not rest else None


def parse_duration(text: str | float) -> timedelta:
    """Turn ``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"`` or a number of seconds into a timedelta."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        counts = _duration_counts("".join(text.split()))
        if counts is None:
            raise ValueError(f"{text!r} is not a duration")
        try:
            parts = {unit: float(count) for unit, count in counts.items()}
        except ValueError:
            raise ValueError(f"{text!r} is not a duration") from None
        seconds = sum(_UNIT_SECONDS[unit] * count for unit, count in parts.items())
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"{text!r} is not a duration")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None


def to_duration(value: object, *, positive: bool) -> timedelta:
    """Check a duration string or number of seconds (above zero if ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fail(f"expected a duration, got {type_name(value)}", DURATION_HINT)
    try:
        result = parse_duration(value)
    except ValueError as exc:
        raise fail(str(exc), DURATION_HINT) from None
    if positive and not result:
        raise fail("must be longer than zero", DURATION_HINT)
    if result > MAX_DURATION:
        raise fail(
            f"must be at most {MAX_DURATION.days} days",
            "a longer wait cannot be scheduled (ten years is 3650d)",
        )
    return result


MAX_DURATION = timedelta(days=3650)
"""The longest duration any key takes (ten years): past it, clocks and timeouts overflow."""


def duration(*, positive: bool) -> Convert:
    """Return a check for a duration (above zero if ``positive``)."""
    return lambda value, _ctx: to_duration(value, positive=positive)


def seconds(value: object, _ctx: Context) -> float:
    """Check a positive duration and return it in seconds."""
    return to_duration(value, positive=True).total_seconds()


# As text: re compiles it on first use; most configurations write no size as text.
_SIZE = r"(\d+)\s*([KMG]i?B|B)?"
_SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
SIZE_HINT = 'write a number of bytes, or "512KB", "10MB", "1GB" (1 KB = 1024 bytes)'
MAX_SIZE = 1024**4
"""The largest size any key takes (1 TB); a key may take less, see ``size_up_to``."""


def size(value: object, ctx: Context) -> int:
    """Check a positive byte count up to ``MAX_SIZE``: an integer or a string with a unit."""
    result: int = size_up_to(MAX_SIZE)(value, ctx)
    return result


def size_up_to(limit: int) -> Convert:
    """Return a converter of a positive byte count of at most ``limit`` bytes."""

    def convert(value: object, _ctx: Context) -> int:
        result = _bytes(value)
        if result > limit:
            raise fail(f"must be at most {limit} bytes, got {result}", SIZE_HINT)
        return result

    return convert


def _bytes(value: object) -> int:
    """Check a positive byte count: an integer or a string with a KB, MB or GB unit."""
    if isinstance(value, str):
        match = re.fullmatch(_SIZE, value.strip(), re.IGNORECASE)
        if match is None:
            raise fail(f"{value!r} is not a size", SIZE_HINT)
        unit = (match.group(2) or "").lower().replace("i", "")
        result = int(match.group(1)) * _SIZE_UNITS[unit]
    else:
        result = need(value, int, "a size")
    if result <= 0:
        raise fail("must be more than zero bytes", SIZE_HINT)
    return result


BACKLOG_HINT = 'write 0 (post nothing old), a number of newest items to post, or "all"'


def backlog(value: object, _ctx: Context) -> int | None:
    """Check a first-run backlog: a count of newest items to post, or "all" (None)."""
    if value == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(f'expected 0 or more, or "all", got {value!r}', BACKLOG_HINT)
    return value


LISTEN_HINT = 'write "127.0.0.1:8080" (host:port; use a loopback host behind a TLS proxy)'


def listen_address(value: object, ctx: Context) -> tuple[str, int]:
    """Check a ``host:port`` to listen on; IPv6 hosts go in brackets."""
    raw = text(value, ctx)
    host, sep, port = raw.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise fail(f"{raw!r} is not host:port", LISTEN_HINT)
    if not _listen_host(host):
        raise fail(f"{raw!r}: {host!r} is neither an IP address nor a host name", LISTEN_HINT)
    return host, int(port)


_HOST_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
"""A label of a host name, ``_`` included: /etc/hosts and container names use it (compiled
when a listen address names a host)."""


def _listen_host(host: str) -> bool:
    """Tell whether ``host`` is an IPv4 or IPv6 address, or a name a resolver may know."""
    import ipaddress

    if ":" in host or host.replace(".", "").isdigit():
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(re.fullmatch(_HOST_LABEL, label) for label in labels)


def url_path(value: object, ctx: Context) -> str:
    """Check an absolute URL path such as ``/viber/webhook``."""
    raw = text(value, ctx)
    if not raw.startswith("/"):
        raise fail(f"{raw!r} is not an absolute path", 'write a path like "/viber/webhook"')
    if any(c in raw for c in "?# "):
        hint = 'write a path like "/viber/webhook"'
        raise fail(f"{raw!r} holds a space, '?' or '#', which a path cannot", hint)
    return raw


LISTENER_PAGES = ("/healthz", "/metrics")
"""The listener's own pages (``poster.daemon.health``), which a webhook path would shadow."""
LISTENER_PREFIXES = ("/websub/", "/gateway/")
"""Where the listener takes the calls of WebSub hubs and of gateways, whatever the webhook's
path: ``poster.push.service.PREFIX`` and ``poster.daemon.callbacks.PREFIX``."""


def webhook_path(value: object, ctx: Context) -> str:
    """Check the webhook's path: absolute, and outside the listener's own prefixes."""
    raw = url_path(value, ctx)
    if raw.rstrip("/") in LISTENER_PAGES:
        raise fail(
            f"{raw!r} is the listener's own page ({raw.rstrip('/')[1:]})",
            'choose another path, such as "/viber/webhook"',
        )
    taken = next((prefix for prefix in LISTENER_PREFIXES if raw.startswith(prefix)), None)
    if taken is not None:
        raise fail(
            f"{raw!r} is under {taken}, where the listener takes the calls of "
            f"{'WebSub hubs' if taken == '/websub/' else 'gateways'}",
            'choose a path outside it, such as "/viber/webhook"',
        )
    return raw


def positive_int(value: object, _ctx: Context) -> int:
    """Check an integer above zero."""
    result = need(value, int, "an integer")
    if result <= 0:
        raise fail(f"must be a positive integer, got {result}")
    return result


# An http(s) URL of only these characters, with a host and at most a five-digit port, is one
# urlsplit would find that scheme, host and port in (RFC 3986 §3): it needs no closer look.
_PLAIN_HTTP = re.compile(
    r"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(?::(?P<port>[0-9]{1,5}))?"
    r"(?:[/?][A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?"
)


def feed_url(value: object, ctx: Context) -> str:
    """Check an http(s) URL, or turn a file: URL or local path into an absolute file URL."""
    if type(value) is str and _plain_http(value):
        return value  # most feeds' url: read once, not first as any text
    raw = text(value, ctx).strip()
    return raw if _plain_http(raw) else split_feed_url(raw, ctx)


def _plain_http(raw: str) -> bool:
    """Tell whether ``raw`` is a plain http(s) URL, whose scheme, host and port are plain to see."""
    plain = _PLAIN_HTTP.fullmatch(raw)
    return plain is not None and int(plain["port"] or 0) <= 65535


def split_feed_url(raw: str, ctx: Context) -> str:
    """Check a stripped ``url`` by splitting it: every form ``feed_url`` takes, and its errors."""
    parts = _split(raw)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise fail(f"{_shown(raw)!r} has no host name", "write it as https://host/path")
        return raw
    if scheme == "file":
        # Imported here: urllib.request brings in http.client and email, used for nothing else.
        from urllib.request import url2pathname

        if parts.netloc not in ("", "localhost"):
            raise fail(f"{raw!r} names another host", "write file:///absolute/path")
        return local_file(Path(url2pathname(parts.path)), ctx).as_uri()
    if scheme:
        raise fail(
            f"URL scheme {scheme!r} is not supported", "use https://, http://, file:, or a path"
        )
    return local_file(home_expanded(raw), ctx).as_uri()


def _split(raw: str) -> SplitResult:
    """Split a URL, refusing one whose host or port cannot be read (RFC 3986 §3.2)."""
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - reading it is the check: urlsplit parses ports lazily
    except ValueError as exc:
        shown = f"{_shown(raw)!r} is not a valid URL ({exc})"
        raise fail(shown, "write it as https://host/path") from exc
    return parts


_USERINFO = r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@"
"""A URL's scheme and user info, compiled when an error shows a URL."""


def _shown(raw: str) -> str:
    """Return a URL as an error may show it: without its user info, which may hold a password."""
    return re.sub(_USERINFO, r"\1", raw)


def local_file(path: Path, ctx: Context) -> Path:
    """Resolve ``path`` against the config's folder and check that it is an existing file."""
    absolute = Path(os.path.normpath(ctx.base_dir / path))
    if not absolute.exists():
        raise fail(f"local file {str(absolute)!r} does not exist", _RELATIVE_HINT)
    if not absolute.is_file():
        raise fail(f"{str(absolute)!r} is not a file", _RELATIVE_HINT)
    return absolute


_RELATIVE_HINT = "relative paths start at the folder that holds feeds.toml"


def path_value(value: object, ctx: Context) -> Path:
    """Resolve a path against the config's folder without requiring that it exists."""
    return Path(os.path.normpath(ctx.base_dir / home_expanded(text(value, ctx))))


def home_expanded(raw: str) -> Path:
    """Return the path ``raw`` with a leading ``~`` or ``~user`` made that user's home folder."""
    if "\0" in raw:
        raise fail(f"{raw!r} holds a NUL character, which no file name can", "remove it")
    try:
        return Path(raw).expanduser()
    except RuntimeError:  # pathlib's word for a user without a home folder it can find
        user = raw.split("/", 1)[0]
        hint = "write the path in full, or make it relative to the folder of feeds.toml"
        message = f"{raw!r} starts with {user!r}, but that user has no home folder here"
        raise fail(message, hint) from None


def http_url(value: object, ctx: Context) -> str:
    """Check an http(s) URL and drop a trailing slash."""
    raw = text(value, ctx).strip()
    parts = _split(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise fail(f"{raw!r} is not an http(s) URL", "write it as https://host/path")
    return raw.rstrip("/")
