"""Cut off sockets whose deadline has passed, so no peer can stretch an exchange beyond it.

A socket timeout bounds each wait for data, not the whole exchange: a server that sends one
byte a second never trips it. One background thread keeps the watched sockets ordered by
deadline and shuts down each one still in use when its time comes; the blocked read then
returns, and the caller sees ``Watch.expired``.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time

import httpx


class DeadlineExceeded(httpx.TimeoutException):
    """The whole exchange took longer than its deadline."""


class Watch:
    """One socket under watch until ``release``; ``expired`` tells whether it was cut off."""

    __slots__ = ("deadline", "expired", "fd", "released")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        # A duplicate descriptor: it outlives a TLS wrap, which detaches the original object, and
        # cannot be reused by an unrelated socket while the watch lasts. (os.dup costs a tenth of
        # socket.dup, and a watch is taken for every request.)
        self.fd: int | None = os.dup(sock.fileno())
        self.deadline = deadline
        self.expired = False
        self.released = False


class Watchdog:
    """Shut down watched sockets at their deadlines, from one lazily started daemon thread."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._ending = False
        """Set by ``end_all``: every socket is cut off as soon as it is watched."""

    def watch(self, sock: socket.socket, deadline: float) -> Watch:
        """Watch ``sock`` until ``deadline`` (on the ``time.monotonic`` clock)."""
        entry = Watch(sock, deadline)
        with self._wake:
            if self._ending:
                _expire(entry)
                return entry
            heapq.heappush(self._heap, (deadline, next(self._order), entry))
            if self._heap[0][2] is entry:
                self._wake.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
                self._thread.start()
        return entry

    def release(self, entry: Watch) -> None:
        """Stop watching; once this returns the socket is never cut off by this watch."""
        with self._wake:
            entry.released = True
            fd, entry.fd = entry.fd, None
        if fd is not None:
            os.close(fd)

    def end_all(self) -> int:
        """Cut off every socket under watch now, as its deadline would, and each one watched
        from now on as soon as it is, until ``resume``; return how many were cut now.

        At a stop: the reads and media probes under way end at once, and those that would
        follow them (an item's next image) fail at once, instead of holding the stop until
        their deadlines. Destinations' calls, which have no deadline, are never watched.
        """
        with self._wake:
            self._ending = True
            entries = [entry for _, _, entry in self._heap if entry.fd is not None]
            self._heap.clear()
            for entry in entries:
                _expire(entry)
        return len(entries)

    @property
    def ending(self) -> bool:
        """Tell whether ``end_all`` cuts every socket off: what fails now says nothing of it."""
        return self._ending

    def resume(self) -> None:
        """Watch sockets until their deadlines again, after ``end_all``."""
        with self._wake:
            self._ending = False

    def _run(self) -> None:
        """Wait for the earliest deadline and cut off its socket unless it was released."""
        with self._wake:
            while True:
                if not self._heap:
                    self._wake.wait()
                    continue
                deadline, _, entry = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0 and not entry.released:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
                if entry.fd is not None:
                    _expire(entry)


def _expire(entry: Watch) -> None:
    """Cut off the socket of a watch still in force, and mark it expired."""
    if entry.fd is not None:
        entry.expired = True
        _cut(entry.fd)
        entry.fd = None


def _cut(fd: int) -> None:
    """Shut the socket down both ways, which wakes any thread blocked reading or writing it."""
    with socket.socket(fileno=fd) as sock, contextlib.suppress(OSError):  # the peer is gone
        sock.shutdown(socket.SHUT_RDWR)


WATCHDOG = Watchdog()
"""The one watchdog of the process."""
