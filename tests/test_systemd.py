"""Test the sd_notify client against real sockets and the unit file against systemd-analyze."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from poster.daemon.systemd import Notifier, socket_address, watchdog_interval

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "poster.service"


# --- the notify protocol ----------------------------------------------------------------------


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """Bind a datagram socket the way systemd does and yield its $NOTIFY_SOCKET value."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        name = str(tmp_path / "notify")
        sock.bind(name)
    else:
        name = f"@poster-test-{os.getpid()}-{time.monotonic_ns()}"
        sock.bind(b"\0" + name[1:].encode())
    sock.settimeout(2)
    with sock:
        yield name, sock


def received(sock: socket.socket) -> list[str]:
    """Return every datagram waiting on ``sock``, decoded."""
    datagrams = [sock.recv(4096).decode()]
    sock.setblocking(False)
    try:
        while True:
            datagrams.append(sock.recv(4096).decode())
    except BlockingIOError:
        return datagrams


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda n: n.ready(), ["READY=1"]),
        (lambda n: n.ready("watching 3 feeds"), ["READY=1\nSTATUS=watching 3 feeds"]),
        (lambda n: n.stopping(), ["STOPPING=1"]),
        (lambda n: n.watchdog(), ["WATCHDOG=1"]),
        (lambda n: n.status("feed=news failing"), ["STATUS=feed=news failing"]),
        (lambda n: n.status("two\nlines"), ["STATUS=two lines"]),
        (lambda n: (n.watchdog(), n.watchdog()), ["WATCHDOG=1", "WATCHDOG=1"]),
    ],
    ids=["ready", "ready-with-status", "stopping", "watchdog", "status", "status-newline", "twice"],
)
def test_each_call_sends_exactly_its_datagrams(
    listener: tuple[str, socket.socket], call: Callable[[Notifier], object], expected: list[str]
) -> None:
    name, sock = listener
    notifier = Notifier({"NOTIFY_SOCKET": name})
    assert notifier.enabled
    call(notifier)
    assert received(sock) == expected


def test_reloading_sends_the_monotonic_time(listener: tuple[str, socket.socket]) -> None:
    name, sock = listener
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    Notifier({"NOTIFY_SOCKET": name}).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    [datagram] = received(sock)
    match = re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=(\d+)", datagram)
    assert match is not None, datagram
    assert before <= int(match.group(1)) <= after


@pytest.mark.parametrize(
    "environ",
    [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "@"}, {"NOTIFY_SOCKET": "vsock:2:1234"}],
    ids=["unset", "empty", "bare-at", "unsupported-vsock"],
)
def test_without_a_usable_socket_every_call_is_a_no_op(environ: dict[str, str]) -> None:
    notifier = Notifier(environ)
    assert not notifier.enabled
    notifier.ready("up")
    notifier.reloading()
    notifier.status("x")
    notifier.watchdog()
    notifier.stopping()


def test_send_failure_never_raises_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="poster.daemon.systemd")
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert notifier.enabled
    notifier.ready()
    notifier.watchdog()
    notifier.stopping()
    failures = [r for r in caplog.records if "event=notify_failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].levelname == "DEBUG"


def test_the_process_environment_is_the_default(
    monkeypatch: pytest.MonkeyPatch, listener: tuple[str, socket.socket]
) -> None:
    name, sock = listener
    monkeypatch.setenv("NOTIFY_SOCKET", name)
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    notifier = Notifier()
    notifier.ready()
    assert received(sock) == ["READY=1"]
    assert notifier.watchdog_interval == 30.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/run/systemd/notify", b"/run/systemd/notify"),
        ("@/org/freedesktop/systemd1/notify/1", b"\0/org/freedesktop/systemd1/notify/1"),
        ("", None),
        ("relative/path", None),
    ],
    ids=["path", "abstract", "empty", "relative"],
)
def test_socket_address(value: str, expected: bytes | None) -> None:
    assert socket_address(value) == expected


# --- watchdog interval ------------------------------------------------------------------------

