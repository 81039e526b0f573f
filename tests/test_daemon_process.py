"""Run ``python -m poster run`` as a real process, as systemd would, against a sandbox channel.

The test binds the sd_notify datagram socket itself (sd_notify(3)), sends the signals a service
manager sends, and reads the process's log stream the way journald would receive it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from feedserver import FeedServer, Route
from support.daemon import TOKEN, Feeds, Project, new_project, texts, titles
from support.wait import wait_for

from poster.destinations.viber.sandbox import Sandbox
from poster.store.ledger import SENT

STOP_WITHIN = 5.0
"""Seconds a stopping service may take before the test counts it as hung."""
_SERVICE_ENV = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "JOURNAL_STREAM",
    "STATE_DIRECTORY",
    "CONFIGURATION_DIRECTORY",
    "POSTER_CONFIG",
    "CREDENTIALS_DIRECTORY",
)


@pytest.fixture
def channel_token() -> str:
    return TOKEN


@pytest.fixture
def project(
    tmp_path: Path, sandbox: Sandbox, feed_server: FeedServer, set_webhook: Callable[[], None]
) -> Project:
    """Return a project with one feed, posting to a sandbox channel that takes posts."""
    set_webhook()
    project = new_project(tmp_path, sandbox, Feeds(feed_server))
    project.write(project.table("news"))
    return project


@pytest.fixture
def notify() -> Iterator[tuple[str, socket.socket]]:
    """Bind a datagram socket as systemd does; yield its $NOTIFY_SOCKET value and the socket."""
    name = f"@poster-daemon-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        # sd_notify(3): a leading "@" names the abstract namespace, a NUL byte on the wire.
        sock.bind(b"\0" + name[1:].encode())
        yield name, sock


class Messages:
    """Read sd_notify datagrams in arrival order."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seen: list[str] = []

    def until(self, assignment: str, timeout: float = 10.0) -> str:
        """Return the next datagram holding ``assignment`` on a line of its own."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                datagram = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            self.seen.append(datagram)
            if assignment in datagram.splitlines():
                return datagram
        raise AssertionError(f"no {assignment} within {timeout:g}s; got {self.seen}")

    def states(self) -> list[str]:
        """Return the first line of every datagram but the watchdog's, in order."""
        return [d.splitlines()[0] for d in self.seen if d != "WATCHDOG=1"]


