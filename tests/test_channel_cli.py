"""Drive the channel commands (run --sandbox, account, webhook set/remove) against real servers.

Every command runs in this process through ``poster.cli.main`` unless the test is about the real
process; the sandbox channel and webhook receivers listen on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import respx

from poster.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, main
from poster.daemon.listener import WebhookReceiver
from poster.destinations.viber.sandbox import Sandbox
from poster.destinations.viber.sandbox.session import SANDBOX_TOKEN

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "run"
TOKEN = "cli-Wb3r-Qx81-never-shown-19"
"""A token distinctive enough that finding it in any output cannot be a coincidence."""

POSTS_LINE = re.compile(r"(?m)^The sandbox channel got (\d+) posts?:\n((?:  .*\n)*)")
PAGE_HINT = (
    "To see them on a page, run `make studio` or `poster studio` (it serves until Ctrl-C).\n"
)


@dataclass(frozen=True)
class Result:
    """What one command printed and returned."""

    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give every command the token through the environment, and no other source."""
    monkeypatch.setenv("POSTER_VIBER_TOKEN", TOKEN)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


@pytest.fixture
def channel_token() -> str:
    return TOKEN


def free_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_config(folder: Path, api_url: str, more: str = "") -> Path:
    """Write a feeds.toml with one fixture feed that talks to ``api_url``."""
    path = folder / "feeds.toml"
    head = f'templates = "{DATA / "templates"}"\n\n[viber]\napi_url = "{api_url}"\n'
    feeds = f'\n[[feeds]]\nname = "news"\nurl = "{DATA / "news.xml"}"\n'
    path.write_text(head + 'min_gap = "0s"\n' + more + feeds, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """Run one command in this process and check the token stayed out of the output."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert TOKEN not in out and TOKEN not in err
    return Result(code, out, err)


def run_process(*argv: str, env: dict[str, str] | None = None) -> Result:
    """Run one command as its own process, as a person or systemd would."""
    done = subprocess.run(
        [sys.executable, "-m", "poster", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert TOKEN not in done.stdout and TOKEN not in done.stderr
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """Copy the shipped feeds.toml with its templates and samples; return the config's path."""
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    return Path(shutil.copy(ROOT / "feeds.toml", tmp_path / "feeds.toml"))


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--once"],
        ["account"],
        ["webhook", "set", "https://example.org/viber/webhook"],
        ["webhook", "remove"],
    ],
    ids=["run", "account", "webhook-set", "webhook-remove"],
)
def test_a_missing_token_says_where_to_put_one(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    monkeypatch.delenv("POSTER_VIBER_TOKEN")
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, sandbox.api_url)
    result = run(capsys, "-c", str(config), *command)
    assert result.code == EXIT_CONFIG
    assert "no Viber token" in result.err
    assert "POSTER_VIBER_TOKEN" in result.err
    # The way to try poster without a token must work whichever command was refused.
    assert "`poster run --once --sandbox`" in result.err
    assert result.out == ""
    assert sandbox.posts == [] and sandbox.webhook is None
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("encoding", ["ascii", "koi8-r", "latin-1"])
def test_a_terminal_that_is_not_utf8_gets_escapes_not_a_bug(shipped: Path, encoding: str) -> None:
    preview = [sys.executable, "-m", "poster", "-c", str(shipped), "preview", "--feed", "zarechye"]
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    for json_too in ((), ("--json",)):
        done = subprocess.run([*preview, *json_too], capture_output=True, env=env, timeout=60)
        assert done.returncode == EXIT_OK and b"bug" not in done.stderr, done.stderr
        out = done.stdout.decode(encoding)
        if json_too:  # what the encoding lacks is a JSON escape: the document stays whole
            assert "Заречья" in json.dumps(json.loads(out), ensure_ascii=False)
        else:
            assert "== zarechye" in out and ("Заречья" in out or "\\u0417" in out)


def test_run_sandbox_posts_the_shipped_feeds_to_a_local_channel(
    capsys: pytest.CaptureFixture[str], shipped: Path
) -> None:
    state = shipped.parent / "state"
    argv = ["-c", str(shipped), "run", "--once", "--sandbox", "--port", "0"]
    result = run(capsys, *argv, "--state-dir", str(state))
    assert result.code == EXIT_OK, result.err
    [(count, listed)] = POSTS_LINE.findall(result.out)
    # Eight feeds with backlog = 3 and max_per_pass = 20: every item the rules let through.
    assert int(count) == 14
    assert "posts: 14 sent, 0 failed, 0 waiting" in result.out
    # Without a terminal the page closes with the command, so the posts are listed instead.
    lines = listed.splitlines()
    assert len(lines) == 14
    assert "  file     Winter catalogue 2026.pdf" in lines
    assert "  picture  *Hand-made ceramic teapot*" in lines
    assert result.out.endswith(PAGE_HINT)
    assert "open http" not in result.out
    assert SANDBOX_TOKEN not in result.out + result.err


