"""Preview each destination a feed routes to with the body its kind would get, sending nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from poster.cli import EXIT_OK, main
from poster.store import Store
from poster.store.ledger import sender_key

DATA = Path(__file__).parent / "data" / "run"


def write_config(folder: Path) -> Path:
    """Write a feeds.toml routing news to a channel and a recording, and blog to another channel."""
    path = folder / "feeds.toml"
    path.write_text(
        f'templates = "{DATA / "templates"}"\n\n'
        '[destinations.news]\nkind = "viber"\napi_url = "https://news.example.org/pa"\n'
        'from = "news-admin="\n\n'
        '[destinations.sports]\nkind = "viber"\napi_url = "https://sports.example.org/pa"\n\n'
        '[destinations.archive]\nkind = "recording"\n\n'
        f'[[feeds]]\nname = "news"\nurl = "{DATA / "news.xml"}"\nbacklog = "all"\n'
        'to = ["news", "archive"]\n\n'
        f'[[feeds]]\nname = "blog"\nurl = "{DATA / "blog.atom"}"\nbacklog = "all"\n'
        'to = ["sports"]\n',
        encoding="utf-8",
    )
    return path


def preview(capsys: pytest.CaptureFixture[str], config: Path, state: Path, *more: str) -> str:
    """Run ``poster preview`` and return what it printed."""
    code = main(["-c", str(config), "preview", "--state-dir", str(state), "--limit", "1", *more])
    assert code == EXIT_OK
    return capsys.readouterr().out


def test_preview_shows_each_routed_destination_with_its_kinds_body(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NEWS", "SPORTS", "VIBER"):
        monkeypatch.delenv(f"POSTER_{name}_TOKEN", raising=False)
    config = write_config(tmp_path)
    state = tmp_path / "state"
    with Store(state) as store:
        store.set_meta(sender_key("sports"), "sports-admin=")
    before = sorted(p.name for p in state.iterdir())
    data = json.loads(preview(capsys, config, state, "--json"))
    news, blog = data["feeds"]
    assert [item["destination"] for item in news["items"]] == ["news", "archive"]
    channel, recorded = (item["body"] for item in news["items"])
    assert (channel["from"], channel["auth_token"]) == ("news-admin=", "***")
    assert set(recorded) == {"type", "text", "link"}
    assert recorded["text"] == channel["text"]
    [sports] = blog["items"]
    assert (sports["destination"], sports["body"]["from"]) == ("sports", "sports-admin=")
    assert sorted(p.name for p in state.iterdir()) == before, "the preview writes nothing"
    text = preview(capsys, config, state)
    item = text.split("\n\n")[1]
    assert item.count("[would post]") == 1, "an item is shown once, with a body per destination"
    assert [line for line in item.splitlines() if line.startswith("    to: ")] == [
        "    to: news",
        "    to: archive",
    ]


def test_what_a_feed_hides_for_the_terminal_is_shown_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "feed\u001b]0;PWNED\u0007",
        "items": [{"id": "a\u001b[2Jid", "title": "\u001b[1;31mRED\u009b", "content_text": "x"}],
    }
    (tmp_path / "feed.json").write_text(json.dumps(feed), encoding="utf-8")
    config = tmp_path / "feeds.toml"
    config.write_text(
        f'templates = "{DATA / "templates"}"\n[destinations.archive]\nkind = "recording"\n'
        f'[[feeds]]\nname = "odd"\nurl = "{tmp_path / "feed.json"}"\nbacklog = "all"\n',
        encoding="utf-8",
    )
    state = tmp_path / "state"
    shown = preview(capsys, config, state)
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert "feed\\x1b]0;PWNED\\x07" in shown and "key: a\\x1b[2Jid" in shown
    assert main(["-c", str(config), "run", "--once", "--state-dir", str(state)]) == EXIT_OK
    capsys.readouterr()
    main(["-c", str(config), "status", "--state-dir", str(state)])
    status = capsys.readouterr().out
    assert "a\\x1b[2Jid" in status and "\x1b" not in status


def test_the_preview_header_counts_items_not_their_posts_to_each_destination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NEWS", "SPORTS", "VIBER"):
        monkeypatch.delenv(f"POSTER_{name}_TOKEN", raising=False)
    shown = preview(capsys, write_config(tmp_path), tmp_path / "state")
    [news] = [line for line in shown.splitlines() if line.startswith("== news")]
    assert news.endswith(": 1 would post")  # one item, to the channel and the recording
    assert shown.count("[would post]") == 2 and shown.count("    to: ") == 3


def test_an_error_line_shows_what_it_quotes_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    from poster.cli import _fail

    # An API's refusal is quoted as the API wrote it: here with a sequence clearing the screen.
    assert _fail("status 3: \x1b[2Jbad data\x9b", 1) == 1
    err = capsys.readouterr().err
    assert err == "poster: status 3: \\x1b[2Jbad data\\x9b\n"