@contextmanager
def service(
    project: Project, log: Path, *, env: dict[str, str] | None = None, debug: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``poster run`` on ``project`` with stderr going to ``log``; kill it if left running.

    With ``STATE_DIRECTORY`` in ``env`` the paths come from systemd's variables, as under the
    unit, instead of ``-c`` and ``--state-dir``.
    """
    clean = {k: v for k, v in os.environ.items() if k not in _SERVICE_ENV}
    under_unit = "STATE_DIRECTORY" in (env or {})
    argv = [sys.executable, "-m", "poster"]
    argv += [] if under_unit else ["-c", str(project.config)]
    argv += ["--log-level", "debug"] if debug else []
    argv += ["run"] if under_unit else ["run", "--state-dir", str(project.state)]
    elsewhere = project.root / "cwd"
    elsewhere.mkdir(exist_ok=True)
    with log.open("wb") as stream:
        process = subprocess.Popen(
            argv,
            env={**clean, "POSTER_VIBER_TOKEN": TOKEN, **(env or {})},
            cwd=elsewhere,
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=stream,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextmanager
def single_pass(project: Project) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str]]]:
    """Start ``run --once`` as its own process; yield it and its environment, killed at the end
    if it still runs."""
    once = [sys.executable, "-m", "poster", "-c", str(project.config), "run", "--once"]
    once += ["--state-dir", str(project.state)]
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_ENV}
    env["POSTER_VIBER_TOKEN"] = TOKEN
    process = subprocess.Popen(
        once, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        yield process, env
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen[bytes]) -> int:
    """Send SIGTERM and return the exit code, failing if the process does not exit in time."""
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=STOP_WITHIN)


def test_the_service_reports_ready_reloading_watchdog_and_stopping_to_systemd(
    project: Project, notify: tuple[str, socket.socket], tmp_path: Path
) -> None:
    name, sock = notify
    messages = Messages(sock)
    env = {"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "1000000"}
    project.feeds.publish("news", 1)
    with service(project, tmp_path / "log", env=env) as process:
        ready = messages.until("READY=1", timeout=20)
        assert "STATUS=polling 1 feeds" in ready.splitlines()
        # Half the 1 s watchdog timeout, as sd_watchdog_enabled(3) recommends.
        messages.until("WATCHDOG=1", timeout=1.5)
        process.send_signal(signal.SIGHUP)
        reloading = messages.until("RELOADING=1", timeout=5)
        assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", reloading)
        messages.until("READY=1", timeout=5)
        stopped_at = time.monotonic()
        assert stop(process) == 0
        assert time.monotonic() - stopped_at < STOP_WITHIN
        messages.until("STOPPING=1", timeout=1)
    assert messages.states() == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]


def test_sigterm_lets_the_post_in_flight_finish_and_records_it_sent(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    posts = project.feeds.publish("news", 1)
    sandbox.inject("slow:1.0")
    log = tmp_path / "log"
    with service(project, log) as process:
        # The sandbox keeps the post at once and answers 1 s later.
        wait_for(lambda: sandbox.posts, "the post to reach the channel", timeout=20)
        asked = time.monotonic()
        assert stop(process) == 0
        waited = time.monotonic() - asked
    assert waited >= 0.7, "the process exited without waiting for the answer"
    assert texts(sandbox) == titles(posts)
    assert project.records() == {"news-1": SENT}
    events = log.read_text(encoding="utf-8")
    assert "event=stopped" in events
    assert "status=uncertain" not in events


def test_sigterm_ends_a_read_a_slow_feed_holds_well_within_systemds_stop_timeout(
    project: Project, feed_server: FeedServer, tmp_path: Path
) -> None:
    slow = project.table("slow", extra='timeout = "60s"\n')
    project.write(project.table("news"), slow)
    project.feeds.publish("news", 1)
    # Answered only after a minute: the read is under way when the signal comes.
    feed_server.routes["/slow.xml"] = Route(200, {"Content-Type": "application/rss+xml"}, b"",
                                            delay=60.0)  # fmt: skip
    log = tmp_path / "log"
    with service(project, log) as process:
        wait_for(lambda: any(r.path == "/slow.xml" for r in feed_server.requests), "the read")
        process.send_signal(signal.SIGTERM)
        # The stop's grace for reads (3 s), well short of the unit's TimeoutStopSec (15 s).
        assert process.wait(timeout=10) == 0, "the process waited for the read's deadline"
    events = log.read_text(encoding="utf-8")
    assert "event=stopped" in events and "event=reads-ended count=1" in events
    assert "Traceback" not in events


def test_a_stopped_single_pass_ends_its_slow_reads_at_once_and_records_no_failure(
    project: Project, feed_server: FeedServer
) -> None:
    images = "".join(
        f"<item><title>Photo {n}</title><guid>p{n}</guid><link>https://e.org/{n}</link>"
        f'<enclosure url="{feed_server.url(f"/slow/{n}.jpg")}" type="image/jpeg"/></item>'
        for n in range(30)
    )
    photos = f'<rss version="2.0"><channel><title>Photos</title>{images}</channel></rss>'
    rss = {"Content-Type": "application/rss+xml"}
    feed_server.routes["/photos.xml"] = (200, rss, photos.encode())
    for n in range(30):  # each image answered only after a minute: 30 probes to wait out
        feed_server.routes[f"/slow/{n}.jpg"] = Route(200, {}, b"", delay=60.0)
    feed_server.routes["/slow.xml"] = Route(200, {}, b"", delay=60.0)
    extra = 'timeout = "60s"\nallow_private = true\n'
    project.write(project.table("photos", extra=extra), project.table("slow", extra=extra))
    probing = lambda: any(r.path.startswith("/slow/") for r in feed_server.requests)  # noqa: E731
    with single_pass(project) as (process, env):
        wait_for(probing, "a probe of the photos' images", timeout=20)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=STOP_WITHIN)
    assert process.returncode == 128 + signal.SIGINT, err.decode()
    shown = out.decode()
    assert "  slow: feed 'slow': not read: the pass was stopped; the next one reads it\n" in shown
    assert "not read as the pass was stopped" in shown and "Traceback" not in err.decode()
    status = subprocess.run(
        [sys.executable, "-m", "poster", "-c", str(project.config), "status", "--state-dir",
         str(project.state)], env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "failing" not in status.stdout, status.stdout
    assert re.search(r"\n  slow +not read yet ", status.stdout), status.stdout
    probes = project.state / "media" / "probes.json"  # a cut probe is no failure to remember
    assert "/slow/" not in (probes.read_text() if probes.exists() else "")


def test_sigterm_stops_a_single_pass_after_the_post_in_flight_and_keeps_the_rest(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    posts = project.feeds.publish("news", 1, 2)
    sandbox.inject("slow:1.0")
    with single_pass(project) as (process, env):
        wait_for(lambda: sandbox.posts, "the first post to reach the channel", timeout=20)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=STOP_WITHIN)
    assert process.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM: any post in flight finished and was recorded" in err.decode()
    assert "Traceback" not in err.decode()
    assert texts(sandbox) == titles(posts[:1])
    assert project.records() == {"news-1": SENT}
    done = subprocess.run(process.args, env=env, capture_output=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert texts(sandbox) == titles(posts)


def test_under_the_unit_log_lines_carry_a_priority_no_timestamp_and_never_the_token(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    project.feeds.publish("news", 1)
    log = tmp_path / "log"
    log.touch()
    info = log.stat()
    # systemd.exec(5): $JOURNAL_STREAM is the device and inode of the stream journald reads;
    # the unit's StateDirectory= and ConfigurationDirectory= name the paths.
    env = {
        "JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}",
        "STATE_DIRECTORY": str(project.state),
        "CONFIGURATION_DIRECTORY": str(project.root),
    }
    with service(project, log, env=env, debug=True) as process:
        wait_for(lambda: sandbox.posts, "the post to reach the channel", timeout=20)
        assert stop(process) == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    assert "<6>event=started feeds=1 state=" + str(project.state) in lines
    assert any(line.startswith("<7>") for line in lines)
    assert [line for line in lines if not re.match(r"<[0-7]>", line)] == []
    assert [line for line in lines if re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", line)] == []
    assert TOKEN not in "\n".join(lines)