class _Terminal:
    """Stand in for standard input on a terminal."""

    def isatty(self) -> bool:
        return True


def test_run_sandbox_in_a_terminal_serves_the_page_until_ctrl_c(
    capsys: pytest.CaptureFixture[str], shipped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    class CtrlC(threading.Event):
        """Look at the page while it is served, then press Ctrl-C."""

        def wait(self, timeout: float | None = None) -> bool:
            url = PAGE_URL.search(capsys.readouterr().out)
            assert url is not None
            seen.append(len(httpx.get(url.group(1) + "sandbox/posts").json()))
            raise KeyboardInterrupt

    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(
        "poster.destinations.viber.sandbox.host.threading", SimpleNamespace(Event=CtrlC)
    )
    state = str(shipped.parent / "state")
    result = run(
        capsys,
        "-c",
        str(shipped),
        "run",
        "--once",
        "--sandbox",
        "--port",
        "0",
        "--state-dir",
        state,
    )
    assert result.code == EXIT_OK
    assert seen == [14]


PAGE_URL = re.compile(
    r"The sandbox channel got \d+ posts?: open (http://127\.0\.0\.1:\d+/) to see them\.\n"
    r"The page stays up until you press Ctrl-C\."
)


def test_run_sandbox_as_a_process_needs_no_token_and_keeps_no_state(
    shipped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POSTER_VIBER_TOKEN")
    result = run_process("-c", str(shipped), "run", "--once", "--sandbox", "--port", "0")
    assert result.code == EXIT_OK, result.err
    [(count, _listed)] = POSTS_LINE.findall(result.out)
    assert int(count) >= 9
    assert result.out.endswith(PAGE_HINT)
    assert not (shipped.parent / "state").exists()


def test_account_lists_the_channel_and_marks_the_sender(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox: Sandbox
) -> None:
    config = write_config(tmp_path, sandbox.api_url)
    result = run(capsys, "-c", str(config), "account")
    assert result.code == EXIT_OK, result.err
    assert result.out.splitlines() == [
        "viber (viber)",
        "  channel  Sandbox channel",
        f"  id       {sandbox.channel.account_id}",
        "  members:",
        "    superadmin  sandbox-superadmin=  Sandbox Admin  <- sender",
        "    admin       sandbox-admin=  Sandbox Editor",
    ]
    assert result.err == ""


def test_account_marks_the_configured_sender_and_warns_of_one_who_is_no_superadmin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox: Sandbox
) -> None:
    config = write_config(tmp_path, sandbox.api_url, 'from = "sandbox-admin="\n')
    result = run(capsys, "-c", str(config), "account")
    assert "    admin       sandbox-admin=  Sandbox Editor  <- sender" in result.out
    assert "    superadmin  sandbox-superadmin=  Sandbox Admin\n" in result.out
    assert "[viber] from is 'sandbox-admin=', which is no superadmin" in result.err


@pytest.mark.parametrize(
    "url",
    ["http://example.org/viber/webhook", "ftp://example.org/hook"],
    ids=["plain-http-remote", "ftp"],
)
def test_webhook_set_refuses_a_url_viber_cannot_call(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox: Sandbox, url: str
) -> None:
    config = write_config(tmp_path, sandbox.api_url)
    result = run(capsys, "-c", str(config), "webhook", "set", url)
    assert result.code == EXIT_CONFIG
    assert "https" in result.err
    assert sandbox.webhook is None


@pytest.mark.parametrize("command", [["set", "https://example.org/hook"], ["remove"]])
@pytest.mark.parametrize("echo", [TOKEN, TOKEN.lower()], ids=["as-sent", "lower-cased"])
def test_webhook_never_prints_a_token_the_api_echoes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str], echo: str
) -> None:
    api = "https://api.example.org/pa"
    config = write_config(tmp_path, api)
    refusal = {"status": 3, "status_message": f"bad data; token was {echo}"}
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{api}/set_webhook").respond(200, json=refusal)
        result = run(capsys, "-c", str(config), "webhook", *command)
    assert result.code == EXIT_FAILED
    assert "token was ***" in result.out
    assert echo not in result.out + result.err


@pytest.mark.parametrize("url", ["", "  "], ids=["empty", "blank"])
def test_webhook_set_without_a_url_removes_nothing_and_names_remove(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox: Sandbox, url: str
) -> None:
    port = free_port()
    config = write_config(tmp_path, sandbox.api_url, f'[webhook]\nlisten = "127.0.0.1:{port}"\n')
    hook = f"http://127.0.0.1:{port}/viber/webhook"
    assert run(capsys, "-c", str(config), "webhook", "set", hook).code == EXIT_OK
    result = run(capsys, "-c", str(config), "webhook", "set", url)
    assert result.code == EXIT_CONFIG
    assert "poster webhook remove" in result.err
    assert sandbox.webhook == hook


