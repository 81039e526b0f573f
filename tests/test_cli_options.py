"""Test the command line itself: where options go, names and help, usage and environment errors."""

from __future__ import annotations

import argparse
import errno
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from poster.cli import (
    EXIT_BUG,
    EXIT_CONFIG,
    EXIT_ENVIRONMENT,
    EXIT_OK,
    build_parser,
    feeds,
    main,
)
from poster.errors import HostError, StateError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "run"

COMMANDS = {
    "check": ["check"],
    "preview": ["preview"],
    "run": ["run", "--once"],
    "account": ["account"],
    "webhook-set": ["webhook", "set", "https://example.org/hook"],
    "webhook-remove": ["webhook", "remove"],
    "sandbox": ["sandbox"],
    "status": ["status"],
    "retry": ["retry", "--failed"],
    "feed-enable": ["feed", "enable", "news"],
    "feed-disable": ["feed", "disable", "news"],
}
STATEFUL = {"preview", "run", "status", "retry", "feed-enable", "feed-disable"}
OPTIONS = {
    "config": (["-c", "a.toml"], ["--config", "b.toml"], Path("a.toml"), Path("b.toml")),
    "log_level": (["--log-level", "debug"], ["--log-level", "error"], "debug", "error"),
    "state_dir": (["--state-dir", "s1"], ["--state-dir", "s2"], Path("s1"), Path("s2")),
}
CASES = [
    pytest.param(name, dest, id=f"{name}-{dest}")
    for name in COMMANDS
    for dest in OPTIONS
    if dest != "state_dir" or name in STATEFUL
]


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty folder with no configuration or state chosen by the environment."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    for name in ("POSTER_CONFIG", "CONFIGURATION_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)


def parse(*argv: str) -> argparse.Namespace:
    """Parse ``argv`` with the real parser."""
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize(("name", "dest"), CASES)
def test_options_go_before_or_after_the_command(name: str, dest: str) -> None:
    command = COMMANDS[name]
    first, second, first_value, second_value = OPTIONS[dest]
    assert getattr(parse(*first, *command), dest) == first_value
    assert getattr(parse(*command, *first), dest) == first_value
    assert getattr(parse(*first, *command, *second), dest) == second_value
    assert getattr(parse(*command), dest) is None


