from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from poster.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, main

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "feeds.toml"


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty folder, so no ./state of a real run changes what preview says."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Copy the shipped feeds.toml, templates and samples into a scratch folder."""
    shutil.copy(SHIPPED, tmp_path / "feeds.toml")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_accepts_the_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-c", str(SHIPPED), "check")
    assert code == EXIT_OK
    assert "OK, 8 feeds" in out


def test_preview_json_of_the_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-c", str(SHIPPED), "preview", "--json")
    assert code == EXIT_OK
    feeds = {f["feed"]: f for f in json.loads(out)["feeds"]}
    assert set(feeds) == {
        "city-news",
        "zarechye",
        "rowing-club",
        "shop",
        "shop-catalogues",
        "riverton-tv",
        "photo-of-the-week",
        "events",
    }
    city = {i["key"]: i for i in feeds["city-news"]["items"]}
    assert city["riverton-news-1044"]["decision"] == "filtered out"
    assert "sponsored" in city["riverton-news-1044"]["reason"]
    roads = city["riverton-news-1042"]
    assert roads["decision"] == "would post" and roads["type"] == "picture"
    assert roads["body"]["media"] == "http://127.0.0.1:8765/samples/bridge-street.jpg"
    assert roads["body"]["auth_token"] == "***"
    tram = city["riverton-news-1045"]["body"]
    assert (tram["type"], tram["media"]) == (
        "picture",
        "http://127.0.0.1:8765/samples/tram-depot-thumb.jpg",
    )
    cyrillic = [i["title"] for i in feeds["zarechye"]["items"]]
    assert "Открылся новый каток в парке Победы" in cyrillic
    rowing = {i["title"]: i["decision"] for i in feeds["rowing-club"]["items"]}
    assert rowing == {
        "Winter training timetable": "filtered out",
        "Results from the Head of the River race": "would post",
    }
    [catalogue] = [i["body"] for i in feeds["shop-catalogues"]["items"] if i["body"]]
    assert (catalogue["type"], catalogue["file_name"]) == ("file", "Winter catalogue 2026.pdf")
    [clip] = [i["body"] for i in feeds["riverton-tv"]["items"]]
    assert (clip["type"], clip["size"], clip["duration"]) == ("video", 9437184, 64)
    events = {i["key"]: i["type"] for i in feeds["events"]["items"]}
    assert events == {"christmas-market-2026": "picture", "library-late-night": "url"}


def test_preview_text_shows_decisions_and_bodies(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-c", str(SHIPPED), "preview", "--feed", "city-news")
    assert code == EXIT_OK
    assert "== city-news (Riverton City News)" in out
    assert "[filtered out] Sponsored: winter tyres at half price" in out
    assert "why: excluded by 'sponsored' (exclude[0])" in out
    assert '"auth_token": "***"' in out


def test_preview_limit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-c", str(SHIPPED), "preview", "--json", "--limit", "1")
    assert code == EXIT_OK
    assert all(len(feed["items"]) == 1 for feed in json.loads(out)["feeds"])


def test_preview_never_shows_the_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "4b2ef6c9a1d0e3f5-secret-token-value"
    monkeypatch.setenv("POSTER_VIBER_TOKEN", secret)
    code, out, err = run(capsys, "-c", str(SHIPPED), "--log-level", "debug", "preview")
    assert code == EXIT_OK
    assert secret not in out and secret not in err


def test_unknown_feed_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-c", str(SHIPPED), "preview", "--feed", "nope")
    assert code == EXIT_CONFIG
    assert "no feed named 'nope'" in err and "city-news" in err


def test_broken_config_names_file_feed_and_key(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    config = project / "feeds.toml"
    config.write_text(config.read_text().replace('name = "shop"', 'name = "shop"\nintervall = 5'))
    code, _, err = run(capsys, "-c", str(config), "check")
    assert code == EXIT_CONFIG
    assert str(config) in err and "'shop'" in err and "intervall" in err


def test_check_reports_template_errors(capsys: pytest.CaptureFixture[str], project: Path) -> None:
    (project / "templates" / "text.j2").write_text("{{ item.titel }}\n")
    code, _, err = run(capsys, "-c", str(project / "feeds.toml"), "check")
    assert code == EXIT_CONFIG
    assert "text.j2" in err and "titel" in err


def test_preview_of_a_broken_feed_fails_but_shows_the_others(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    (project / "samples" / "shop.json").write_text("{not json")
    code, out, _ = run(capsys, "-c", str(project / "feeds.toml"), "preview")
    assert code == EXIT_FAILED
    assert "== shop: ERROR" in out
    assert "== city-news (Riverton City News)" in out


def test_module_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "poster", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("poster ")


def test_a_template_failing_for_one_item_is_shown_by_preview_without_an_error_line(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    # Items without tags make the template fail; preview shows it, and logs no failed post.
    for name in ("text.j2", "picture.j2"):
        (project / "templates" / name).write_text("{{ item.tags[0].upper() }}\n")
    _, out, err = run(capsys, "-c", str(project / "feeds.toml"), "preview")
    assert "[error]" in out
    assert "status=failed" not in err and "ERROR" not in err