def test_webhook_set_serves_its_own_check_call_then_remove(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox: Sandbox
) -> None:
    port = free_port()
    config = write_config(tmp_path, sandbox.api_url, f'[webhook]\nlisten = "127.0.0.1:{port}"\n')
    url = f"http://127.0.0.1:{port}/viber/webhook"
    result = run(capsys, "-c", str(config), "webhook", "set", url)
    assert result.code == EXIT_OK, result.err
    assert result.out == f"Viber checked {url} and it answered 200; the webhook is set\n"
    assert sandbox.webhook == url
    removed = run(capsys, "-c", str(config), "webhook", "remove")
    assert removed.code == EXIT_OK, removed.err
    assert removed.out == "the webhook is removed\n"
    assert sandbox.webhook is None


def test_webhook_set_leaves_the_check_call_to_a_running_daemon(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox: Sandbox
) -> None:
    with WebhookReceiver(TOKEN, port=0) as daemon:
        listen = f'[webhook]\nlisten = "127.0.0.1:{daemon.port}"\n'
        config = write_config(tmp_path, sandbox.api_url, listen)
        result = run(capsys, "-c", str(config), "webhook", "set", daemon.url)
        assert result.code == EXIT_OK, result.err
        assert sandbox.webhook == daemon.url
        assert [event["event"] for event in daemon.events] == ["webhook"]


@pytest.fixture
def unsigned() -> Iterator[Sandbox]:
    """Run a sandbox channel that sends its check call unsigned, as the reference shows it."""
    with Sandbox(token=TOKEN, port=0, sign_callbacks=False) as running:
        yield running


def test_webhook_set_answers_an_unsigned_check_call_itself(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, unsigned: Sandbox
) -> None:
    port = free_port()
    config = write_config(tmp_path, unsigned.api_url, f'[webhook]\nlisten = "127.0.0.1:{port}"\n')
    url = f"http://127.0.0.1:{port}/viber/webhook"
    result = run(capsys, "-c", str(config), "webhook", "set", url)
    assert result.code == EXIT_OK, result.out
    assert result.out == f"Viber checked {url} and it answered 200; the webhook is set\n"
    assert unsigned.webhook == url


def test_a_running_daemon_answers_an_unsigned_check_call(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, unsigned: Sandbox
) -> None:
    with WebhookReceiver(TOKEN, port=0) as daemon:
        listen = f'[webhook]\nlisten = "127.0.0.1:{daemon.port}"\n'
        config = write_config(tmp_path, unsigned.api_url, listen)
        result = run(capsys, "-c", str(config), "webhook", "set", daemon.url)
        assert result.code == EXIT_OK, result.out
        assert unsigned.webhook == daemon.url
        [event] = daemon.events
        assert event["event"] == "webhook"
        assert set(event) == {"event", "timestamp", "message_token"}


def test_webhook_set_fails_when_nothing_answers_the_check_call(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox: Sandbox
) -> None:
    config = write_config(tmp_path, sandbox.api_url)
    url = f"http://127.0.0.1:{free_port()}/viber/webhook"
    result = run(capsys, "-c", str(config), "webhook", "set", url)
    assert result.code == EXIT_FAILED
    assert "did not answer 200 to the check call" in result.out
    assert f"poster: [webhook] listen is not set in {config}" in result.err
    assert sandbox.webhook is None


def test_webhook_set_as_a_process(tmp_path: Path, sandbox: Sandbox) -> None:
    port = free_port()
    config = write_config(tmp_path, sandbox.api_url, f'[webhook]\nlisten = "127.0.0.1:{port}"\n')
    url = f"http://127.0.0.1:{port}/viber/webhook"
    result = run_process("-c", str(config), "--log-level", "debug", "webhook", "set", url)
    assert result.code == EXIT_OK, result.err
    assert sandbox.webhook == url
    assert "event=webhook_listening" in result.err


def write_destinations(folder: Path, api_url: str) -> Path:
    """Write a feeds.toml with two channels at ``api_url`` and a recording destination."""
    path = folder / "feeds.toml"
    section = '[destinations.{}]\nkind = "viber"\napi_url = "{}"\n\n'
    channels = "".join(section.format(name, api_url) for name in ("one", "two"))
    path.write_text(
        f'templates = "{DATA / "templates"}"\n\n{channels}'
        '[destinations.archive]\nkind = "recording"\n\n'
        f'[[feeds]]\nname = "news"\nurl = "{DATA / "news.xml"}"\n',
        encoding="utf-8",
    )
    return path


