"""Write one HTTP/1.1 request on a pooled connection and read its answer, without the email parser.

http.client reads response headers through the ``email`` package, which costs more CPU than
the rest of a small exchange such as the 304 answer to a conditional GET, most of what a polling
pass does. ``Answer`` reads the head itself (RFC 9112 §2-§6) and lets http.client do the rest:
status line, body framing, chunked decoding and ``Connection: close``.
"""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO, Protocol

import httpx

from poster.fetch.inflate import decoded
from poster.fetch.target import Target
from poster.fetch.watchdog import DeadlineExceeded

if TYPE_CHECKING:
    from poster.fetch.connections import Connection, Key, Pool

CHUNK_SIZE = 64 * 1024
LINE_MAX_BYTES = 65536
HEADERS_MAX = 100
"""A header line and the header lines of a message may not be longer, as in http.client."""
INTERIM_MAX = 32
"""Interim (1xx) answers read before the final one; a server sending more is refused."""
_UNDONE_TRANSFER = frozenset({"gzip", "x-gzip", "deflate", "identity"})
"""Transfer codings besides chunked that ``Reply.raw`` undoes (RFC 9112 §7)."""
# RFC 9110 §5.1 and §5.5: a field name is a token; a value holds no CR, LF or NUL.
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BAD_VALUE = re.compile(rb"[\r\n\0]")
_BAD_TARGET = re.compile(rb"[\x00-\x20\x7f]")

Head = list[tuple[bytes, bytes]]
"""Header fields as raw (name, value) byte pairs, in order."""


class Blame:
    """Name the request an error is about, building httpx's record of it only when one is raised."""

    __slots__ = ("_built", "url")

    def __init__(self, url: Target, request: httpx.Request | None = None) -> None:
        self.url = url
        self._built = request

    @property
    def request(self) -> httpx.Request:
        """Return the request for an httpx error."""
        if self._built is None:
            # With Host given, httpx does not decode the host, which may be a malformed IDNA one.
            self._built = httpx.Request("GET", self.url.url, headers={b"Host": self.url.netloc})
        return self._built


class Answer(http.client.HTTPResponse):
    """A response whose head is read without the email parser; http.client reads the body.

    ``fields`` holds the header fields as received; http.client's ``headers`` stays unset.
    """

    fields: Head | None = None
    codings = ""
    """Transfer codings other than chunked, in the order applied, for ``Reply.raw`` to undo."""

    def __init__(self, sock: socket.socket, method: str) -> None:
        super().__init__(sock, method=method)
        self.asked = method

    def begin(self) -> None:
        """Read the status line and the header fields, and work out how the body is framed."""
        if self.fields is not None:
            return
        version, status, reason = self._final_status()
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.fields = read_fields(self.fp)
        self._frame(self.fields)

    def _final_status(self) -> tuple[str, int, str]:
        """Read past interim answers to the final status line (RFC 9110 §15.2)."""
        for _ in range(INTERIM_MAX + 1):
            version, status, reason = _status_line(self.fp)
            if status == http.client.SWITCHING_PROTOCOLS:
                # poster never asks for an upgrade (RFC 9110 §15.2.2).
                raise http.client.HTTPException("101 Switching Protocols without an upgrade asked")
            if not 100 <= status < 200:
                return version, status, reason
            read_fields(self.fp)  # an interim answer's fields say nothing about the final one
        raise http.client.HTTPException(f"more than {INTERIM_MAX} interim 1xx answers")

    def _frame(self, fields: Head) -> None:
        """Set chunked, length and will_close from the fields (RFC 9112 §6.3, §9.3)."""
        first = {name.lower(): value for name, value in reversed(fields)}
        self.chunked = False
        self.chunk_left = None
        self.length = None
        self.will_close = _closes(self.version, first)
        status = self.status
        if status in (204, 304) or 100 <= status < 200 or self.asked == "HEAD":
            self.length = 0  # no body, whatever the fields say (§6.3 rule 1)
            return
        codings = _transfer_codings(fields)
        if codings:
            # Transfer-Encoding overrides Content-Length (§6.3 rule 3); an HTTP/1.0 answer
            # with it is framed faultily, and its connection is not reused (§6.1).
            self.chunked = codings[-1] == "chunked"
            self.codings = ", ".join(_undone(codings[:-1] if self.chunked else codings))
            self.will_close = self.will_close or self.version == 10
        else:
            self.length = _content_length(fields)
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


