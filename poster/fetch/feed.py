"""Read a feed's source over HTTP(S) or from disk, with conditional GET and a byte cap."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

import poster
from poster.config import FeedConfig
from poster.errors import (
    FetchConnectError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    TooManyRedirects,
)
from poster.fetch.addresses import NonPublicAddress
from poster.fetch.client import (
    FeedClient,
    Reply,
    decode_fields,
    default_transport,
    display,
    next_hop,
    put,
    without_userinfo,
)
from poster.fetch.exchange import Head
from poster.fetch.headers import parse_freshness, parse_retry_after
from poster.fetch.inflate import decoded
from poster.fetch.spool import SpillFailed, Spool
from poster.fetch.target import Target, target_of
from poster.fetch.watchdog import DeadlineExceeded
from poster.frozen import frozen
from poster.localfiles import read_capped
from poster.models import FetchResult, Validators

USER_AGENT = f"poster/{poster.__version__} (+https://github.com/poster-viber/poster)"
ACCEPT = (
    "application/feed+json, application/json;q=0.9, application/atom+xml, application/rss+xml, "
    "application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
_LIST_FIELDS = frozenset({"cache-control"})
"""The list-valued fields ``fetch`` reads (RFC 9111 §5.2); the others it reads (ETag,
Last-Modified, Content-Type, Expires, Date, Age) each take one value."""
DEADLINE_FACTOR = 3
"""A feed without its own ``deadline`` gets this many times its ``timeout`` for a whole fetch."""


@frozen
class _Answer:
    """What the source said: final URL, status, lowercased headers and body (None for 304)."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes | None


def make_client(*, transport: httpx.BaseTransport | None = None) -> FeedClient:
    """Create the client that asks for feeds; ``fetch`` follows redirects itself."""
    return FeedClient(
        transport if transport is not None else default_transport(),
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
        timeout=FeedConfig.timeout,
    )


def fetch(
    feed: FeedConfig,
    client: FeedClient,
    previous: Validators | None = None,
    *,
    taken_for: str | None = None,
) -> FetchResult:
    """Fetch ``feed``'s source, leaving out the body when it has not changed since ``previous``.

    The result's validators are marked ``taken_for`` (see ``Validators.taken_for``).
    """
    started = time.monotonic()
    if feed.url[:5].lower() == "file:":
        answer = _read_file(feed)
    else:
        try:
            answer = _fetch_http(feed, client, previous, started + deadline_of(feed))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _translate(exc, feed) from exc
    return _result(feed, answer, previous, started, taken_for)


def deadline_of(feed: FeedConfig) -> float:
    """Return the seconds a whole fetch of ``feed`` may take."""
    return feed.deadline if feed.deadline is not None else DEADLINE_FACTOR * feed.timeout


def _fetch_http(
    feed: FeedConfig, client: FeedClient, previous: Validators | None, deadline: float
) -> _Answer:
    """Send the GET and follow at most ``feed.max_redirects`` redirects, all by ``deadline``."""
    url = target_of(feed.url)
    fields = _request_fields(client, url, feed, previous)
    allow_private: bool | None = None
    for _ in range(feed.max_redirects + 1):
        reply = client.get(
            url, fields, timeout=feed.timeout, deadline=deadline, allow_private=allow_private
        )
        with closing(reply):
            hop = next_hop(reply, fields, feed.name)
            if hop is None:
                return _read_response(feed, reply, deadline)
        # The configured URL may be anywhere; a redirect may leave the public network only from
        # a source that is not on it itself, or when the feed allows it. The first redirect
        # decides for the hops after it.
        if allow_private is None:
            allow_private = feed.allow_private or not reply.public
        url, fields = hop
    raise TooManyRedirects(
        feed.name, f"more than {feed.max_redirects} redirects, the last to {display(url)}"
    )


def _request_fields(
    client: FeedClient, url: Target, feed: FeedConfig, previous: Validators | None
) -> Head:
    """Return the feed's own headers, its URL's credentials and the conditional ones."""
    fields = client.fields(url, feed.headers)
    credentials = _basic_credentials(url)
    if credentials is not None and not any(n.lower() == b"authorization" for n, _ in fields):
        put(fields, "Authorization", credentials)
    # Conditional GET: RFC 9110 §13.1.
    if previous is not None and previous.etag:
        put(fields, "If-None-Match", previous.etag)
    if previous is not None and previous.last_modified:
        put(fields, "If-Modified-Since", previous.last_modified)
    return fields


