"""Drive the template loop: a studio re-renders onto a real sandbox when its files change.

Ticks are called by the tests instead of waiting for the poll interval, and every file change
moves the modification time on explicitly, so no test waits for the clock.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from poster.config import load_config
from poster.destinations.viber.sandbox.rerender import POLL_SECONDS, Render, Studio
from poster.destinations.viber.sandbox.session import sandbox_session
from poster.fetch.feed import make_client

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "tests" / "data" / "run"
CONFIG = """\
templates = "templates"

[viber]
min_gap = "10s"

[[feeds]]
name = "news"
url = "news.xml"
type = "text"
"""


def save(path: Path, text: str) -> None:
    """Write ``text`` and move the file's modification time on, as a later save would."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    later = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(later, later))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Return a folder with feeds.toml, a template and a local feed of three items."""
    (tmp_path / "templates").mkdir()
    save(tmp_path / "templates" / "text.j2", "News: {{ item.title }}")
    shutil.copy(RUN / "news.xml", tmp_path / "news.xml")
    save(tmp_path / "feeds.toml", CONFIG)
    return tmp_path


@pytest.fixture
def studio(folder: Path) -> Iterator[Studio]:
    """Run a studio on the folder's configuration against a fresh sandbox."""
    config = load_config(folder / "feeds.toml")
    with (
        sandbox_session(config, port=0) as session,
        make_client() as client,
        httpx.Client() as api,
    ):
        yield Studio(config.path, session, client, api, clock=lambda: 0.0)


def texts(studio: Studio) -> list[str]:
    """Return the text of every post the sandbox channel holds, oldest first."""
    return [post["text"] for post in studio.session.sandbox.posts]


def notice(studio: Studio) -> dict[str, object]:
    """Return what the sandbox page shows above the posts, read over HTTP as the page does."""
    with httpx.Client() as client:
        answer: dict[str, object] = client.get(studio.session.sandbox.url + "sandbox/notice").json()
    return answer


def test_the_first_tick_posts_the_newest_items_unpaced(studio: Studio) -> None:
    started = time.monotonic()
    render = studio.tick()
    # min_gap = "10s" would make three posts take 20 s; the sandbox is not paced.
    assert time.monotonic() - started < 5
    assert render is not None and render.problems == ()
    assert texts(studio) == ["News: Bridge reopens", "News: Council meets", "News: Market opens"]
    assert render.posts == 3
    assert studio.session.sandbox.webhook is not None
    assert notice(studio) == {"summary": render.summary, "problems": []}
    assert studio.tick() is None, "nothing changed, nothing is rendered"


def test_saving_a_template_shows_the_new_text(studio: Studio, folder: Path) -> None:
    studio.tick()
    first = [post["message_token"] for post in studio.session.sandbox.posts]
    save(folder / "templates" / "text.j2", "*{{ item.title | upper }}*")
    assert studio.tick() is not None
    assert texts(studio) == ["*BRIDGE REOPENS*", "*COUNCIL MEETS*", "*MARKET OPENS*"]
    assert not set(first) & {p["message_token"] for p in studio.session.sandbox.posts}


def test_saving_a_local_feed_shows_its_new_items(studio: Studio, folder: Path) -> None:
    studio.tick()
    save(folder / "news.xml", (RUN / "news-updated.xml").read_text(encoding="utf-8"))
    assert studio.tick() is not None
    assert texts(studio)[-1] == "News: Tram depot opens"


def test_the_limit_keeps_each_feeds_newest_items(studio: Studio, folder: Path) -> None:
    config = load_config(folder / "feeds.toml")
    with make_client() as client, httpx.Client() as api:
        one = Studio(config.path, studio.session, client, api, limit=1)
        assert one.tick() is not None
    assert texts(studio) == ["News: Market opens"]


def test_a_broken_template_is_shown_and_the_loop_goes_on(studio: Studio, folder: Path) -> None:
    studio.tick()
    save(folder / "templates" / "text.j2", "{{ item.title | nosuchfilter }}")
    broken = studio.tick()
    assert broken is not None and broken.posts == 0
    [problem] = broken.problems
    assert "text.j2" in problem and "nosuchfilter" in problem
    assert "news: Bridge reopens and 2 more" in problem
    assert notice(studio)["problems"] == [problem]
    assert "Traceback" not in "\n".join(broken.lines())
    save(folder / "templates" / "text.j2", "Fixed: {{ item.title }}")
    fixed = studio.tick()
    assert fixed is not None and fixed.problems == ()
    assert texts(studio)[0] == "Fixed: Bridge reopens"
    assert notice(studio)["problems"] == []


def test_a_broken_config_keeps_the_last_posts_and_says_why(studio: Studio, folder: Path) -> None:
    studio.tick()
    save(folder / "feeds.toml", CONFIG.replace('min_gap = "10s"', 'min_gap = "soon"'))
    render = studio.tick()
    assert render is not None and render.summary.endswith("not rendered: fix the problem below")
    assert any("min_gap" in line for line in render.problems)
    assert len(texts(studio)) == 3, "the last good render stays on the page"
    assert notice(studio)["summary"] == render.summary
    save(folder / "feeds.toml", CONFIG)
    again = studio.tick()
    assert again is not None and again.problems == ()


def test_a_refused_post_is_a_problem(studio: Studio) -> None:
    studio.session.sandbox.inject("http500")
    render = studio.tick()
    assert render is not None and render.posts == 0
    assert any("HTTP 500" in problem for problem in render.problems)


def test_run_ticks_between_waits_until_told_to_stop(studio: Studio, folder: Path) -> None:
    shown: list[Render] = []
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        if len(waits) == 2:
            save(folder / "templates" / "text.j2", "Second: {{ item.title }}")
        return len(waits) == 4

    studio.run(threading.Event(), shown.append, wait)
    assert waits == [POLL_SECONDS] * 4
    assert len(shown) == 2
    assert texts(studio)[0] == "Second: Bridge reopens"


def read_line(process: subprocess.Popen[str], deadline: float) -> str:
    """Return the next line the process prints, failing the test when it takes too long."""
    assert process.stdout is not None
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(max(0.0, deadline - time.monotonic()))
    assert found, "the studio printed nothing in time"
    return found[0]


def lines_until(process: subprocess.Popen[str], marker: str, deadline: float) -> list[str]:
    """Return the printed lines up to the first one containing ``marker``."""
    lines = [read_line(process, deadline)]
    while marker not in lines[-1]:
        lines.append(read_line(process, deadline))
    return lines


def test_the_studio_command_rerenders_on_save_and_stops_on_ctrl_c(folder: Path) -> None:
    command = [sys.executable, "-m", "poster", "-c", str(folder / "feeds.toml"), "studio"]
    process = subprocess.Popen(
        [*command, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        head = lines_until(process, "rendered 3 posts", deadline)
        url = head[0].split("open ", 1)[1].split(" ", 1)[0]
        with httpx.Client() as client:
            assert client.get(url + "sandbox/posts").json()[0]["text"] == "News: Bridge reopens"
            save(folder / "templates" / "text.j2", "Saved: {{ item.title }}")
            lines_until(process, "rendered 3 posts", time.monotonic() + 10)
            assert client.get(url + "sandbox/posts").json()[0]["text"] == "Saved: Bridge reopens"
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in err