def _transfer_codings(fields: Head) -> list[str]:
    """Return the transfer codings of every Transfer-Encoding field, in order, lowercased."""
    listed = b",".join(value for name, value in fields if name.lower() == b"transfer-encoding")
    names = [part.strip().lower() for part in listed.split(b",")]
    return [name.decode("latin-1") for name in names if name]


def _undone(codings: list[str]) -> list[str]:
    """Return the codings ``Reply.raw`` undoes after de-chunking, refusing any other."""
    for name in codings:
        if name == "chunked":
            raise http.client.HTTPException("chunked is not the last transfer coding")
        if name not in _UNDONE_TRANSFER:
            raise http.client.HTTPException(f"unsupported transfer coding {name[:40]}")
    return codings


def _content_length(fields: Head) -> int | None:
    """Return the one Content-Length the fields give, or None; refuse a bad or split one.

    Repeated fields or a list are fine when every value is the same (RFC 9112 §6.3 rule 5).
    """
    listed = [value for name, value in fields if name.lower() == b"content-length"]
    if not listed:
        return None
    # Empty list elements are allowed and mean nothing (RFC 9110 §5.6.1).
    values = {part.strip() for value in listed for part in value.split(b",")} - {b""}
    if not values or not all(value.isdigit() for value in values):
        shown = b", ".join(listed).decode("latin-1")
        raise http.client.HTTPException(f"invalid Content-Length {shown[:40]!r}")
    lengths = {int(value) for value in values}
    if len(lengths) > 1:
        raise http.client.HTTPException(
            "Content-Length values differ: " + ", ".join(map(str, sorted(lengths)))[:40]
        )
    return lengths.pop()


def _status_line(fp: BinaryIO) -> tuple[str, int, str]:
    """Read the status line as http.client does: version, status code and reason phrase."""
    line = str(fp.readline(LINE_MAX_BYTES + 1), "iso-8859-1")
    if len(line) > LINE_MAX_BYTES:
        raise http.client.LineTooLong("status line")
    if not line:
        # The server closed the connection before it answered.
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    version, status, reason = (*line.split(None, 2), "", "")[:3]
    if not version.startswith("HTTP/") or not (status.isascii() and status.isdigit()):
        raise http.client.BadStatusLine(line)
    if not 100 <= int(status) <= 999:
        raise http.client.BadStatusLine(line)
    return version, int(status), reason


def _closes(version: int, first: dict[bytes, bytes]) -> bool:
    """Tell whether the server closes the connection after this answer (RFC 9112 §9.3)."""
    connection = first.get(b"connection", b"").lower()
    if version == 11:
        return b"close" in connection
    proxy = first.get(b"proxy-connection", b"").lower()
    return not (first.get(b"keep-alive") or b"keep-alive" in connection or b"keep-alive" in proxy)


class Lines(Protocol):
    """A binary stream read line by line."""

    def readline(self, size: int = -1, /) -> bytes: ...


def read_fields(fp: Lines) -> Head:
    """Read header lines up to the empty one; a line starting with space continues the last.

    Requests and answers alike (the sandbox's server reads its requests with it too): each value
    loses the whitespace around it, and a line that is not a field is dropped.
    """
    fields: Head = []
    readline = fp.readline
    while True:
        line: bytes = readline(LINE_MAX_BYTES + 1)
        if len(line) > LINE_MAX_BYTES:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return fields
        if len(fields) >= HEADERS_MAX:
            raise http.client.HTTPException(f"got more than {HEADERS_MAX} headers")
        if line[:1] in (b" ", b"\t") and fields:
            # Obsolete line folding: the continuation joins the value with one space (§5.2).
            name, value = fields[-1]
            fields[-1] = (name, b"%s %s" % (value, line.strip()) if value else line.strip())
            continue
        name, colon, value = line.partition(b":")
        if colon and _TOKEN.fullmatch(name):
            fields.append((name, value.strip()))
        # A line that is not a field is dropped, as a user agent may do (RFC 9112 §5.1).


