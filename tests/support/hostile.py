"""Run one poster daemon process against hostile feeds and good ones at once, and measure it.

``Scenario`` starts the servers on 127.0.0.1 (and a "public" one on 127.0.0.2, see
``publicnet``), a sandbox channel with its webhook set, and writes a feeds.toml reading them all
with ``max_fetches`` 4 and short timeouts; ``run()`` starts ``poster run`` as a process, waits
until every feed has been tried and every post has landed, reads the process's peak memory, stops
it with SIGTERM and returns what happened as an ``Outcome``. The test and ``bench/hostile.py``
share it.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from dripserver import DripServer
from feedserver import FeedServer, Route

from poster.cli import main
from poster.daemon.listener import WebhookReceiver
from poster.destinations.viber.api import ViberChannel
from poster.destinations.viber.sandbox import Sandbox
from support import bombs
from support.daemon import Post, channel_xml
from support.logs import logging_kept
from support.publicnet import PUBLIC

TOKEN = "hostile-Zr7p-4wQx9-never-shown-53"
RSS = "application/rss+xml"
GOOD = ("good-a", "good-b", "good-c")
GOOD_ITEMS = 3
HUGE_BODY = 50 * 1024 * 1024
REPAIRED_TITLE = "Café — \ufffd news: 5 € or сто \ufffd more"
"""The invalid UTF-8 feed's item title as posted: each run of bad bytes became one U+FFFD."""
BOMB_TEMPLATE = "{{ 'x' * 10**9 }}\n"
_CAPPED = "is larger than the 10485760 byte cap (max_bytes)"
ERRORS = {
    "gzip-bomb": _CAPPED,
    "deflate-bomb": _CAPPED,
    "raw-deflate-bomb": _CAPPED,
    "chunked-gzip-bomb": _CAPPED,
    "huge-body": _CAPPED,
    "slow-loris": "not fetched within the 3s deadline (deadline)",
    "deep-xml": "not a feed: XML elements nested more than 1000 deep",
    "deep-json": "invalid JSON: nested too deeply",
    "private-redirect": "127.0.0.1 resolves to non-public address 127.0.0.1; set allow_",
}
"""What the last error of each feed that must fail says, in part."""
CAPPED_LIMITS = 'timeout = "5s"\ndeadline = "15s"\n'
"""The time limits of the feeds that must end at their byte cap. The slow drip tests the 3 s
deadline; on a loaded machine reading 10 MB beside the other feeds can take longer than that, or
wait a second for the next piece, and the cap, not the clock, must be what stops these."""
POSTING = ("entity-bomb", "xxe", "invalid-utf8", "huge-title")
"""The hostile feeds that must post their one item, repaired or cut."""
SETTLE_TIMEOUT = 30.0
_LAUNCHER = Path(__file__).with_name("publicnet.py")
_SERVICE_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")


@dataclass(frozen=True)
class Outcome:
    """What one run of the scenario showed."""

    status: dict[str, Any]
    """``poster status --json`` once everything was tried."""
    posts: tuple[str, ...]
    """The text of every post the sandbox channel accepted, in order."""
    peak_kib: int
    """The daemon's peak resident memory (VmHWM)."""
    settled_after: float
    """Seconds from start until every feed was tried and every post landed."""
    stopped_after: float
    """Seconds from SIGTERM until the process exited."""
    exit_code: int | None
    log: str
    """Everything the daemon wrote to stdout and stderr."""

    def feed(self, name: str) -> dict[str, Any]:
        """Return one feed's entry of the status."""
        [found] = [f for f in self.status["feeds"] if f["name"] == name]
        return found

    def problems(self, feed: str) -> list[dict[str, Any]]:
        """Return the failed or uncertain items of one feed."""
        return [p for p in self.status["problems"] if p["feed"] == feed]

    def unexpected(self) -> dict[str, str]:
        """Return the last error of each feed in ``ERRORS`` that did not fail as listed there."""
        found = {name: str(self.feed(name)["last_error"]) for name in ERRORS}
        return {name: error for name, error in found.items() if ERRORS[name] not in error}


