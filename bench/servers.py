"""Run the servers the benchmark needs on 127.0.0.1: nginx for the farm, a sandbox channel.

nginx comes from Debian's packages and runs in the foreground as a child of this process, with
its configuration, pid file, logs and temporary folders under the output folder.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from poster.daemon.listener import WebhookReceiver
from poster.destinations.viber.api import ViberChannel
from poster.destinations.viber.sandbox import Sandbox

NGINX_PACKAGES = ("nginx-light", "nginx")
START_TIMEOUT = 10.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _apt_install(*packages: str) -> bool:
    """Install the first of ``packages`` that apt can install; tell whether one was."""
    for refreshed in (False, True):
        if refreshed:
            subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        for package in packages:
            done = subprocess.run(
                ["apt-get", "install", "-y", "-qq", package], check=False, capture_output=True
            )
            if done.returncode == 0:
                return True
    return False


def ensure_program(path: str, *packages: str) -> str:
    """Return ``path`` (or the program of that name on PATH), installing its package if missing."""
    found = shutil.which(path) or shutil.which(Path(path).name)
    if found is None and shutil.which("apt-get") and _apt_install(*packages):
        found = shutil.which(path) or shutil.which(Path(path).name)
    if found is None:
        raise SystemExit(f"bench: {path} is missing; install Debian's {' or '.join(packages)}")
    return found


def _nginx_conf(root: Path, home: Path, port: int, access_log: Path | None = None) -> str:
    """Return an nginx configuration serving ``root`` as static files with validators.

    With ``access_log``, each request is logged there as ``<epoch seconds> <path> <status>``.
    """
    temp = home / "tmp"
    log = f"log_format polls '$msec $uri $status';\n  access_log {access_log} polls;"
    log = log if access_log is not None else "access_log off;"
    paths = "\n".join(
        f"  {kind}_temp_path {temp / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # The user directive only means something when the master runs as root.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
daemon off;
pid {home / "nginx.pid"};
error_log {home / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
  types {{ application/rss+xml xml; application/atom+xml atom; }}
  default_type application/octet-stream;
  {log}
  sendfile on;
  tcp_nopush on;
  etag on;
  keepalive_requests 100000;
{paths}
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location / {{ }}
  }}
}}
"""


def _wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    """Wait until ``url`` answers, or fail when nginx exits or takes too long."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: nginx exited with {process.returncode}")
        try:
            if httpx.head(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"bench: nginx did not answer {url} within {START_TIMEOUT:.0f} s")


@contextmanager
def nginx(root: Path, home: Path, probe: str, access_log: Path | None = None) -> Iterator[str]:
    """Serve ``root`` with nginx on a free port; yield its base URL and always stop it."""
    binary = ensure_program("/usr/sbin/nginx", *NGINX_PACKAGES)
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (home / "tmp" / kind).mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = home / "nginx.conf"
    conf.write_text(_nginx_conf(root.resolve(), home.resolve(), port, access_log), encoding="utf-8")
    command = [binary, "-p", str(home), "-c", str(conf), "-e", str(home / "error.log")]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(f"{base}/{probe}", process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def nginx_version() -> str:
    """Return nginx's version line, e.g. ``nginx/1.22.1``."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    done = subprocess.run([binary, "-v"], check=False, capture_output=True, text=True)
    return done.stderr.strip().removeprefix("nginx version: ")


@dataclass(frozen=True)
class Channel:
    """A sandbox channel ready for posts: its API URL, token, and the running sandbox."""

    api_url: str
    token: str
    sandbox: Sandbox

    def posts(self) -> int:
        """Return how many posts the channel accepted so far."""
        return len(self.sandbox.posts)


@contextmanager
def channel(token: str) -> Iterator[Channel]:
    """Run a sandbox channel with its webhook set, as the API requires before any post."""
    with Sandbox(token=token, port=0) as sandbox, WebhookReceiver(token, port=0) as receiver:
        with httpx.Client() as client:
            result = ViberChannel(client, token, api_url=sandbox.api_url).set_webhook(receiver.url)
        if not result.ok:
            raise SystemExit(f"bench: the sandbox refused the webhook: {result.explanation}")
        yield Channel(sandbox.api_url, token, sandbox)
