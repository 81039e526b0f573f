"""Send feed requests straight to a transport, one hop at a time, keeping no cookies.

``httpx.Client`` runs auth flows, event hooks, a cookie jar and redirect bookkeeping around each
request. A feed poll needs none of them: ``fetch`` follows redirects itself, feeds get only the
headers configured for them, and a long-running poller would otherwise collect every site's
cookies. ``FeedClient.get`` goes further on the standard library's transport: it builds no httpx
request or response at all, which is most of the CPU a 304 answer costs. Other transports
(proxies, the tests' mocks) get httpx requests; httpx's error types stay for both.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import unquote
from urllib.request import getproxies

import httpx

from poster.eventlog import logger
from poster.fetch.exchange import Blame, Head
from poster.fetch.target import Target, from_url
from poster.fetch.transport import ALLOW_PRIVATE, DEADLINE, DEFAULT_PORTS, PUBLIC, StdlibTransport

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Credentials meant for one origin must not follow a redirect to another (RFC 9110 §15.4).
_ORIGIN_BOUND = ("Authorization", "Cookie")
_BOUND = frozenset(name.lower().encode("ascii") for name in _ORIGIN_BOUND)
_Pairs = tuple[tuple[str, str], ...]
# Validators belong to the URL that gave them: a redirect asks unconditionally (RFC 9110 §15.4).
_CONDITIONAL = frozenset({b"if-none-match", b"if-modified-since"})
_PERMANENT = frozenset({301, 308})
_MOVED: set[tuple[str, str, str]] = set()
"""Permanent redirects logged so far: each once per process, not at every read."""
_MOVED_MAX = 4096
_MOVED_LOCK = threading.Lock()
log = logger(__name__)
_OPAQUE = {b"etag": "iso-8859-1", b"last-modified": "iso-8859-1"}
"""Fields read as Latin-1 whatever the others are read in: validators sent back as they came."""


class Reply(Protocol):
    """The head of a final or redirecting answer, with its body still to be read."""

    status: int
    public: bool
    """Whether every address the host resolved to is public."""
    encoded: bool
    """Whether the body arrives in its Content-Encoding, still to be decoded."""

    @property
    def url(self) -> Target:
        """Return the URL asked for."""

    @property
    def fields(self) -> Head:
        """Return the header fields as received."""

    def raw(self) -> Iterator[bytes]:
        """Yield the body as it arrives."""

    def close(self) -> None:
        """Release the connection."""


class FeedClient:
    """Send GET requests for feeds through one transport, with default headers and a timeout."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        *,
        headers: Mapping[str, str],
        timeout: float,
    ) -> None:
        self.transport = transport
        self.headers = httpx.Headers(headers)
        self.timeout = timeout
        self._defaults = tuple(headers.items())

    def get(
        self,
        url: Target,
        fields: Head,
        *,
        timeout: float,
        deadline: float,
        allow_private: bool | None = None,
    ) -> Reply:
        """Send a GET for ``url`` with ``fields`` (see ``fields``) and return the answer's head.

        ``allow_private`` None leaves the transport's default (allowed).
        """
        transport = self.transport
        if isinstance(transport, StdlibTransport):
            allow = True if allow_private is None else allow_private
            return transport.get(
                url, fields, timeout=timeout, deadline=deadline, allow_private=allow
            )
        extensions: dict[str, Any] = {DEADLINE: deadline}
        if allow_private is not None:
            extensions[ALLOW_PRIVATE] = allow_private
        request = httpx.Request("GET", url.url, headers=fields, extensions=extensions)
        request.extensions.update(_timeouts(timeout))
        return _Bridged(self.send(request))

    def fields(self, url: Target, headers: Sequence[tuple[str, str]]) -> Head:
        """Return the fields of a GET for ``url``: Host, the defaults, then ``headers``.

        A name in ``headers`` replaces the defaults of that name, as httpx's ``update`` does.
        """
        return list(_fields(url.netloc, self._defaults, tuple(headers)))

    def request(
        self,
        url: httpx.URL,
        headers: httpx.Headers,
        timeout: float | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> httpx.Request:
        """Return a GET for ``url`` with the default headers, then ``headers``, and a timeout."""
        merged = httpx.Headers(self.headers)
        merged.update(headers)
        return httpx.Request(
            "GET",
            url,
            headers=merged,
            extensions={**_timeouts(timeout or self.timeout), **(extensions or {})},
        )

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the caller reads the body and closes the response."""
        response = self.transport.handle_request(request)
        response.request = request
        return response

    def close(self) -> None:
        """Close the transport and the connections it keeps."""
        self.transport.close()

    def __enter__(self) -> FeedClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Bridged:
    """An httpx response seen as a ``Reply``."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.public: bool = response.extensions.get(PUBLIC, True)
        # A response built in memory with its content was decoded by httpx already.
        self.encoded = not response.is_stream_consumed

    @property
    def url(self) -> Target:
        """Return the URL asked for."""
        return from_url(self._response.request.url)

    @property
    def fields(self) -> Head:
        """Return the header fields as received."""
        return self._response.headers.raw

    def raw(self) -> Iterator[bytes]:
        """Yield the body as received, or as httpx decoded it when it was built in memory."""
        if self.encoded:
            return self._response.iter_raw()
        return iter((self._response.content,))

    def close(self) -> None:
        """Close the response."""
        self._response.close()


@functools.lru_cache(maxsize=4096)
def _fields(netloc: bytes, defaults: _Pairs, headers: _Pairs) -> tuple[tuple[bytes, bytes], ...]:
    """Merge Host, the defaults and a feed's headers once per feed: a pass asks the same ones."""
    names = {name.lower() for name, _ in headers}
    kept = [(name, value) for name, value in defaults if name.lower() not in names]
    merged = [(name.encode("ascii"), value.encode()) for name, value in (*kept, *headers)]
    if not any(name.lower() == b"host" for name, _ in merged):
        merged.insert(0, (b"Host", netloc))
    return tuple(merged)


def put(fields: Head, name: str, value: str) -> None:
    """Set the field ``name`` to ``value`` in place of the first of that name, dropping others.

    ``value`` is a validator as ``decode_fields`` read it, one character a byte, and goes back
    as those bytes; one beyond Latin-1 (kept as UTF-8 text before) goes as UTF-8.
    """
    key = name.lower().encode("ascii")
    found = [i for i, (other, _) in enumerate(fields) if other.lower() == key]
    for index in reversed(found[1:]):
        del fields[index]
    try:
        encoded = value.encode("iso-8859-1")
    except UnicodeEncodeError:
        encoded = value.encode()
    field = (name.encode("ascii"), encoded)
    if found:
        fields[found[0]] = field
    else:
        fields.append(field)


def next_request(request: httpx.Request, response: httpx.Response) -> httpx.Request | None:
    """Return the GET that follows a redirect (RFC 9110 §15.4), or ``None`` for a final answer."""
    if response.status_code not in _REDIRECTS or "location" not in response.headers:
        return None
    location = response.headers["location"]
    url = _redirect_url(request.url, location, Blame(from_url(request.url), request))
    headers = httpx.Headers(request.headers)
    if _origin(url) != _origin(request.url):
        if not _is_https_upgrade(request.url, url):
            for name in _ORIGIN_BOUND:
                headers.pop(name, None)
        headers["Host"] = url.netloc.decode("ascii")
    return httpx.Request("GET", url, headers=headers, extensions=request.extensions)


def next_hop(reply: Reply, fields: Head, feed: str = "") -> tuple[Target, Head] | None:
    """Return the URL and fields of the GET that follows a redirect, or ``None`` when final.

    The next GET asks unconditionally: validators belong to the URL that gave them. A permanent
    redirect is logged once, naming ``feed``.
    """
    if reply.status not in _REDIRECTS:
        return None
    location = next((value for name, value in reply.fields if name.lower() == b"location"), None)
    if location is None:
        return None
    old = reply.url.url
    url = _redirect_url(old, location.decode(_encoding(reply.fields)), Blame(reply.url))
    if reply.status in _PERMANENT:
        _moved(feed, old, url, reply.status)
    same = _origin(url) == _origin(old)
    dropped = _CONDITIONAL if same or _is_https_upgrade(old, url) else _CONDITIONAL | _BOUND
    kept = [(n, v) for n, v in fields if n.lower() not in dropped]
    if same:
        return from_url(url), kept
    return from_url(url), [(b"Host", url.netloc), *(f for f in kept if f[0].lower() != b"host")]


def _moved(feed: str, old: httpx.URL, new: httpx.URL, status: int) -> None:
    """Log a permanent redirect once per process, however often the feed is read."""
    key = (feed, str(old), str(new))
    with _MOVED_LOCK:
        if key in _MOVED:
            return
        if len(_MOVED) >= _MOVED_MAX:
            _MOVED.clear()
        _MOVED.add(key)
    log.warning(
        "event=feed-moved feed=%s url=%s status=%d location=%s hint=%r",
        feed,
        display(old),
        status,
        display(new),
        "the move is permanent: set url in feeds.toml to the new address if it names the old",
    )


def _proxied_transport() -> httpx.BaseTransport:
    """Return a transport for the environment's proxies: httpx's client, which mounts them."""
    return _ClientTransport(env_client(follow_redirects=False))


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def env_client(**options: Any) -> httpx.Client:
    """Return an httpx client using the environment's proxies; one it cannot use is a HostError.

    httpx refuses a proxy URL it cannot parse or whose scheme it does not speak (``ftp://``),
    and a SOCKS proxy without the ``socksio`` package, as the client is made.
    """
    try:
        return httpx.Client(trust_env=True, **options)
    except (ImportError, ValueError, httpx.InvalidURL) as exc:
        from poster.errors import HostError
        from poster.redaction import redact

        names = " or ".join(f"${name}" for name in PROXY_VARIABLES)
        reason = _CREDENTIALS.sub(r"\1***@", redact(str(exc))).rstrip(".")
        raise HostError(
            f"the proxy set in {names} (or their lower-case forms) cannot be used: {reason}; "
            "correct it, or unset it to connect directly"
        ) from None


_CREDENTIALS = re.compile(r"(//)[^/@\s'\"]*@")
"""The user and password of a proxy URL an error quotes."""


def default_transport() -> httpx.BaseTransport:
    """Return the http.client transport, or httpx's own when the environment names a proxy."""
    proxies = getproxies()
    if any(proxies.get(scheme) for scheme in ("http", "https", "all")):
        return _proxied_transport()
    return StdlibTransport()


class _ClientTransport(httpx.BaseTransport):
    """Send through an ``httpx.Client``, for what only it provides: proxies from the environment."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the client's proxy mounts, without following redirects."""
        response = self._client.send(request, stream=True)
        self._client.cookies.clear()  # feeds get only the headers configured for them
        return response

    def close(self) -> None:
        """Close the client."""
        self._client.close()


def checked_url(text: str) -> httpx.URL:
    """Return ``text`` as a URL whose host and port can be used, or raise ``httpx.InvalidURL``.

    httpx parses ``http://xn--/`` and a port of fifty digits, and fails only later, decoding
    the host or opening the socket, with errors of other kinds.
    """
    try:
        url = httpx.URL(text)
        host = url.host  # decoding an IDNA host ("xn--…") may fail
    except (UnicodeError, ValueError) as exc:
        raise httpx.InvalidURL(f"{type(exc).__name__}: {exc}") from None
    if host and url.port is not None and not 0 < url.port < 65536:
        raise httpx.InvalidURL("the port is out of range")
    return url


def _redirect_url(old: httpx.URL, location: str, blame: Blame) -> httpx.URL:
    """Resolve a Location header against the request's URL, as httpx's client does."""
    try:
        url = checked_url(location)
    except httpx.InvalidURL as exc:
        raise httpx.RemoteProtocolError(
            f"Invalid URL in location header: {exc}.", request=blame.request
        ) from None
    if url.scheme and not url.host:
        # A malformed absolute Location such as "https:/path" keeps the current host.
        url = url.copy_with(host=old.host)
    if url.is_relative_url:
        url = old.join(url)
    if old.fragment and not url.fragment:
        url = url.copy_with(fragment=old.fragment)  # RFC 9110 §10.2.2
    return url


def _encoding(fields: Head) -> str:
    """Return the encoding httpx would read these fields in: ASCII, else UTF-8, else Latin-1."""
    for encoding in ("ascii", "utf-8"):
        try:
            for name, value in fields:
                name.decode(encoding)
                value.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "iso-8859-1"


def decode_fields(fields: Head) -> tuple[tuple[str, str], ...]:
    """Return the fields as text with lowercase names, decoded as httpx's headers are.

    Validators are opaque bytes that may hold obs-text (RFC 9110 §8.8.3, §5.5): they are read
    as Latin-1, one character a byte, so that ``put`` sends them back byte for byte.
    """
    encoding = _encoding(fields)
    if encoding == "ascii":
        return tuple((name.decode().lower(), value.decode()) for name, value in fields)
    return tuple(
        (name.decode(encoding).lower(), value.decode(_OPAQUE.get(name.lower(), encoding)))
        for name, value in fields
    )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Return the scheme, host and effective port of ``url``."""
    return url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme)


def _is_https_upgrade(old: httpx.URL, new: httpx.URL) -> bool:
    """Tell whether a redirect only moves the same host from http to https on default ports."""
    return (
        old.host == new.host
        and (old.scheme, new.scheme) == ("http", "https")
        and old.port in (80, None)
        and new.port in (443, None)
    )


def _timeouts(seconds: float) -> dict[str, dict[str, float]]:
    """Return the request extension that sets every httpx timeout to ``seconds``."""
    return {"timeout": {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}}


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_PAIR = re.compile(r"([?&;#])([^=&;#?]*)=([^&;#]*)")
_SECRET_WORDS = frozenset(
    {"token", "key", "apikey", "secret", "password", "passwd", "pass", "auth", "sig", "signature"}
)
"""Words that mark a query parameter's value as a secret: ``token``, ``api_key``, ``X-Sig``."""


def without_userinfo(url: httpx.URL | Target | str) -> str:
    """Return ``url`` without its user info, which may hold a password."""
    text = str(url)
    return _USERINFO.sub(r"\1", text) if "@" in text else text  # nearly none holds user info


def display(url: httpx.URL | Target | str) -> str:
    """Return ``url`` as logs and errors show it: no user info, secret parameter values as ***.

    Parameters are read in the query and in the fragment alike: a fragment never reaches the
    server, but one pasted from a browser may carry a token (``#access_token=...``).
    """
    text = without_userinfo(url)
    return _PAIR.sub(_masked, text) if "=" in text else text


def _masked(pair: re.Match[str]) -> str:
    """Return a query parameter with its value masked when its name looks secret."""
    separator, name, value = pair.groups()
    words = re.split(r"[^a-z0-9]+", unquote(name).lower())
    if value and _SECRET_WORDS.intersection(words):
        value = "***"
    return f"{separator}{name}={value}"