def walk(parser: argparse.ArgumentParser, path: str = "poster") -> Iterator[tuple[str, Any]]:
    """Yield every action of ``parser`` and of its commands, with the command it belongs to."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield f"{path} {choice.dest}", choice
            for name, sub in action.choices.items():
                yield from walk(sub, f"{path} {name}")
        else:
            yield path, action


def test_every_command_and_option_has_help_and_one_metavar() -> None:
    metavars: dict[str, set[str | None]] = {}
    for where, action in walk(build_parser()):
        assert getattr(action, "help", None), f"{where}: {action} has no help"
        for option in getattr(action, "option_strings", []):
            if getattr(action, "nargs", None) != 0:
                metavars.setdefault(option, set()).add(action.metavar)
    for option, seen in metavars.items():
        assert len(seen) == 1 and None not in seen, f"{option} has metavars {seen}"
    assert metavars["--state-dir"] == {"DIR"} and metavars["--feed"] == {"NAME"}


def test_help_lists_every_command_with_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("check", "preview", "run", "account", "webhook", "sandbox", "status", "retry"):
        assert f"    {name} " in out
    assert "$POSTER_CONFIG" in out and "$STATE_DIRECTORY" in out


def write_config(folder: Path, more: str = "") -> Path:
    """Write a feeds.toml with three local feeds and return its path."""
    path = folder / "feeds.toml"
    body = f'templates = "{DATA / "templates"}"\n{more}\n'
    for name in ("news", "blog", "city-news"):
        body += f'\n[[feeds]]\nname = "{name}"\nurl = "{DATA / "news.xml"}"\n'
    path.write_text(body, encoding="utf-8")
    return path


def test_check_takes_the_config_after_the_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    assert main(["check", "-c", str(config), "--log-level", "error"]) == EXIT_OK
    assert f"{config}: OK" in capsys.readouterr().out


def test_status_takes_the_state_dir_before_the_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    state = tmp_path / "state"
    assert main(["-c", str(config), "--state-dir", str(state), "feed", "disable", "news"]) == 1
    assert f"no poster state in {state}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["feed", "disable", "nosuch"],
        ["preview", "--feed", "nosuch"],
        ["retry", "nosuch", "KEY"],
        ["retry", "--failed", "--feed", "nosuch"],
        ["run", "--once", "--feed", "nosuch"],
    ],
    ids=["feed-disable", "preview", "retry-item", "retry-feed", "run"],
)
def test_an_unknown_feed_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    config = write_config(tmp_path)
    assert main(["-c", str(config), *command]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err == f"poster: no feed named 'nosuch' in {config}; feeds: news, blog, city-news\n"


def test_an_unknown_feed_close_to_one_is_suggested(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    assert main(["-c", str(config), "preview", "--feed", "city-new"]) == EXIT_CONFIG
    assert '(did you mean "city-news"?)' in capsys.readouterr().err


def test_a_missing_default_config_names_its_path_and_the_ways_to_choose(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["check"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert str(tmp_path / "cwd" / "feeds.toml") in err
    assert "-c PATH" in err and "$POSTER_CONFIG" in err
    assert len(err.splitlines()) == 1


def test_a_missing_given_config_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("POSTER_CONFIG", "elsewhere.toml")
    assert main(["status"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert str(tmp_path / "cwd" / "elsewhere.toml") in err and "$POSTER_CONFIG" in err


def test_a_config_that_is_a_folder_is_one_clear_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["-c", str(tmp_path), "check"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"{tmp_path}: cannot read the file: Is a directory" in err
    assert "Traceback" not in err


def test_an_unexpected_error_is_one_line_with_the_details_in_a_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)

    def broken(*_args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(feeds, "cmd_check", broken)
    assert main(["-c", str(write_config(tmp_path)), "check"]) == EXIT_BUG
    [line] = capsys.readouterr().err.splitlines()
    assert "a bug in poster: RuntimeError: boom" in line
    [details] = tmp_path.glob("poster-bug-*.txt")
    assert str(details) in line
    assert (
        "Traceback" in details.read_text() and 'raise RuntimeError("boom")' in details.read_text()
    )


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (KeyboardInterrupt(), 130, ""),
        (StateError(Path("/s/poster.json"), "cannot write: No space left on device"), 3, "space"),
        (PermissionError(13, "Permission denied", "/s/x"), 3, "/s/x: Permission denied"),
    ],
    ids=["interrupted", "state", "os-error"],
)
def test_interruptions_and_environment_errors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    error: BaseException,
    code: int,
    text: str,
) -> None:
    def broken(*_args: object) -> int:
        raise error

    monkeypatch.setattr(feeds, "cmd_check", broken)
    assert main(["-c", str(write_config(tmp_path)), "check"]) == code
    err = capsys.readouterr().err
    assert (text in err) if text else err == ""
    assert "Traceback" not in err


@pytest.fixture
def taken_port() -> Iterator[int]:
    """Hold a listening socket on 127.0.0.1 and yield its port."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


@pytest.mark.parametrize(
    "command",
    [["sandbox", "--port"], ["run", "--once", "--sandbox", "--port"], ["studio", "--port"]],
    ids=str,
)
def test_a_taken_sandbox_port_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, taken_port: int, command: list[str]
) -> None:
    config = write_config(tmp_path)
    assert main(["-c", str(config), *command, str(taken_port)]) == EXIT_ENVIRONMENT
    [line] = capsys.readouterr().err.splitlines()
    assert f"the sandbox cannot listen on 127.0.0.1:{taken_port}: Address already in use" in line
    assert "--port" in line


