"""Keep HTTP/1.1 connections to checked addresses: opening, deadline watch and the idle pool."""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time

from poster.fetch.addresses import Address
from poster.fetch.exchange import Answer
from poster.fetch.watchdog import WATCHDOG, Watch

Key = tuple[str, str, int, str]
"""What an idle connection is kept under: scheme, host, port and the address connected to."""


class OutOfTime(TimeoutError):
    """The deadline passed while connecting."""


class Connection(http.client.HTTPConnection):
    """A connection to checked addresses, watched against the deadline of its current request.

    ``host`` names the server for the Host header and, over TLS, for SNI and the certificate
    check; the socket goes to the first of ``addresses`` that answers, never to a new lookup.
    """

    addresses: tuple[Address, ...] = ()
    peer: str = ""
    """The address connected to; the pool keeps the connection under it."""
    deadline: float | None = None
    """The deadline of the request that opens the connection."""
    watch: Watch | None = None
    response_class = Answer

    def connect(self) -> None:
        """Open the TCP connection and watch it before any TLS handshake, which a peer may drip."""
        self.sock = self._open()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.guard(self.deadline)

    def _open(self) -> socket.socket:
        """Connect to each address in turn until one answers; raise the last error.

        Each attempt waits the connect timeout at most, and no longer than the deadline leaves;
        ``OutOfTime`` tells that the deadline, not the timeout, cut the attempts short.
        """
        if self.deadline is not None and WATCHDOG.ending:
            raise OutOfTime(f"not connecting to {self.host}: poster is stopping")
        error: OSError = OSError(f"no address to connect to for {self.host}")
        for address in self.addresses:
            timeout, capped = self.timeout, False
            if self.deadline is not None:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise OutOfTime(f"no time left to connect to {self.host}")
                if timeout is None or left < timeout:
                    timeout, capped = left, True
            try:
                sock = socket.create_connection((str(address), self.port), timeout)
            except TimeoutError as exc:
                if capped:
                    raise OutOfTime(f"connecting to {self.host} went past the deadline") from exc
                error = exc
                continue
            except OSError as exc:
                error = exc
                continue
            if capped:
                # Each later wait (a TLS handshake, the answer) gets the whole timeout; the
                # watchdog alone ends the exchange at the deadline, and says that it did.
                sock.settimeout(self.timeout)
            self.peer = str(address)
            return sock
        raise error

    def guard(self, deadline: float | None) -> None:
        """Watch the socket until ``deadline``, ending any earlier watch."""
        self.unguard()
        self.watch = None
        if deadline is not None and self.sock is not None:
            self.watch = WATCHDOG.watch(self.sock, deadline)

    def unguard(self) -> None:
        """End the watch; ``expired`` still tells whether it had cut the socket off."""
        if self.watch is not None:
            WATCHDOG.release(self.watch)

    @property
    def expired(self) -> bool:
        """Tell whether the deadline passed and the watchdog cut the socket off."""
        return self.watch is not None and self.watch.expired


class TLSConnection(http.client.HTTPSConnection, Connection):
    """An HTTPS connection: ``Connection.connect`` opens its TCP part, then TLS checks ``host``."""


class Pool:
    """Hold idle keep-alive connections per origin and address, safe to use from several threads."""

    def __init__(self, max_idle: int, expiry: float) -> None:
        self._max_idle = max_idle
        self._expiry = expiry
        self._idle: dict[Key, list[tuple[float, Connection]]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._swept = time.monotonic()

    def acquire(self, key: Key) -> Connection | None:
        """Return the most recently used live idle connection to ``key``, if any."""
        while True:
            conn = self._pop(key)
            if conn is None or _idle_and_open(conn):
                return conn
            conn.close()

    def acquire_any(self, keys: list[Key]) -> Connection | None:
        """Return an idle connection kept under the first of ``keys`` that has one."""
        for key in keys:
            conn = self.acquire(key)
            if conn is not None:
                return conn
        return None

    def release(self, key: Key, conn: Connection) -> None:
        """Keep ``conn`` for the next request to ``key``, or close it when the pool is full."""
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if not self._closed and len(idle) < self._max_idle:
                idle.append((time.monotonic(), conn))
                return
        conn.close()

    def close(self) -> None:
        """Close every idle connection and refuse the ones released later."""
        with self._lock:
            self._closed = True
            idle = [conn for entries in self._idle.values() for _, conn in entries]
            self._idle.clear()
        for conn in idle:
            conn.close()

    def _pop(self, key: Key) -> Connection | None:
        """Take the newest unexpired connection to ``key`` and drop the expired ones."""
        now = time.monotonic()
        expired: list[Connection] = []
        found = None
        with self._lock:
            if now - self._swept >= self._expiry:
                expired = self._sweep(now)
            idle = self._idle.get(key, [])
            while idle and found is None:
                since, conn = idle.pop()
                if now - since < self._expiry:
                    found = conn
                else:
                    expired.append(conn)
        for conn in expired:
            conn.close()
        return found

    def _sweep(self, now: float) -> list[Connection]:
        """Remove and return idle connections older than the expiry, across all origins."""
        expired = []
        for key, entries in list(self._idle.items()):
            fresh = [(since, conn) for since, conn in entries if now - since < self._expiry]
            expired += [conn for since, conn in entries if now - since >= self._expiry]
            if fresh:
                self._idle[key] = fresh
            else:
                del self._idle[key]
        self._swept = now
        return expired


def _idle_and_open(conn: Connection) -> bool:
    """Tell whether an idle connection is still open: a readable idle socket has EOF or junk."""
    sock: socket.socket | None = conn.sock
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)