PID = 4242


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(PID)}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(PID + 1)}, None),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "not-a-pid"}, None),
        ({"WATCHDOG_USEC": "3000"}, 0.0015),
        ({}, None),
        ({"WATCHDOG_USEC": ""}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_PID": str(PID)}, None),
    ],
    ids=[
        "usec-only",
        "our-pid",
        "another-pid",
        "garbled-pid",
        "short",
        "unset",
        "empty",
        "zero",
        "negative",
        "garbled-usec",
        "pid-without-usec",
    ],
)
def test_watchdog_interval(environ: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(environ, PID) == expected


def test_notifier_checks_watchdog_pid_against_this_process() -> None:
    ours = {"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())}
    theirs = {"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier(ours).watchdog_interval == 10.0
    assert Notifier(theirs).watchdog_interval is None


# --- the unit file ----------------------------------------------------------------------------


def directives(path: Path) -> dict[str, dict[str, list[str]]]:
    """Return every directive of a unit file by section, keeping repeated keys in order."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


REQUIRED = {
    "Type": "notify",
    "NotifyAccess": "main",
    "ExecStart": "/opt/poster/bin/poster run",
    "ExecReload": "/bin/kill -HUP $MAINPID",
    "WatchdogSec": "60",
    "Restart": "on-failure",
    "RestartSec": "10",
    "RestartPreventExitStatus": "2 3",
    "TimeoutStopSec": "15",
    "DynamicUser": "yes",
    "StateDirectory": "poster",
    "CacheDirectory": "poster",
    "ConfigurationDirectory": "poster",
    "LoadCredential": "viber-token:/etc/poster/viber-token",
    "Environment": "PYTHONUNBUFFERED=1 TMPDIR=/var/tmp",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "SystemCallArchitectures": "native",
    "SystemCallFilter": "@system-service",
    "CapabilityBoundingSet": "",
    "UMask": "0077",
}


@pytest.mark.parametrize(("key", "value"), REQUIRED.items(), ids=list(REQUIRED))
def test_unit_sets_required_directive(key: str, value: str) -> None:
    assert directives(UNIT)["Service"].get(key) == [value]


def test_unit_names_what_the_code_reads() -> None:
    from poster.destinations.viber.token import CREDENTIAL_NAME

    service = directives(UNIT)["Service"]
    assert service["LoadCredential"][0].split(":")[0] == CREDENTIAL_NAME
    assert directives(UNIT)["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_cache_directory_the_unit_asks_for_is_where_poster_keeps_files() -> None:
    from poster.cachefiles import cache_dir

    name = directives(UNIT)["Service"]["CacheDirectory"][0]
    # systemd sets $CACHE_DIRECTORY to /var/cache/<name> for the service.
    assert cache_dir({"CACHE_DIRECTORY": f"/var/cache/{name}", "HOME": "/"}) == Path(
        "/var/cache", name
    )


def test_unit_starts_with_install_notes() -> None:
    head = UNIT.read_text().split("[Unit]")[0]
    for needed in ("systemctl enable --now poster", "/etc/poster/feeds.toml", "viber-token"):
        assert needed in head


@pytest.fixture
def analyze() -> str:
    """Return the systemd-analyze path; skip locally when it is missing, fail in CI."""
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is required in CI (apt-get install systemd)")
        pytest.skip("systemd-analyze is not installed")
    return found


README = UNIT.parent.parent / "README.md"
RECIPE = {
    "wheel": "python3 -m pip wheel --no-deps -w dist .",
    "venv": (
        "sudo python3 -m venv /opt/poster && sudo /opt/poster/bin/pip install dist/poster-*.whl"
    ),
    "unit": "sudo cp systemd/poster.service /etc/systemd/system/",
}
"""The lines of the README's service recipe that decide where poster and its unit end up."""


def service_recipe() -> str:
    """Return the shell block of the README's "Run as a service" section."""
    section = README.read_text(encoding="utf-8").split("## Run as a service", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("step", RECIPE, ids=list(RECIPE))
def test_the_readme_recipe_installs_where_the_unit_looks(step: str) -> None:
    commands = [line.split("  #")[0].rstrip() for line in service_recipe().splitlines()]
    assert RECIPE[step] in commands


def test_the_unit_header_gives_the_same_recipe() -> None:
    head = UNIT.read_text().split("[Unit]")[0]
    assert "python3 -m pip wheel --no-deps -w dist ." in head
    assert "python3 -m venv /opt/poster && /opt/poster/bin/pip install dist/poster-*.whl" in head
    assert "cp systemd/poster.service /etc/systemd/system/" in head


def installed(root: Path, *edits: tuple[str, str]) -> Path:
    """Lay out ``root`` as the README's recipe leaves a Debian system; return the unit's path.

    /opt/poster is a real virtual environment, holding the ``poster`` script pip writes into
    a venv's bin/ (this test venv's own copy); the unit is copied unchanged but for ``edits``;
    systemd's own units and /bin/kill come from this machine.
    """
    prefix = re.search(r"python3 -m venv (\S+)", service_recipe())
    target = re.search(r"cp systemd/poster\.service (\S+)", service_recipe())
    assert prefix is not None and target is not None
    venv = root / prefix.group(1).lstrip("/")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    shutil.copy2(Path(sys.prefix) / "bin" / "poster", venv / "bin" / "poster")
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "usr/bin").mkdir(parents=True)
    shutil.copy2("/usr/bin/kill", root / "usr/bin/kill")
    (root / "bin").symlink_to("usr/bin")  # Debian's merged /usr
    text = UNIT.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    unit = root / target.group(1).lstrip("/") / UNIT.name
    unit.parent.mkdir(parents=True)
    unit.write_text(text)
    return unit


def verify_in(analyze: str, root: Path) -> tuple[int, list[str]]:
    """Run systemd-analyze verify on the installed unit within ``root``."""
    done = subprocess.run(
        [analyze, "verify", "--man=no", f"--root={root}", UNIT.name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = (done.stdout + done.stderr).splitlines()
    return done.returncode, [line for line in lines if UNIT.name in line]


def test_systemd_analyze_accepts_the_unit_as_the_readme_installs_it(
    analyze: str, tmp_path: Path
) -> None:
    installed(tmp_path)
    assert verify_in(analyze, tmp_path) == (0, [])


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (("ProtectSystem=strict", "ProtectSytem=strict"), "Unknown key 'ProtectSytem'"),
        (("/opt/poster/bin/poster run", "/usr/local/bin/poster run"), "is not executable"),
    ],
    ids=["typo", "another-prefix"],
)
def test_systemd_analyze_check_can_fail(
    analyze: str, tmp_path: Path, edit: tuple[str, str], complaint: str
) -> None:
    installed(tmp_path, edit)
    _, complaints = verify_in(analyze, tmp_path)
    assert any(complaint in line for line in complaints), complaints