def _basic_credentials(url: Target) -> str | None:
    """Return HTTP Basic credentials from the user info of ``url`` (RFC 7617), or None."""
    if "@" not in url.text:
        return None  # spares parsing the URL: nearly none holds user info
    parsed = url.url
    if not parsed.userinfo:
        return None
    # httpx percent-decodes both parts; RFC 7617 §2.1 lets a client send them as UTF-8.
    pair = f"{parsed.username}:{parsed.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _read_response(feed: FeedConfig, reply: Reply, deadline: float) -> _Answer:
    """Turn a final (non-redirect) response into an answer or an HTTP error.

    The answer's URL, the base of the feed's relative links, has no user info: a link resolved
    against it would carry the password into a post.
    """
    url, status = without_userinfo(reply.url), reply.status
    headers = decode_fields(reply.fields)
    if status >= 400:
        retry_after = parse_retry_after(_field(headers, "retry-after"))
        raise HTTPStatusError(feed.name, status, retry_after, url=display(url))
    if status == 304:
        for _ in reply.raw():  # empty by definition; reading it lets the connection be reused
            pass
        return _Answer(url, status, headers, None)
    if not 200 <= status < 300:
        raise FetchError(feed.name, f"unexpected HTTP {status} from {display(url)}")
    return _Answer(url, status, headers, _read_capped(feed, reply, headers, deadline))


