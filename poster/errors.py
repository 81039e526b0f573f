"""Define the one exception tree of poster, grouped by what the caller does.

::

    PosterError
    ├── ConfigError            stop: the configuration cannot be used (lists every problem)
    ├── StateError             stop: the state files cannot be read or written (``path``)
    ├── HostError              stop: the machine refuses something else (a port, a file)
    ├── UsageError             stop: the command line is wrong
    ├── FeedError              retry the feed later: this pass of one feed failed
    │   ├── FetchError         the source could not be read
    │   │   ├── FetchTimeout       connect or read timed out
    │   │   ├── FetchConnectError  DNS, refused, reset, TLS
    │   │   ├── HTTPStatusError    4xx/5xx answer (``status``, ``retry_after``, ``gone``)
    │   │   ├── ResponseTooLarge   body over the byte cap
    │   │   └── TooManyRedirects
    │   └── ParseError         the body is not a feed we can read (bad XML, JSON, encoding)
    ├── ItemError              skip the item: it cannot become a message
    │   └── RenderError        a template failed for one item
    ├── MediaError             post the item without it: media cannot be fetched or converted
    ├── WebhookError           stop: the webhook URL cannot be registered as given (not https)
    ├── CallbackError          refuse one gateway callback: its body cannot be read
    ├── HubError               poll instead: a WebSub hub refused or did not answer (``feed``)
    └── DeliveryError          a destination did not take a message
        ├── RetryLater         rate limit, network trouble, 5xx (``retry_after``)
        ├── DeliveryUncertain  the request may have arrived: never re-send without a person
        ├── DestinationFatal   stop posting to this destination until an operator acts
        └── MessageRejected    give up on this message; keep the API's reason

Classes hold a message and one or two named attributes; none of them log. ``ConfigProblem``,
one located problem of a ``ConfigError``, lives in ``poster.problems`` and loads from here on
first use, so that a configuration without problems never makes its class.
"""

from __future__ import annotations

from poster.lazy import names_from

TYPE_CHECKING = False  # as typing's: the exception tree needs nothing from typing
if TYPE_CHECKING:
    from pathlib import Path

    from poster.problems import ConfigProblem as ConfigProblem

__getattr__ = names_from(__name__, {"ConfigProblem": "poster.problems"})


class PosterError(Exception):
    """Base of every error poster raises on purpose."""


