"""Load pages in one headless Chromium over its DevTools pipe, as ``--dump-dom`` loads one.

Starting Chromium costs about two seconds of CPU, more than loading a sandbox page; one browser
serves every page a test process reads. Each page gets a fresh tab whose scripts run for
``VIRTUAL_TIME`` of virtual time, waiting for the network, as ``--virtual-time-budget`` does;
then the tab's DOM is read and the tab closed.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from support.page import CHROMIUM_FLAGS, chromium

VIRTUAL_TIME = 5000
"""Milliseconds of virtual time a page's scripts run: five of its one-second polls."""
ANSWER_WITHIN = 60.0
"""Seconds Chromium may take to answer one command, or to run out a page's virtual time."""
Message = dict[str, Any]


class Browser:
    """One headless Chromium, driven with DevTools commands on fds 3 and 4."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self._log = profile.with_name(profile.name + ".log")
        self._buffer = b""
        self._unread: list[Message] = []
        self._last_id = 0

    def __enter__(self) -> Browser:
        executable = chromium()
        commands, self._commands = os.pipe()
        self._answers, answers = os.pipe()
        commands, answers = _above_4(commands), _above_4(answers)
        # Chromium reads commands from fd 3 and answers on fd 4 (--remote-debugging-pipe); bash
        # puts the pipes there (dash takes no fd numbers above 9).
        script = f'exec "$0" "$@" 3<&{commands} 4>&{answers} {commands}<&- {answers}>&-'
        flags = [*CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe"]
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                ["bash", "-c", script, executable, *flags, "about:blank"],
                pass_fds=(commands, answers),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        os.close(commands)
        os.close(answers)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._send("Browser.close")
            self._process.wait(timeout=ANSWER_WITHIN)
        finally:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            os.close(self._commands)
            os.close(self._answers)

    def dump(self, url: str) -> str:
        """Return the DOM of ``url`` once its scripts ran for ``VIRTUAL_TIME``, as markup."""
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})
        tab = attached["sessionId"]
        # Virtual time stands still until the page is on its way, then runs out its budget.
        self._send("Emulation.setVirtualTimePolicy", {"policy": "pause"}, tab)
        self._send("Page.navigate", {"url": url}, tab)
        policy = {"policy": "pauseIfNetworkFetchesPending", "budget": VIRTUAL_TIME}
        self._send("Emulation.setVirtualTimePolicy", policy, tab)
        self._read(lambda m: m.get("method") == "Emulation.virtualTimeBudgetExpired", tab)
        expression = {"expression": "document.documentElement.outerHTML", "returnByValue": True}
        markup = str(self._send("Runtime.evaluate", expression, tab)["result"]["value"])
        self._send("Target.closeTarget", {"targetId": target})
        return markup

    def _send(self, method: str, params: Message | None = None, tab: str = "") -> Message:
        """Send one command (to ``tab``, or to the browser) and return its result."""
        self._last_id += 1
        sent = self._last_id
        command: Message = {"id": sent, "method": method, "params": params or {}}
        command |= {"sessionId": tab} if tab else {}
        os.write(self._commands, json.dumps(command).encode() + b"\0")
        answer = self._read(lambda m: m.get("id") == sent, tab)
        if "error" in answer:
            raise AssertionError(f"Chromium refused {method}: {answer['error']}")
        result: Message = answer["result"]
        return result

    def _read(self, wanted: Callable[[Message], bool], tab: str) -> Message:
        """Return the first message from ``tab`` that is ``wanted``, keeping the others."""
        deadline = time.monotonic() + ANSWER_WITHIN
        while True:
            for message in self._unread:
                if message.get("sessionId", "") == tab and wanted(message):
                    self._unread.remove(message)
                    return message
            self._unread += self._receive(deadline)

    def _receive(self, deadline: float) -> list[Message]:
        """Return the messages Chromium wrote next, waiting for them until ``deadline``."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise AssertionError(f"Chromium did not answer in time; see {self._log}")
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise AssertionError(f"Chromium stopped: {self._log.read_text()[-2000:]}")
            self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\0")
        return [json.loads(part) for part in complete]


def _above_4(fd: int) -> int:
    """Return a copy of ``fd`` numbered above 4, closing ``fd``: the shell moves it to 3 or 4."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5)
    os.close(fd)
    return moved