def _field(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    """Return the values of the field ``name`` joined by commas, as httpx does, or None."""
    values = [value for key, value in headers if key == name]
    return ", ".join(values) if values else None


def _read_capped(
    feed: FeedConfig, reply: Reply, headers: tuple[tuple[str, str], ...], deadline: float
) -> bytes:
    """Read the decoded body, stopping at ``feed.max_bytes`` or at the ``deadline``."""
    declared = _field(headers, "content-length") or ""
    if declared.isascii() and declared.isdigit() and int(declared) > feed.max_bytes:
        raise ResponseTooLarge(feed.name, feed.max_bytes, url=display(reply.url))
    body = Spool()
    try:
        for chunk in _pieces(feed, reply, _field(headers, "content-encoding")):
            body.write(chunk)
            if body.size > feed.max_bytes:
                raise ResponseTooLarge(feed.name, feed.max_bytes, url=display(reply.url))
            if time.monotonic() > deadline:
                # A transport without a watchdog (a proxy's) still stops between pieces.
                raise _past_deadline(feed, display(reply.url))
        return body.getvalue()
    except SpillFailed as exc:
        url = display(reply.url)
        raise FetchError(
            feed.name, f"{url}: {exc.reason}; free some space there or set TMPDIR to another folder"
        ) from exc
    finally:
        body.close()


def _pieces(feed: FeedConfig, reply: Reply, encoding: str | None) -> Iterable[bytes]:
    """Return the body's pieces, decoded in bounded steps whatever the compression ratio."""
    if not reply.encoded:
        return reply.raw()  # built in memory with its content, and decoded by httpx
    return decoded(_raw_capped(feed, reply), encoding)


def _raw_capped(feed: FeedConfig, reply: Reply) -> Iterator[bytes]:
    """Yield the body as received, still encoded, refusing more than ``feed.max_bytes`` of it."""
    received = 0
    for chunk in reply.raw():
        received += len(chunk)
        if received > feed.max_bytes:
            raise ResponseTooLarge(feed.name, feed.max_bytes, url=display(reply.url))
        yield chunk


def _read_file(feed: FeedConfig) -> _Answer:
    """Read a ``file://`` source from disk with the same byte cap."""
    path = Path(url2pathname(urlsplit(feed.url).path))
    try:
        body = read_capped(path, feed.max_bytes)
    except FileNotFoundError as exc:
        raise FetchError(feed.name, f"no such file: {path}") from exc
    except OSError as exc:
        raise FetchError(feed.name, f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(body) > feed.max_bytes:
        raise ResponseTooLarge(feed.name, feed.max_bytes, url=str(path))
    return _Answer(feed.url, 200, (), body)


def _result(
    feed: FeedConfig,
    answer: _Answer,
    previous: Validators | None,
    started: float,
    taken_for: str | None = None,
) -> FetchResult:
    """Build the result, carrying validators over a 304 and spotting an unchanged body."""
    fields = _fields_of(answer.headers)
    etag, last_modified = fields.get("etag"), fields.get("last-modified")
    prior = previous or Validators()
    body, unchanged = answer.body, False
    if answer.body is None and not (prior.etag or prior.last_modified):
        # RFC 9110 §15.4.5: a 304 answers a conditional request; this one asked for no
        # condition, so "not modified" says nothing, and a first read must not count it.
        raise FetchError(
            feed.name,
            f"{display(answer.url)} answered 304 Not Modified to a request with no validators",
        )
    source = url_mark(feed.url)
    if answer.body is None:
        # A 304 may carry fresh validators; keep the stored ones otherwise (RFC 9110 §15.4.5).
        validators = Validators(
            etag or prior.etag,
            last_modified or prior.last_modified,
            prior.body_hash,
            taken_for,
            source,
        )
    else:
        digest = hashlib.sha256(answer.body).hexdigest()
        validators = Validators(etag, last_modified, digest, taken_for, source)
        unchanged = digest == prior.body_hash
        body = None if unchanged else answer.body
    return FetchResult(
        feed=feed.name,
        url=answer.url,
        status=answer.status,
        body=body,
        validators=validators,
        content_type=fields.get("content-type"),
        headers=answer.headers,
        unchanged=unchanged,
        fetched_at=datetime.now(UTC),
        elapsed=time.monotonic() - started,
        freshness=parse_freshness(fields),
    )


def _fields_of(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Return one value per field: list fields' lines joined, others' first line.

    Repeated lines of a list field are one comma-separated list (RFC 9110 §5.3), so a
    Cache-Control split over two lines counts whole; of a repeated single-valued field
    (Expires, ETag) the first counts (RFC 9111 §4.2.1).
    """
    fields: dict[str, str] = {}
    for name, value in headers:
        if name not in fields:
            fields[name] = value
        elif name in _LIST_FIELDS:
            fields[name] += ", " + value
    return fields


def _translate(exc: httpx.HTTPError | httpx.InvalidURL, feed: FeedConfig) -> FetchError:
    """Map an httpx error to the poster error a caller acts on, naming the feed and the URL."""
    url, kind = display(_failed_url(exc) or feed.url), type(exc).__name__
    if isinstance(exc, DeadlineExceeded):
        return _past_deadline(feed, url)
    if isinstance(exc, NonPublicAddress):
        return FetchError(
            feed.name,
            f"refused the redirect to {url}: {exc}; set allow_private = true on the feed"
            " if it may read from that network",
        )
    if isinstance(exc, httpx.TimeoutException):
        return FetchTimeout(feed.name, f"{url}: no answer within {feed.timeout:g}s ({kind})")
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError):
        return FetchConnectError(feed.name, f"cannot reach {url}: {network_words(exc)}")
    if isinstance(exc, httpx.TooManyRedirects):
        return TooManyRedirects(feed.name, f"{url}: too many redirects")
    if isinstance(exc, httpx.DecodingError):
        return FetchError(feed.name, f"{url}: the compressed body is corrupt")
    if isinstance(exc, httpx.HTTPStatusError):
        return HTTPStatusError(feed.name, exc.response.status_code, url=url)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError(feed.name, f"cannot fetch {url}: {exc}")
    # Other errors (LocalProtocolError above all) may quote a header value, which may be secret.
    return FetchError(feed.name, f"request to {url} failed ({kind})")


def network_words(exc: Exception) -> str:
    """Say why a connection failed in words, not the TLS library's codes and file lines:
    "it does not speak TLS there", "its TLS certificate is not trusted (...)"."""
    import re  # here: only a failed connection needs it

    text = str(exc) or type(exc).__name__
    if tls := re.search(r"\[SSL: ([A-Z_]+)\] ([^(]*)", text):
        code, said = tls.group(1), tls.group(2).strip()
        if code == "WRONG_VERSION_NUMBER":
            return "it does not speak TLS there (is the address http://, or another port?)"
        if code == "CERTIFICATE_VERIFY_FAILED":
            why = said.removeprefix("certificate verify failed: ")
            return f"its TLS certificate is not trusted ({why}); the site must mend it"
        return f"the TLS handshake failed ({said or code.lower().replace('_', ' ')})"
    if system := re.fullmatch(r"\[Errno -?\d+\] (.+)", text):
        return system.group(1)  # "Connection refused", "Name or service not known"
    return text


def _past_deadline(feed: FeedConfig, url: str) -> FetchTimeout:
    """Return the error for a fetch that went past its deadline."""
    seconds = deadline_of(feed)
    return FetchTimeout(
        feed.name, f"{url}: not fetched within the {seconds:g}s deadline (deadline)"
    )


def _failed_url(exc: httpx.HTTPError | httpx.InvalidURL) -> str | None:
    """Return the URL of the request that failed, when httpx recorded it."""
    try:
        return str(exc.request.url) if isinstance(exc, httpx.HTTPError) else None
    except RuntimeError:
        return None


def url_mark(url: str) -> str:
    """Return the mark of a feed's address that its validators keep (``Validators.source``).

    Credentials in the URL are left out: the state keeps no trace of a secret.
    """
    return hashlib.sha256(without_userinfo(url).encode("utf-8", "surrogatepass")).hexdigest()[:16]