def test_account_to_opens_only_the_named_channel(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only "one" has a token: naming it must not need the other channel's.
    monkeypatch.setenv("POSTER_ONE_TOKEN", TOKEN)
    config = write_destinations(tmp_path, sandbox.api_url)
    result = run(capsys, "-c", str(config), "account", "--to", "one")
    assert result.code == EXIT_OK, result.err
    assert result.out.splitlines()[:2] == ["one (viber)", "  channel  Sandbox channel"]
    two = run(capsys, "-c", str(config), "account", "--to", "two")
    assert two.code == EXIT_CONFIG
    assert "no token for destination 'two'" in two.err and "POSTER_TWO_TOKEN" in two.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["webhook", "remove"],
            "several destinations have a webhook (one, two); add --to NAME",
            id="several",
        ),
        pytest.param(
            ["account", "--to", "archive"],
            "--to: destination 'archive' (recording) has no account to show; these have: one, two",
            id="no-account",
        ),
        pytest.param(
            ["webhook", "remove", "--to", "on"],
            "--to: no destination named 'on' in",
            id="unknown",
        ),
        pytest.param(
            ["webhook", "set", "https://example.org/hook", "--to", "archive"],
            "--to: destination 'archive' (recording) has no webhook to set; these have: one, two",
            id="no-webhook",
        ),
    ],
)
def test_account_and_webhook_need_a_destination_that_has_them(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("POSTER_ONE_TOKEN", TOKEN)
    monkeypatch.setenv("POSTER_TWO_TOKEN", TOKEN)
    config = write_destinations(tmp_path, sandbox.api_url)
    result = run(capsys, "-c", str(config), *argv)
    assert result.code == EXIT_CONFIG
    assert result.err.startswith(f"poster: {message}")
    assert len(result.err.splitlines()) == 1
    assert result.out == ""
    assert sandbox.webhook is None


def test_webhook_set_to_a_named_channel(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTER_TWO_TOKEN", TOKEN)
    config = write_destinations(tmp_path, sandbox.api_url)
    with WebhookReceiver(TOKEN, port=0) as receiver:
        result = run(capsys, "-c", str(config), "webhook", "set", receiver.url, "--to", "two")
    assert result.code == EXIT_OK, result.err
    assert sandbox.webhook == receiver.url


@pytest.mark.parametrize("command", [["check"], ["status"]])
def test_a_reader_that_went_away_ends_the_command_quietly(
    tmp_path: Path, command: list[str]
) -> None:
    config = write_config(tmp_path, "https://api.example.org/pa")
    argv = ["-c", str(config), *command]
    if command == ["status"]:
        argv += ["--state-dir", str(tmp_path)]
    read, write = os.pipe()
    os.close(read)  # as `poster status | head -1` once head has its line
    try:
        done = subprocess.run(
            [sys.executable, "-m", "poster", *argv],
            stdout=write, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


def test_a_command_started_without_stdout_still_runs_and_says_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, "https://api.example.org/pa")
    argv = [sys.executable, "-m", "poster", "-c", str(config), "run", "--once", "--sandbox"]
    argv += ["--port", "0"]
    done = subprocess.run(
        ["sh", "-c", '"$@" >&-', "sh", *argv],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "a bug in poster" not in done.stderr


def test_webhook_set_refuses_a_url_that_is_not_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, "https://api.example.org/pa")
    result = run(capsys, "-c", str(config), "webhook", "set", "https://\udcff.example.org/x")
    assert result.code == EXIT_CONFIG
    assert "not UTF-8 text" in result.err


def test_webhook_set_names_another_program_on_the_listen_port(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox: Sandbox
) -> None:
    import http.server
    import threading

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        """Another program's server, which knows nothing of Viber."""

        def do_POST(self) -> None:
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            """Say nothing."""

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere) as other:
        threading.Thread(target=other.serve_forever, daemon=True).start()
        port = other.server_address[1]
        listen = f'[webhook]\nlisten = "127.0.0.1:{port}"\n'
        config = write_config(tmp_path, sandbox.api_url, listen)
        url = f"http://127.0.0.1:{port}/viber/webhook"
        result = run(capsys, "-c", str(config), "webhook", "set", url)
        other.shutdown()
    assert result.code == EXIT_FAILED
    assert f"listen 127.0.0.1:{port} is taken by another program, not poster's daemon" in result.err
    assert sandbox.webhook is None


def test_webhook_set_names_a_listen_address_poster_cannot_bind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox: Sandbox
) -> None:
    listen = '[webhook]\nlisten = "192.0.2.1:8080"\n'  # TEST-NET-1: no address of this machine
    config = write_config(tmp_path, sandbox.api_url, listen)
    url = f"http://127.0.0.1:{free_port()}/viber/webhook"
    result = run(capsys, "-c", str(config), "webhook", "set", url)
    assert result.code == EXIT_FAILED
    assert "poster cannot listen on 192.0.2.1:8080" in result.err
    assert "taken by another program" not in result.err
