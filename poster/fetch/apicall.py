"""Make one call to a destination's API and read its answer whole, up to a size cap.

``httpx.Client`` builds a URL, a request, merged headers, a response and a cookie-jar update for
every call, about three quarters of the CPU a one-number gateway send costs over the standard
library's transport. ``ApiClient`` (what ``api_client`` returns) sends a call straight through
that transport instead. Any other ``httpx.Client``, such as one the tests route with respx or
``httpx.MockTransport``, goes through httpx as before. Both ways send the same header fields,
undo the same Content-Encodings and raise httpx's errors, so each API module translates them
at its one place; neither keeps cookies, which no gateway's token-authenticated API needs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping

import httpx

from poster.fetch.client import decode_fields
from poster.fetch.exchange import Head
from poster.fetch.inflate import decoded
from poster.fetch.target import Target, split_url, target_of
from poster.fetch.transport import REPLAYABLE, StdlibTransport
from poster.frozen import frozen

_Pairs = tuple[tuple[str, str], ...]
_Raw = tuple[tuple[bytes, bytes], ...]


class ApiClient(httpx.Client):
    """An ``httpx.Client`` over the standard library's transport whose calls skip httpx's models."""

    def __init__(self, transport: StdlibTransport) -> None:
        super().__init__(transport=transport)
        self.stdlib = transport


def api_client() -> ApiClient:
    """Return a client for destination APIs over the standard library's transport.

    Like the feeds' transport it builds its TLS context (reading the CA bundle, about 0.1 s of
    CPU) on the first https request, so a pass with nothing to post never reads it, and it
    spends less CPU per request than httpx's own. Neither honours proxy variables: httpx reads
    them only for a client without a transport of its own.
    """
    return ApiClient(StdlibTransport())


@frozen
class ApiAnswer:
    """An answer read whole: its status, its fields and its decoded body (None over the cap)."""

    status: int
    fields: _Pairs
    """The header fields, names in lowercase, values decoded as httpx decodes them."""
    body: bytes | None

    def header(self, name: str) -> str | None:
        """Return the first value of the field ``name`` (lowercase), or None."""
        return next((value for key, value in self.fields if key == name), None)


def call(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    content: bytes | None,
    timeout: httpx.Timeout,
    limit: int,
    replayable: bool = True,
) -> ApiAnswer:
    """Send one call and return its answer, the body None once it grows past ``limit`` bytes.

    ``replayable`` False keeps the transport from sending an idempotent method (a GET) twice
    after a reused connection closed: for a call that sends a message whatever its method.
    Raise ``httpx.InvalidURL`` for a URL that is not one, else httpx's transport errors.
    """
    if not isinstance(client, ApiClient):
        extensions = {} if replayable else {REPLAYABLE: False}
        with client.stream(
            method, url, content=content, headers=headers, timeout=timeout, extensions=extensions
        ) as got:
            body = _capped(got.iter_bytes(), limit)
        return ApiAnswer(got.status_code, tuple(got.headers.multi_items()), body)
    # A query may carry a token and change with every call: only plain URLs are kept split.
    target = split_url(url) if "?" in url else target_of(url)
    fields = _fields(target, tuple(client.headers.raw), tuple(headers.items()), content)
    reply = client.stdlib.call(
        target, method, fields, content,
        connect=timeout.connect, write=timeout.write, read=timeout.read, replayable=replayable,
    )  # fmt: skip
    try:
        named = decode_fields(reply.fields)
        encoding = ", ".join(value for key, value in named if key == "content-encoding")
        # Codings nobody asked for are left as httpx leaves them; the answer's parser refuses it.
        body = _capped(decoded(_raw_capped(reply.raw(), limit), encoding, strict=False), limit)
    except _OverCap:
        body = None
    finally:
        reply.close()
    return ApiAnswer(reply.status, named, body)


def _fields(target: Target, defaults: _Raw, headers: _Pairs, content: bytes | None) -> Head:
    """Return Host, the defaults, the call's own headers (replacing same-named defaults), length."""
    fields = list(_merged(target.netloc, defaults, headers))
    if content is not None:
        fields.append((b"Content-Length", b"%d" % len(content)))
    return fields


@functools.lru_cache(maxsize=64)
def _merged(netloc: bytes, defaults: _Raw, headers: _Pairs) -> _Raw:
    """Merge Host, the defaults and a call's headers once: every call of an API asks the same."""
    names = {name.lower().encode("ascii") for name, _ in headers}
    kept = [(name, value) for name, value in defaults if name.lower() not in names]
    own = [(name.encode("ascii"), value.encode()) for name, value in headers]
    return ((b"Host", netloc), *kept, *own)


class _OverCap(Exception):
    """The body as received is already over the cap."""


def _raw_capped(pieces: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """Yield the body as received, raising ``_OverCap`` past ``limit`` bytes.

    Inflating gives nothing for some input (empty gzip members, padding), so the decoded size
    alone would not bound how much is read.
    """
    received = 0
    for chunk in pieces:
        received += len(chunk)
        if received > limit:
            raise _OverCap
        yield chunk


def _capped(pieces: Iterable[bytes], limit: int) -> bytes | None:
    """Return the pieces joined, or None once they add up to more than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    stream: Iterator[bytes] = iter(pieces)
    for chunk in stream:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
