"""Check that a feed repaired while it was read says so in the run's log and in `poster status`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from poster.cli import EXIT_OK, main
from poster.destinations.viber.sandbox import Sandbox

TEMPLATES = Path(__file__).parent / "data" / "run" / "templates"
WARNING = "1 invalid byte in UTF-8 replaced"


def rss(title: bytes) -> bytes:
    """Return an RSS document with one item titled with the raw bytes ``title``."""
    return (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Town</title>'
        b"<item><guid>town-1</guid><title>" + title + b"</title></item></channel></rss>"
    )


@pytest.fixture
def project(
    tmp_path: Path,
    sandbox: Sandbox,
    set_webhook: Callable[[], None],
    channel_token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """Return a feeds.toml reading feeds/town.xml, posting to a sandbox channel."""
    monkeypatch.setenv("POSTER_VIBER_TOKEN", channel_token)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    set_webhook()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_bytes((TEMPLATES / "default.j2").read_bytes())
    (tmp_path / "feeds").mkdir()
    config = tmp_path / "feeds.toml"
    config.write_text(
        f'templates = "templates"\n\n[viber]\napi_url = "{sandbox.api_url}"\nmin_gap = "0s"\n\n'
        '[[feeds]]\nname = "town"\nurl = "feeds/town.xml"\nbacklog = "all"\n',
        encoding="utf-8",
    )
    return config


def command(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    """Run one poster command in this process; return its exit code and output."""
    code = main(["-c", str(config), *args, "--state-dir", str(config.parent / "state")])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_repaired_feed_is_posted_intact_and_noted_until_it_is_sound(
    capsys: pytest.CaptureFixture[str], project: Path, sandbox: Sandbox
) -> None:
    feed = project.parent / "feeds" / "town.xml"
    feed.write_bytes(rss("Привет".encode() + b"\xff" + " мир".encode()))
    code, _, err = command(capsys, project, "run", "--once")
    assert code == EXIT_OK, err
    assert [post["text"] for post in sandbox.posts] == ["Привет\ufffd мир"]
    assert f"feed=town status=warned warning='{WARNING}'" in err
    _, out, _ = command(capsys, project, "status")
    assert f"the last read warned: {WARNING}" in out

    feed.write_bytes(rss("Привет мир".encode()))
    command(capsys, project, "run", "--once")
    _, out, _ = command(capsys, project, "status")
    assert "the last read warned" not in out