def request_head(method: str, target: bytes, fields: Head) -> bytes:
    """Return the request line and header section, refusing what would break the framing."""
    if _BAD_TARGET.search(target) or not target:
        raise ValueError("illegal request target")
    lines = [b"%s %s HTTP/1.1\r\n" % (method.encode("ascii"), target)]
    for name, value in fields:
        if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
            raise ValueError("illegal header")
        lines.append(b"%s: %s\r\n" % (name, value))
    lines.append(b"\r\n")
    return b"".join(lines)


def chunked(body: Iterable[bytes]) -> Iterator[bytes]:
    """Frame a body of unknown length in chunks (RFC 9112 §7.1)."""
    for piece in body:
        if piece:
            yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


class Reply:
    """An answer whose head has arrived; its body streams from the connection, which it pools.

    ``public`` tells whether every address the host resolved to is public.
    """

    __slots__ = (
        "_answer", "_blame", "_closed", "_complete", "_conn", "_home", "encoded", "public",
        "status",
    )  # fmt: skip

    def __init__(
        self,
        answer: Answer,
        conn: Connection,
        home: tuple[Pool, Key] | None,
        blame: Blame,
        public: bool,
    ) -> None:
        self._answer = answer
        self._conn = conn
        self._home = home
        self._blame = blame
        self._complete = False
        self._closed = False
        self.public = public
        self.status = answer.status
        self.encoded = True  # the body arrives as sent, in its Content-Encoding

    @property
    def url(self) -> Target:
        """Return the URL asked for."""
        return self._blame.url

    @property
    def fields(self) -> Head:
        """Return the header fields as received."""
        return self._answer.fields or []

    @property
    def version(self) -> bytes:
        """Return the HTTP version of the answer."""
        return b"HTTP/1.0" if self._answer.version == 10 else b"HTTP/1.1"

    @property
    def reason(self) -> bytes:
        """Return the reason phrase of the status line."""
        return self._answer.reason.encode("ascii", "ignore")

    def raw(self) -> Iterator[bytes]:
        """Return the body as it arrives, de-chunked and its other transfer codings undone.

        It stays in its Content-Encoding, which the reader undoes under its own caps.
        """
        codings = self._answer.codings
        return decoded(self._received(), codings) if codings else self._received()

    def _received(self) -> Iterator[bytes]:
        """Yield the body as http.client de-chunks it, checking that it arrived whole."""
        while chunk := self._read():
            yield chunk
        if self._conn.expired:
            # The watchdog's shutdown reads as the end of a body that runs until close.
            raise deadline_exceeded(self._blame.request)
        if self._answer.length:
            # A body shorter than its Content-Length is incomplete (RFC 9112 §8).
            raise httpx.RemoteProtocolError(
                "server closed the connection before the end of the body",
                request=self._blame.request,
            )
        self._complete = True

    def close(self) -> None:
        """Pool the connection once the body was read to its end, else close it."""
        if self._closed:
            return
        self._closed = True
        answer, conn, home = self._answer, self._conn, self._home
        conn.unguard()
        # Only a fully read message leaves the connection ready for the next (RFC 9112 §9.3).
        if self._complete and home is not None and answer.isclosed() and not answer.will_close:
            pool, key = home
            pool.release(key, conn)
            return
        answer.close()
        conn.close()

    def _read(self) -> bytes:
        """Read the next piece of the body, translating socket and framing errors."""
        try:
            return self._answer.read(CHUNK_SIZE)
        except (OSError, http.client.HTTPException) as exc:
            request = self._blame.request
            if self._conn.expired:
                raise deadline_exceeded(request) from exc
            if isinstance(exc, TimeoutError):
                raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
            if isinstance(exc, OSError):
                raise httpx.ReadError(str(exc), request=request) from exc
            raise httpx.RemoteProtocolError(describe(exc), request=request) from exc


def deadline_exceeded(request: httpx.Request) -> DeadlineExceeded:
    """Return the error for an exchange cut off at its deadline."""
    return DeadlineExceeded("the exchange went past its deadline", request=request)


def describe(exc: http.client.HTTPException) -> str:
    """Name a framing error without quoting more than a short piece of what the server sent."""
    return f"{type(exc).__name__}: {str(exc)[:80]}" if str(exc) else type(exc).__name__
