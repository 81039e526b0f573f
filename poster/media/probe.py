"""Ask a media URL for its first bytes: its real type, size and pixel size.

One ranged GET (``Range: bytes=0-…``, RFC 9110 §14.2) answers all three: the magic bytes give
the type whatever ``Content-Type`` claims, ``Content-Range`` gives the whole size, and an image's
header gives its dimensions. A HEAD would give only the server's claims. Redirects follow the
feeds' rules (``AddressPolicy`` through the transport), and every probe has a deadline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

import httpx

from poster.fetch.client import FeedClient, checked_url, display, next_request
from poster.fetch.feed import network_words
from poster.fetch.transport import ALLOW_PRIVATE, DEADLINE, PUBLIC
from poster.fetch.watchdog import DeadlineExceeded
from poster.frozen import frozen
from poster.media.sniff import sniff

SNIFF_BYTES = 64 * 1024
"""Bytes asked for: a JPEG's frame header may follow tens of KB of EXIF data."""
_TOTAL = re.compile(r"^\s*bytes\s+\d+-\d+/(\d+)\s*$", re.IGNORECASE)


@frozen
class Probe:
    """What one media URL turned out to be, and when that was learnt (Unix seconds)."""

    url: str
    checked_at: float
    mime_type: str | None = None
    length: int | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None
    missing: bool = False
    """The server answered that the media is not there (4xx), not merely that it failed."""
    unanswered: bool = False
    """No answer came in time, or no connection: the host, not this media, is at fault."""


@frozen
class ProbeLimits:
    """How long a probe may wait and how far it may go."""

    timeout: float = 5.0
    """The longest wait for any one piece of the answer."""
    deadline: float = 10.0
    """The longest one probe may take, redirects included."""
    max_redirects: int = 5
    measure_up_to: int = 2_000_000
    """Without a stated size, read this far to learn it; a larger body stays of unknown size."""


def probe(
    url: str, client: FeedClient, *, allow_private: bool, limits: ProbeLimits, now: float
) -> Probe:
    """Return what ``url`` is; a failure is recorded in the result, never raised."""
    deadline = time.monotonic() + limits.deadline
    try:
        return _probe(url, client, allow_private, limits, deadline, now)
    except DeadlineExceeded:
        why = f"no answer within the {limits.deadline:g}s deadline"
        return Probe(url, now, error=why, unanswered=True)
    except httpx.TimeoutException:
        return Probe(url, now, error=f"no answer within {limits.timeout:g}s", unanswered=True)
    except httpx.ConnectError as exc:
        why = f"cannot reach {display(url)}: {network_words(exc)}"
        return Probe(url, now, error=why, unanswered=True)
    except httpx.UnsupportedProtocol:
        # A redirect to file: or ftp: fails for Viber as for poster, whenever it is asked.
        why = f"{display(url)} leads to a URL that is not http(s)"
        return Probe(url, now, error=why, missing=True)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return Probe(url, now, error=f"request to {display(url)} failed ({type(exc).__name__})")


def _probe(
    url: str,
    client: FeedClient,
    allow_private: bool,
    limits: ProbeLimits,
    deadline: float,
    now: float,
) -> Probe:
    """Send the ranged GET, following redirects, then read the first bytes of the answer."""
    headers = {"Range": f"bytes=0-{SNIFF_BYTES - 1}"}
    with follow(url, client, headers, allow_private, limits, deadline) as response:
        if response is None:
            return Probe(url, now, error=f"more than {limits.max_redirects} redirects")
        return _read(url, response, limits, deadline, now)


@contextmanager
def follow(
    url: str,
    client: FeedClient,
    headers: dict[str, str],
    allow_private: bool,
    limits: ProbeLimits,
    deadline: float,
) -> Iterator[httpx.Response | None]:
    """Yield the final answer for a GET of ``url`` (None after too many redirects), then close it.

    A redirect may leave the public network only from a source that is not on it itself, or
    when the feed allows it, as for feeds.
    """
    extensions = {DEADLINE: deadline, ALLOW_PRIVATE: allow_private}
    request = client.request(checked_url(url), httpx.Headers(headers), limits.timeout, extensions)
    for _ in range(limits.max_redirects + 1):
        response = client.send(request)
        with closing(response):
            hop = next_request(request, response)
            if hop is None:
                yield response
                return
        hop.extensions[ALLOW_PRIVATE] = allow_private or not response.extensions.get(PUBLIC, True)
        request = hop
    yield None


SNIFFED_PICTURES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/gif", "image/webp"})
"""The picture types ``sniff`` always tells from their bytes: one it does not see is none."""
_MP4_TYPES = frozenset({"video/mp4", "video/x-m4v"})


def _read(
    url: str, response: httpx.Response, limits: ProbeLimits, deadline: float, now: float
) -> Probe:
    """Turn the final answer into a probe: the type from its bytes, the size from its headers."""
    status = response.status_code
    if status >= 300:
        missing = 400 <= status < 500 and status not in (408, 429)
        return Probe(url, now, error=f"HTTP {status} from {display(response.url)}", missing=missing)
    head, length = _body(response, limits, deadline)
    found = sniff(head)
    claimed = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if found.mime_type is None and claimed in SNIFFED_PICTURES and head:
        # Bytes that are none of the pictures sniff knows, under a picture's type: an error
        # page served as image/jpeg. Viber would refuse it; the item falls back without it.
        why = f"not a picture: its bytes are no {claimed.removeprefix('image/').upper()}"
        return Probe(url, now, error=f"{why} (Content-Type said {claimed})", missing=True)
    if found.mime_type is None and claimed in _MP4_TYPES and _is_markup(head):
        # An MP4 opens with a box's size and type, never with "<": an error page as video/mp4.
        why = "not a video: its bytes are HTML or XML"
        return Probe(url, now, error=f"{why} (Content-Type said {claimed})", missing=True)
    return Probe(
        url,
        now,
        mime_type=found.mime_type or claimed or None,
        length=length,
        width=found.width,
        height=found.height,
    )


def _is_markup(head: bytes) -> bool:
    """Tell whether the bytes open as text markup: "<" after a BOM and white space."""
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<"


def _body(
    response: httpx.Response, limits: ProbeLimits, deadline: float
) -> tuple[bytes, int | None]:
    """Read the first bytes, and the size: stated, or counted up to ``measure_up_to``."""
    stated = _stated_length(response)
    head = bytearray()
    counted = 0
    cap = SNIFF_BYTES if stated is not None else limits.measure_up_to + 1
    for chunk in response.iter_raw():
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        counted += len(chunk)
        if time.monotonic() > deadline:
            raise DeadlineExceeded("the probe went past its deadline")
        if counted >= cap:
            return bytes(head), stated  # cut short: only a stated size is known
    # The whole body arrived: a 200's size is what was counted, whatever a header said.
    return bytes(head), counted if response.status_code == 200 else stated


def _stated_length(response: httpx.Response) -> int | None:
    """Return the whole resource's size from Content-Range (206) or Content-Length (200)."""
    if response.status_code == 206:
        found = _TOTAL.match(response.headers.get("content-range", ""))
        return int(found.group(1)) if found else None
    declared = response.headers.get("content-length", "")
    return int(declared) if declared.isascii() and declared.isdigit() else None
