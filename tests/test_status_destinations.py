"""Show every destination in ``poster status``: kind, sender, refusal, last post, waiting items."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support.operate import START, Clock

from poster.cli import EXIT_FAILED, main
from poster.config import Config, load_config
from poster.destinations import Receipt
from poster.ledger import fatal_key, sender_key
from poster.operate import format_status, status_view
from poster.store import Store

DATA = Path(__file__).parent / "data" / "operate"
NOW = START + timedelta(hours=1)
REVOKED = "sports: the token was revoked (status 2)"


@pytest.fixture
def config() -> Config:
    return load_config(DATA / "destinations.toml")


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """Post city's c-1 to news and the archive; refuse match's m-1 at sports, then release it."""
    with Store(tmp_path, clock=Clock()) as store:
        store.record_sent("city", "c-1", Receipt("news", "token-1", START))
        store.record_sent("city", "c-1", Receipt("archive", None, START))
        store.record_sent("match", "m-0", Receipt("archive", None, START))
        store.record_failed("match", "m-1", "sports", REVOKED)
        store.retry("match", "m-1")
        store.set_meta(sender_key("sports"), "sports-admin=")
        store.set_meta(fatal_key("sports"), REVOKED)
    yield tmp_path


def _last_sent(state: Path, destination: str) -> datetime:
    """Return when the newest post to ``destination`` was recorded."""
    with Store(state, read_only=True) as store:
        return max(r.updated for r in store.deliveries() if r.destination == destination)


def test_status_shows_each_destination(config: Config, state: Path) -> None:
    with Store(state, read_only=True) as store:
        view = status_view(config, store, NOW)
    assert [
        (d.name, d.kind, d.sender, d.sender_from, d.fatal, d.waiting) for d in view.destinations
    ] == [
        ("news", "viber", "news-admin=", "feeds.toml", None, 0),
        ("sports", "viber", "sports-admin=", "remembered", REVOKED, 1),
        ("archive", "recording", None, None, None, 0),
    ]
    news, sports, archive = view.destinations
    assert news.last_post == _last_sent(state, "news")
    assert archive.last_post == _last_sent(state, "archive") > news.last_post
    assert sports.last_post is None
    assert view.attention == ("destination 'sports' refuses posts",)


def test_format_status_has_a_row_per_destination(config: Config, state: Path) -> None:
    with Store(state, read_only=True) as store:
        lines = format_status(status_view(config, store, NOW)).splitlines()
    start = lines.index("Destinations")
    end = lines.index("Feeds")
    table = lines[start + 1 : end - 1]
    assert table[0].split() == ["DESTINATION", "KIND", "POSTING", "LAST", "POST", "WAITING"]
    assert table[1].split()[:3] == ["news", "viber", "ok"]
    assert table[2] == "      sender news-admin= (from feeds.toml)"
    assert table[3].split()[:3] == ["sports", "viber", "REFUSED"]
    assert table[3].split()[-1] == "1"
    assert table[3].split()[3] == "-"
    assert table[4:6] == [
        "      sender sports-admin= (looked up on the first post and remembered)",
        f"      refuses posts: {REVOKED}",
    ]
    assert table[6].split()[:3] == ["archive", "recording", "ok"]
    assert len(table) == 7, "a recording destination has no sender to show"


def test_status_json_lists_the_destinations(
    config: Config, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["-c", str(config.path), "--state-dir", str(state), "status", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == EXIT_FAILED
    assert "channel" not in data
    assert [d["name"] for d in data["destinations"]] == ["news", "sports", "archive"]
    assert data["destinations"][1] == {
        "name": "sports",
        "kind": "viber",
        "sender": "sports-admin=",
        "sender_from": "remembered",
        "fatal": REVOKED,
        "last_post": None,
        "waiting": 1,
    }
    assert data["destinations"][2]["last_post"] == _last_sent(state, "archive").isoformat()
    assert data["attention"] == ["destination 'sports' refuses posts"]
