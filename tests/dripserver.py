"""Serve slow answers on 127.0.0.1 for tests: a fixed prefix, then one byte per tick.

The server stands for a hostile peer that keeps each read short of the socket timeout while
stretching the whole exchange; ``DripServer(prefix, drip)`` sends ``prefix`` at once, then the
bytes of ``drip`` one at a time, ``interval`` seconds apart, then closes.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class DripServer:
    """Accept connections on a free port and drip the same answer to each."""

    def __init__(self, prefix: bytes, drip: bytes, interval: float = 0.02) -> None:
        self.prefix = prefix
        self.drip = drip
        self.interval = interval
        self.served = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> DripServer:
        self._accepter.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._accepter.join()
        for thread in self._threads:
            thread.join()
        self._listener.close()

    def url(self, path: str = "/feed", scheme: str = "http") -> str:
        """Return a URL on this server."""
        return f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}{path}"

    def _accept(self) -> None:
        """Serve each connection from its own thread until stopped."""
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        """Send the prefix, then drip until done, stopped, or the client goes away."""
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(self.prefix)
                for byte in self.drip:
                    if self._stop.wait(self.interval):
                        return
                    conn.sendall(bytes([byte]))
                self.served += 1
            except OSError:
                return
