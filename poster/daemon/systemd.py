"""Tell systemd about the service's state over the sd_notify datagram protocol, and take signals.

The protocol is sd_notify(3): newline-separated ``KEY=value`` assignments sent as one datagram to
the AF_UNIX socket named by ``$NOTIFY_SOCKET``; a leading ``@`` names a socket in the abstract
namespace. Watchdog pings are expected every ``$WATCHDOG_USEC`` microseconds, and only from
``$WATCHDOG_PID`` when that is set (sd_watchdog_enabled(3)). Nothing here ever raises: a service
must keep working when the manager is gone or the socket is full. systemd stops the service with
SIGTERM and ``systemctl reload`` sends SIGHUP (the unit's ``ExecReload``).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType

log = logging.getLogger(__name__)

# A full socket queue must not stall the scheduler; sd_notify(3) gives up quickly too.
SEND_TIMEOUT = 1.0


class Notifier:
    """Send READY, RELOADING, STOPPING, WATCHDOG and STATUS notifications to systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = socket_address(env.get("NOTIFY_SOCKET", ""))
        self._failed = False
        self.enabled: bool = self._address is not None
        self.watchdog_interval: float | None = watchdog_interval(env, os.getpid())

    def ready(self, status: str | None = None) -> None:
        """Report that start-up or a reload has finished."""
        self._send("READY=1", *([] if status is None else [_status(status)]))

    def reloading(self) -> None:
        """Report that a configuration reload has begun."""
        # systemd >= 253 (Type=notify-reload) pairs RELOADING=1 with the CLOCK_MONOTONIC time
        # of the request; older managers ignore the extra assignment.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> None:
        """Report that the service is shutting down."""
        self._send("STOPPING=1")

    def watchdog(self) -> None:
        """Tell the watchdog that the service is alive."""
        self._send("WATCHDOG=1")

    def status(self, text: str) -> None:
        """Show ``text`` as the service's status line in ``systemctl status``."""
        self._send(_status(text))

    def _send(self, *assignments: str) -> None:
        """Send one datagram of ``assignments``; log the first failure at debug level only."""
        if self._address is None:
            return
        payload = "\n".join(assignments).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.settimeout(SEND_TIMEOUT)
                sock.sendto(payload, self._address)
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.debug("event=notify_failed socket=%r error=%s", self._address, exc)


def socket_address(value: str) -> bytes | None:
    """Return the AF_UNIX address named by a ``$NOTIFY_SOCKET`` value, or None if unusable."""
    if value.startswith("@") and len(value) > 1:
        # sd_notify(3): "@" stands for the NUL byte that opens an abstract-namespace name.
        return b"\0" + os.fsencode(value[1:])
    if value.startswith("/"):
        return os.fsencode(value)
    if value:
        log.debug("event=notify_unsupported socket=%r", value)
    return None


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Return the seconds between watchdog pings for process ``pid``, or None if not asked."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
        owner = int(environ.get("WATCHDOG_PID", "") or pid)
    except ValueError:
        return None
    if usec <= 0 or owner != pid:
        return None
    # sd_watchdog_enabled(3) recommends pinging at half the timeout.
    return usec / 2 / 1_000_000


def _status(text: str) -> str:
    """Return a STATUS assignment; newlines would start a new assignment, so they become spaces."""
    return "STATUS=" + " ".join(text.splitlines())


def install_signals(stop: Callable[[], None], reload: Callable[[], None]) -> None:
    """Route SIGHUP to ``reload`` and SIGTERM/SIGINT to ``stop`` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_stop(_signum: int, _frame: FrameType | None) -> None:
        stop()

    def on_reload(_signum: int, _frame: FrameType | None) -> None:
        reload()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_reload)