class Scenario:
    """The servers, the sandbox channel and the project folder of one hostile run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.secret = f"xxe-secret-{os.getpid()}-{time.monotonic_ns()}"
        self.secret_file = root / "secret.txt"
        self.config = root / "feeds.toml"
        self.state = root / "state"
        self.feeds: dict[str, str] = {}
        self._stack = ExitStack()

    def __enter__(self) -> Scenario:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    def good_titles(self) -> list[str]:
        """Return the titles the good feeds publish."""
        return [Post(name, n).title for name in GOOD for n in range(1, GOOD_ITEMS + 1)]

    def _start(self) -> None:
        """Start every server, set the channel's webhook and write the project."""
        self.secret_file.write_text(self.secret, encoding="utf-8")
        self.sandbox = self._stack.enter_context(Sandbox(token=TOKEN, port=0))
        receiver = self._stack.enter_context(WebhookReceiver(TOKEN, port=0))
        with httpx.Client() as client:
            result = ViberChannel(client, TOKEN, api_url=self.sandbox.api_url).set_webhook(
                receiver.url
            )
        assert result.ok, result.explanation
        local = self._stack.enter_context(FeedServer())
        public = self._stack.enter_context(FeedServer(PUBLIC))
        prefix = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: 100000\r\n\r\n<?xml"
        drip = self._stack.enter_context(DripServer(prefix % RSS.encode(), b" " * 99_995, 0.05))
        self._serve(local)
        self.feeds["slow-loris"] = drip.url("/slow-loris.xml")
        public.routes["/private-redirect.xml"] = (302, {"Location": local.url("/good-a.xml")}, b"")
        self.feeds["private-redirect"] = public.url("/private-redirect.xml")
        self._write()

    def _serve(self, server: FeedServer) -> None:
        """Put every feed served from 127.0.0.1 on ``server``."""
        for name in GOOD:
            posts = [Post(name, n) for n in range(1, GOOD_ITEMS + 1)]
            self._route(server, name, Route(200, {"Content-Type": RSS}, channel_xml(name, posts)))
        for name, coding, body, chunked in (
            ("gzip-bomb", "gzip", bombs.gzip_bomb(), False),
            ("deflate-bomb", "deflate", bombs.zlib_bomb(), False),
            ("raw-deflate-bomb", "deflate", bombs.raw_deflate_bomb(), False),
            ("chunked-gzip-bomb", "gzip", bombs.gzip_bomb(), True),
        ):
            headers = {"Content-Type": RSS, "Content-Encoding": coding}
            self._route(server, name, Route(200, headers, body, chunked=chunked, validators=False))
        filler = b'<?xml version="1.0"?><rss version="2.0"><channel>'.ljust(HUGE_BODY, b" ")
        self._route(server, "huge-body", Route(200, {"Content-Type": RSS}, filler, chunked=True))
        for name, document in (
            ("entity-bomb", bombs.entity_bomb()),
            ("xxe", bombs.xxe(str(self.secret_file))),
            ("deep-xml", bombs.deep_xml()),
            ("invalid-utf8", bombs.invalid_utf8()),
            ("huge-title", bombs.huge_title()),
            ("template-bomb", bombs.rss([("bomb-1", b"Template bomb")])),
        ):
            self._route(server, name, Route(200, {"Content-Type": RSS}, document))
        json_type = {"Content-Type": "application/feed+json"}
        self._route(server, "deep-json", Route(200, json_type, bombs.deep_json()))

    def _route(self, server: FeedServer, name: str, route: Route) -> None:
        server.routes[f"/{name}"] = route
        self.feeds[name] = server.url(f"/{name}")

    def _write(self) -> None:
        """Write the templates and a feeds.toml reading every feed once an hour."""
        templates = self.root / "templates"
        templates.mkdir()
        (templates / "default.j2").write_text("{{ item.title }}\n", encoding="utf-8")
        (templates / "bomb.j2").write_text(BOMB_TEMPLATE, encoding="utf-8")
        head = (
            'templates = "templates"\n\n'
            f'[viber]\napi_url = "{self.sandbox.api_url}"\nmin_gap = "0s"\n\n'
            '[daemon]\nmax_fetches = 4\nbackoff_max = "1h"\nreprobe = "1h"\n\n'
            '[defaults]\ninterval = "1h"\nbacklog = "all"\ntimeout = "1s"\ndeadline = "3s"\n'
        )
        tables = [
            f'[[feeds]]\nname = "{name}"\nurl = "{url}"\n'
            + ('template = "bomb.j2"\n' if name == "template-bomb" else "")
            + (CAPPED_LIMITS if ERRORS.get(name) == _CAPPED else "")
            for name, url in self.feeds.items()
        ]
        self.config.write_text(head + "\n" + "\n".join(tables), encoding="utf-8")

    def status(self) -> dict[str, Any]:
        """Return ``poster status --json``, asked through the command line beside the daemon.

        The command runs in this process, the daemon in its own: a process per question would
        take CPU from the daemon whose deadlines the scenario checks.
        """
        argv = ["-c", str(self.config), "status", "--json", "--state-dir", str(self.state)]
        out, err = io.StringIO(), io.StringIO()
        with logging_kept(), redirect_stdout(out), redirect_stderr(err):
            code = main(argv)
        if code not in (0, 1):
            raise AssertionError(f"status exited {code}: {err.getvalue()}")
        found: dict[str, Any] = json.loads(out.getvalue())
        return found

    def settled(self, status: dict[str, Any]) -> bool:
        """Tell whether every feed was tried and every item it could post reached an end."""
        tried = {f["name"] for f in status["feeds"] if f["last_success"] or f["last_failure"]}
        landed = len(self.sandbox.posts) >= len(GOOD) * GOOD_ITEMS + len(POSTING)
        bomb_failed = any(p["feed"] == "template-bomb" for p in status["problems"])
        return tried == set(self.feeds) and landed and bomb_failed

    def run(self, timeout: float = SETTLE_TIMEOUT) -> Outcome:
        """Run the daemon until the scenario settles, then stop it; return what happened."""
        log = self.root / "daemon.log"
        argv = [sys.executable, str(_LAUNCHER), "-c", str(self.config)]
        argv += ["run", "--state-dir", str(self.state)]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                argv, env=_env(), cwd=self.root, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
            )
        try:
            started = time.monotonic()
            status = _poll(self.status, self.settled, process, timeout)
            settled_after = time.monotonic() - started
            peak = peak_kib(process.pid)
            asked = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = _wait(process, 10.0)
            stopped_after = time.monotonic() - asked
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        posts = tuple(str(post.get("text", "")) for post in self.sandbox.posts)
        text = log.read_text(encoding="utf-8", errors="replace")
        return Outcome(status, posts, peak, settled_after, stopped_after, code, text)


def _poll(
    ask: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    process: subprocess.Popen[bytes],
    timeout: float,
) -> dict[str, Any]:
    """Ask for the status until ``done`` accepts it; fail if the process ends or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the daemon exited early with {process.returncode}")
        status = ask()
        if done(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled after {timeout:g}s: {json.dumps(status)[:4000]}")
        time.sleep(0.2)


def _wait(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """Return the exit code, or None when the process did not exit within ``timeout``."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def _env() -> dict[str, str]:
    """Return the environment for poster: the token, and nothing a service manager set."""
    clean = {k: v for k, v in os.environ.items() if k not in _SERVICE_ENV}
    return {**clean, "POSTER_VIBER_TOKEN": TOKEN}


def peak_kib(pid: int) -> int:
    """Return the peak resident set size of ``pid`` (VmHWM in /proc/PID/status), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")
