"""Check that the sandbox serves the sample feeds' pictures, and that the page shows them.

The demo (``run --once --sandbox``) converts the PNG and WebP samples into JPEGs the sandbox
serves at /media/; everything else it posts is what the preview shows.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import Browser
from support.page import Node, parse_page

from poster.app import build
from poster.config import load_config
from poster.destinations.viber.sandbox import Sandbox
from poster.destinations.viber.sandbox.rerender import Studio
from poster.destinations.viber.sandbox.server import DEFAULT_CLI_PORT
from poster.destinations.viber.sandbox.session import sandbox_session, serve_media
from poster.fetch.feed import make_client
from poster.media.setup import media_stage
from poster.ops.preview import outcome_json, preview
from poster.pipeline.runner import run_once

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SAMPLE_FEEDS = [p for p in sorted(SAMPLES.iterdir()) if p.suffix in (".xml", ".atom", ".json")]
PICTURE_URL = re.compile(rb"http://127\.0\.0\.1:(\d+)/samples/([\w.-]+)")
SERVED = re.compile(r"http://127\.0\.0\.1:\d+/media/[0-9a-f]{40}\.jpeg$")
"""Where the demo's sandbox serves the images poster converted."""
MAGIC = {".jpg": b"\xff\xd8\xff", ".jpeg": b"\xff\xd8\xff", ".png": b"\x89PNG\r\n\x1a\n"}
CONVERTED = {"Frost on the Bridge Street railings", "The tram depot at dusk"}
"""The demo's items whose pictures are PNG and WebP: the channel takes them only converted."""


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
        "photo-of-the-week.xml",
        "riverton-tv.xml",
        "shop.json",
        "zarechye-1251.xml",
    }
    for feed, port, name in found:
        assert port == DEFAULT_CLI_PORT, feed
        picture = SAMPLES / name
        data = picture.read_bytes()
        suffix = picture.suffix
        if suffix == ".webp":
            assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", f"{name} is a WebP"
        else:
            assert data.startswith(MAGIC[suffix]), f"{name} is what its name says"
        assert len(data) < 16 * 1024, f"{name} stays small"
    kinds = {Path(name).suffix for _, _, name in found}
    assert {".png", ".webp"} <= kinds, "the demo shows a PNG and a WebP being converted"


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


def copy_demo(folder: Path, port: int) -> Path:
    """Copy the shipped feeds.toml, templates and samples into ``folder``; return its feeds.toml.

    The copy's feeds name ``port`` instead of 8765, which may be in use on this machine;
    everything else is the shipped configuration.
    """
    shutil.copytree(ROOT / "templates", folder / "templates")
    shutil.copytree(SAMPLES, folder / "samples")
    shutil.copy(ROOT / "feeds.toml", folder / "feeds.toml")
    for feed in SAMPLE_FEEDS:
        copy = folder / "samples" / feed.name
        copy.write_bytes(copy.read_bytes().replace(b":8765/", f":{port}/".encode()))
    return folder / "feeds.toml"


@pytest.fixture(scope="module")
def demo_page(
    tmp_path_factory: pytest.TempPathFactory, browser: Browser
) -> Iterator[tuple[Node, str]]:
    """Render the shipped feeds onto a sandbox with their samples; return the page's final DOM."""
    folder = tmp_path_factory.mktemp("demo")
    port = free_port()
    config = load_config(copy_demo(folder, port))
    with (
        sandbox_session(config, port=port) as session,
        make_client() as client,
        httpx.Client() as api,
    ):
        assert session.sandbox.url == f"http://127.0.0.1:{port}/"
        render = Studio(config.path, session, client, api).render()
        assert render.problems == () and render.posts > 0
        yield parse_page(browser.dump(session.sandbox.url)), render.summary


@dataclass(frozen=True)
class Demo:
    """What ``run --once --sandbox`` did with the shipped feeds, and what the preview said."""

    page: Node
    posts: list[dict[str, Any]]
    previewed: list[dict[str, Any]]
    """The preview's items that would be posted, with their bodies."""


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[Demo]:
    """Run one pass over the shipped feeds as ``make demo`` does; preview them beside it."""
    folder = tmp_path_factory.mktemp("run")
    port = free_port()
    config = load_config(copy_demo(folder, port))
    state = folder / "state"
    with sandbox_session(config, port=port) as session, make_client() as client:
        served = serve_media(session, state)
        spec, token = session.destination()
        with build(served, state, specs=(spec,), tokens={spec.name: token}) as app:
            run_once(app, served.feeds)
        stage = media_stage(config, None, client, read_only=True)
        reports = preview(config, config.feeds, client, media=stage)
        previewed = [outcome_json(o) for r in reports for o in r.outcomes]
        bodies = [item for item in previewed if item["body"] is not None]
        page = parse_page(browser.dump(session.sandbox.url))
        yield Demo(page, session.sandbox.posts, bodies)


def test_the_demo_posts_the_png_and_webp_samples_as_converted_pictures(demo_run: Demo) -> None:
    converted = [p for p in demo_run.posts if SERVED.match(str(p.get("media")))]
    assert {p["text"].splitlines()[0].strip("*") for p in converted} == CONVERTED
    for post in converted:
        assert post["type"] == "picture"
        answer = httpx.get(post["media"])
        assert answer.headers["content-type"] == "image/jpeg"
        assert answer.content[:3] == b"\xff\xd8\xff" and len(answer.content) <= 1_000_000
    pictures = demo_run.page.find_all(lambda n: "picture-frame" in n.classes)
    shown = [f for f in pictures if SERVED.match(f.by_tag("img")[0].attrs["src"])]
    assert len(shown) == len(CONVERTED)
    assert all("loaded" in f.classes and "failed" not in f.classes for f in shown)


def test_the_demo_posts_what_the_preview_shows_but_for_the_conversions(demo_run: Demo) -> None:
    assert len(demo_run.posts) == len(demo_run.previewed)
    for post, item in zip(demo_run.posts, sorted(demo_run.previewed, key=when), strict=True):
        body = {k: v for k, v in item["body"].items() if k not in ("auth_token", "from")}
        sent = {k: v for k, v in post.items() if k in body or k == "media"}
        if item["title"] in CONVERTED:
            # Without [media] public_url the preview cannot convert, and says what would happen.
            assert (body["type"], sent["type"]) == ("text", "picture")
            assert "posted as text" in item["reason"]
            assert sent["text"] == body["text"]
        else:
            assert sent == body, item["title"]


def when(item: dict[str, Any]) -> str:
    """Return the date a run posts an item by: oldest first."""
    return str(item["date"])


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