def test_a_taken_webhook_address_stops_the_daemon_clearly(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    taken_port: int,
) -> None:
    monkeypatch.setenv("POSTER_VIBER_TOKEN", "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9")
    config = write_config(tmp_path, f'[webhook]\nlisten = "127.0.0.1:{taken_port}"\n')
    state = tmp_path / "state"
    assert main(["-c", str(config), "run", "--state-dir", str(state)]) == EXIT_ENVIRONMENT
    err = capsys.readouterr().err
    line = err.splitlines()[-1]
    assert line.startswith("poster: ") and "Traceback" not in err
    assert f"listener cannot listen on 127.0.0.1:{taken_port}" in line
    assert "[webhook] listen" in line


def test_the_sandbox_pass_keeps_its_state_in_the_dir_given(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, '[defaults]\nbacklog = "all"\n')
    state = tmp_path / "sandbox-state"
    argv = ["-c", str(config), "--state-dir", str(state), "run", "--once", "--sandbox"]
    assert main([*argv, "--feed", "news", "--port", "0"]) == EXIT_OK
    assert "posts: 3 sent" in capsys.readouterr().out
    assert main([*argv, "--feed", "news", "--port", "0"]) == EXIT_OK
    assert "posts: 0 sent" in capsys.readouterr().out


def test_the_sandbox_pass_without_a_state_dir_creates_none(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    assert main(["-c", str(config), "run", "--once", "--sandbox", "--port", "0"]) == EXIT_OK
    assert list((tmp_path / "cwd").iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [
        ["sandbox", "--port", "99999"],
        ["sandbox", "--port", "-1"],
        ["sandbox", "--port", "²"],
        ["studio", "--port", "70000"],
        ["run", "--once", "--sandbox", "--port", "70000"],
    ],
    ids=str,
)
def test_a_port_out_of_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    config = write_config(tmp_path)
    with pytest.raises(SystemExit) as caught:
        main(["-c", str(config), *command])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --port:" in err and "is not a port (0 to 65535" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [["status", "--state-dir", ""], ["--state-dir", "", "status"], ["-c", "", "check"]],
    ids=["state-dir-after", "state-dir-before", "config"],
)
def test_an_empty_path_is_a_usage_error_not_the_current_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "is empty; name the path, or leave the option out" in capsys.readouterr().err
    assert not (tmp_path / "cwd" / "poster.json").exists()


@pytest.mark.parametrize("command", ["preview", "studio"])
@pytest.mark.parametrize("limit", ["-1", "two", "1.5"])
def test_a_limit_that_is_not_a_number_of_items_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], command: str, limit: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([command, "--limit", limit])
    assert stopped.value.code == EXIT_CONFIG
    assert f"{limit!r} is not a number of items (0 or more)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("error", "port", "fix"),
    [
        (OSError(errno.EADDRINUSE, "Address already in use"), 8080, "stop what uses it"),
        (OSError(errno.EACCES, "Permission denied"), 80, "a port below 1024 needs privileges"),
        (
            OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"),
            8080,
            "10.99.99.99 is no address of this machine",
        ),
        (socket.gaierror(-2, "Name or service not known"), 8080, "no host name this machine"),
    ],
    ids=["in-use", "privileged-port", "not-this-machine", "unknown-name"],
)
def test_each_reason_a_listener_cannot_bind_gets_its_own_fix(
    error: OSError, port: int, fix: str
) -> None:
    text = str(
        HostError.listening(
            error, "the webhook listener", ("10.99.99.99", port), "change [webhook] listen"
        )
    )
    assert text.startswith(f"the webhook listener cannot listen on 10.99.99.99:{port}: ")
    assert fix in text and "change [webhook] listen" in text
    if fix != "stop what uses it":
        assert "stop what uses it" not in text