class ConfigError(PosterError):
    """The configuration cannot be used; ``problems`` lists everything found in ``where``."""

    def __init__(self, problems: list[ConfigProblem], where: str = "configuration") -> None:
        self.problems = problems
        count = len(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in {where}:\n{lines}")


class StateError(PosterError):
    """The state files cannot be used; the message says which file, what is wrong and what to do."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        super().__init__(f"state file {path}: {message}")


class HostError(PosterError):
    """The machine refuses what poster needs (a port in use, a file it may not read)."""

    @classmethod
    def listening(cls, exc: OSError, what: str, address: tuple[str, int], change: str) -> HostError:
        """Return the error for a listening ``address`` that cannot be bound, with its fix.

        ``change`` says how to give another address (a key of feeds.toml, an option).
        """
        import errno  # here: only a failure needs them
        import socket

        host, port = address
        reason = exc.strerror or type(exc).__name__
        if exc.errno == errno.EADDRINUSE:
            fix = f"stop what uses it (another poster?), or {change}"
        elif exc.errno in (errno.EACCES, errno.EPERM) and port < 1024:
            fix = (
                f"a port below 1024 needs privileges poster should not have: {change} to a port "
                "of 1024 or above (a proxy in front takes 443)"
            )
        elif exc.errno == errno.EADDRNOTAVAIL:
            fix = f"{host} is no address of this machine: {change} (127.0.0.1, or 0.0.0.0 for all)"
        elif isinstance(exc, socket.gaierror):
            fix = f"{host} is no host name this machine knows: {change} to an IP address"
        else:
            fix = change
        return cls(f"{what} cannot listen on {host}:{port}: {reason}; {fix}")


class UsageError(PosterError):
    """The command line asks for something that does not exist; the message says what there is."""


class FeedError(PosterError):
    """One feed could not be processed this time; it is retried later."""

    def __init__(self, feed: str, message: str) -> None:
        self.feed = feed
        super().__init__(f"feed {feed!r}: {message}")


class FetchError(FeedError):
    """The feed's source could not be read."""


class ReadStopped(FeedError):
    """A stop came before or during the read: the feed is read at the next pass, no failure."""


class FetchTimeout(FetchError):
    """Connecting to or reading from the source timed out."""


class FetchConnectError(FetchError):
    """The source could not be reached (DNS, refused, reset, TLS)."""


GONE = 410
GONE_FIX = "fix or remove its url in feeds.toml"
GONE_REASON = f"the server says the feed is gone (HTTP {GONE}); {GONE_FIX}"
"""Why a feed whose server answered 410 Gone is disabled."""


class HTTPStatusError(FetchError):
    """The source answered with an HTTP error status."""

    def __init__(
        self, feed: str, status: int, retry_after: float | None = None, url: str | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        detail = f"HTTP {status}" + (f" from {url}" if url else "")
        if retry_after is not None:
            from poster.text import when  # here: only a refusal with Retry-After needs it

            detail += f" (retry {when(retry_after)})"
        if status == GONE:
            detail = f"the server says the feed is gone ({detail}); {GONE_FIX}"
        super().__init__(feed, detail)

    @property
    def gone(self) -> bool:
        """Tell whether the server said the feed is gone for good (RFC 9110 §15.5.11)."""
        return self.status == GONE


class ResponseTooLarge(FetchError):
    """The body went over the byte cap while streaming."""

    def __init__(self, feed: str, limit: int, url: str | None = None) -> None:
        self.limit = limit
        source = f"response from {url}" if url else "response"
        super().__init__(feed, f"{source} is larger than the {limit} byte cap (max_bytes)")


class TooManyRedirects(FetchError):
    """The source redirected more times than allowed."""


class RuleTimeout(FeedError):
    """An include or exclude rule took too long on an item; the feed waits until it is rewritten."""


class ParseError(FeedError):
    """The body could not be read as a feed."""


class ItemError(PosterError):
    """One item cannot become a message; it is skipped and reported."""

    def __init__(self, feed: str, item: str, message: str) -> None:
        self.feed = feed
        self.item = item
        super().__init__(f"feed {feed!r} item {item!r}: {message}")


class RenderError(ItemError):
    """A template failed while rendering one item."""


class TemplateUnusable(RenderError):
    """The template itself cannot be used (missing, not UTF-8, a syntax error): no item is at
    fault, so the item waits for the mended template instead of failing."""


class TemplateUnreadable(TemplateUnusable):
    """A template file the machine will not let poster read (its rights): the item waits."""


class MediaError(PosterError):
    """A media file could not be fetched or made to fit (``url``); the item goes without it."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(message)


class DeliveryError(PosterError):
    """A destination did not take a message; a secret the API echoed is masked in both texts."""

    def __init__(self, message: str, status: int | None = None, status_message: str = "") -> None:
        from poster.redaction import redact

        self.status = status
        self.status_message = redact(status_message)
        super().__init__(redact(message))


class RetryLater(DeliveryError):
    """The destination is busy or unreachable; try the same message again later."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        status_message: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status, status_message)


class DeliveryUncertain(DeliveryError):
    """The request may have reached the destination; re-sending could post it twice."""


class DestinationFatal(DeliveryError):
    """The destination refuses all posts until an operator fixes something."""


class MessageRejected(DeliveryError):
    """The destination refused this one message; it will not be sent again as is."""


class WebhookError(PosterError):
    """The webhook URL cannot be registered as given; the message says why."""


class CallbackError(PosterError):
    """A gateway's callback body cannot be read; the message says what is wrong with it."""


class HubError(PosterError):
    """A WebSub hub refused a (un)subscription or could not be reached; the feed is polled."""

    def __init__(self, feed: str, message: str) -> None:
        self.feed = feed
        super().__init__(message)
