"""Check that the sandbox serves the sample feeds' pictures, and that the page shows them."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.page import CHROMIUM_FLAGS, Node, chromium, parse_page

from poster.config import load_config
from poster.fetch import make_client
from poster.sandbox import Sandbox
from poster.sandbox.server import DEFAULT_CLI_PORT
from poster.sandbox.session import sandbox_session
from poster.sandbox.studio import Studio

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SAMPLE_FEEDS = [p for p in sorted(SAMPLES.iterdir()) if p.suffix in (".xml", ".atom", ".json")]
PICTURE_URL = re.compile(rb"http://127\.0\.0\.1:(\d+)/samples/([\w.-]+)")


def picture_urls() -> list[tuple[str, int, str]]:
    """Return (feed file, port, picture name) for every picture URL in the sample feeds."""
    return [
        (feed.name, int(port), name.decode())
        for feed in SAMPLE_FEEDS
        for port, name in PICTURE_URL.findall(feed.read_bytes())
    ]


def test_the_sample_feeds_name_their_pictures_on_the_sandbox_port() -> None:
    found = picture_urls()
    assert {feed for feed, _, _ in found} == {
        "city-news.xml",
        "club-blog.atom",
        "events-api.json",
        "riverton-tv.xml",
        "shop.json",
        "zarechye-1251.xml",
    }
    for feed, port, name in found:
        assert port == DEFAULT_CLI_PORT, feed
        picture = SAMPLES / name
        data = picture.read_bytes()
        assert name.endswith((".jpg", ".jpeg")) and data[:3] == b"\xff\xd8\xff", f"{name} is a JPEG"
        assert len(data) < 16 * 1024, f"{name} stays small"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("samples/teapot.jpg", 200),
        ("samples/TEAPOT.JPG", 404),
        ("samples/city-news.xml", 404),
        ("samples/../feeds.toml", 404),
        ("samples/%2e%2e/feeds.toml", 404),
        ("samples/.hidden.jpg", 404),
        ("samples/nothing.jpg", 404),
    ],
    ids=["picture", "other-case", "not-a-picture", "parent", "encoded-parent", "dot", "missing"],
)
def test_the_sandbox_serves_only_pictures_of_its_samples_folder(path: str, status: int) -> None:
    with Sandbox(samples=SAMPLES) as sandbox, httpx.Client() as client:
        answer = client.get(sandbox.url + path)
    assert answer.status_code == status
    if status == 200:
        assert answer.headers["content-type"] == "image/jpeg"
        assert answer.content == (SAMPLES / "teapot.jpg").read_bytes()


def test_a_sandbox_without_a_samples_folder_serves_no_pictures() -> None:
    with Sandbox() as sandbox, httpx.Client() as client:
        assert client.get(sandbox.url + "samples/teapot.jpg").status_code == 404


def free_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, str]]:
    """Render the shipped feeds onto a sandbox with their samples; return the page's final DOM.

    The copy's feeds name the test's own port instead of 8765, which may be in use on this
    machine; everything else is the shipped configuration.
    """
    browser = chromium()
    folder = tmp_path_factory.mktemp("demo")
    shutil.copytree(ROOT / "templates", folder / "templates")
    shutil.copytree(SAMPLES, folder / "samples")
    shutil.copy(ROOT / "feeds.toml", folder / "feeds.toml")
    port = free_port()
    for feed in SAMPLE_FEEDS:
        copy = folder / "samples" / feed.name
        copy.write_bytes(copy.read_bytes().replace(b":8765/", f":{port}/".encode()))
    config = load_config(folder / "feeds.toml")
    with (
        sandbox_session(config, port=port) as session,
        make_client() as client,
        httpx.Client() as api,
    ):
        assert session.sandbox.url == f"http://127.0.0.1:{port}/"
        render = Studio(config.path, session, client, api).render()
        assert render.problems == () and render.posts > 0
        profile = f"--user-data-dir={folder / 'profile'}"
        done = subprocess.run(
            [browser, *CHROMIUM_FLAGS, profile, "--dump-dom", session.sandbox.url],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        yield parse_page(done.stdout), render.summary


def test_the_page_shows_the_sample_pictures(demo_page: tuple[Node, str]) -> None:
    page, _ = demo_page
    frames = page.find_all(lambda n: "media-frame" in n.classes)
    pictures = [f for f in frames if "picture-frame" in f.classes]
    assert len(pictures) >= 4 and any("video-frame" in f.classes for f in frames)
    for frame in frames:
        [image] = frame.by_tag("img")
        assert "/samples/" in image.attrs["src"]
        assert "loaded" in frame.classes and "failed" not in frame.classes, image.attrs["src"]


def test_the_page_shows_what_the_studio_says(demo_page: tuple[Node, str]) -> None:
    page, summary = demo_page
    [notice] = page.find_all(lambda n: n.attrs.get("id") == "notice")
    assert "hidden" not in notice.attrs
    assert notice.by_class("notice-summary").text() == summary
    assert "has-problems" not in notice.classes
