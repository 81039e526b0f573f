"""Post feeds whose media a channel would refuse to a sandbox channel, end to end."""

from __future__ import annotations

import io
import os
from pathlib import Path

import httpx
from feedserver import FeedServer
from PIL import Image

from poster.app import build
from poster.config import load_config
from poster.destinations.viber.sandbox.session import sandbox_session, serve_media
from poster.runner import run_once

ITEM = """<item><title>{n}</title><guid>{n}</guid><link>https://news.test/{n}</link>
<pubDate>Mon, 0{n} Mar 2026 10:00:00 GMT</pubDate>{media}</item>"""


def encoded(fmt: str, size: tuple[int, int], *, noise: bool = False, **save: object) -> bytes:
    """Return an image in ``fmt``."""
    if noise:
        picture = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        picture = Image.new("RGB", size, (20, 90, 200))
    out = io.BytesIO()
    picture.save(out, fmt, **save)
    return out.getvalue()


def rss(*items: str) -> str:
    """Return an RSS document holding ``items``."""
    body = "".join(ITEM.format(n=n + 1, media=media) for n, media in enumerate(items))
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'
    )


def test_refused_images_become_pictures_and_unsized_videos_become_videos(tmp_path: Path) -> None:
    with FeedServer() as media:
        media.routes["/a.png"] = (200, {"Content-Type": "image/png"}, encoded("PNG", (900, 700)))
        media.routes["/b.webp"] = (200, {}, encoded("WEBP", (640, 480)))
        big = encoded("JPEG", (1800, 1800), noise=True, quality=98)
        assert len(big) > 3_000_000
        media.routes["/c.jpg"] = (200, {"Content-Type": "image/jpeg"}, big)
        media.routes["/photo"] = (200, {}, encoded("JPEG", (300, 300)))
        clip = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2".ljust(300_000, b"\x00")
        media.routes["/clip.mp4"] = (200, {"Content-Type": "video/mp4"}, clip)
        pictures = [f'<enclosure url="{media.url(p)}" type="image/jpeg" length="1000"/>'
                    for p in ("/a.png", "/b.webp", "/c.jpg", "/photo")]  # fmt: skip
        (tmp_path / "pictures.xml").write_text(rss(*pictures))
        video = f'<enclosure url="{media.url("/clip.mp4")}" type="video/mp4"/>'
        (tmp_path / "videos.xml").write_text(rss(video))
        (tmp_path / "templates").mkdir()
        (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
        (tmp_path / "feeds.toml").write_text(
            '[defaults]\nbacklog = "all"\n'
            '[[feeds]]\nname = "pictures"\nurl = "pictures.xml"\n'
            '[[feeds]]\nname = "videos"\nurl = "videos.xml"\n'
        )
        config = load_config(tmp_path / "feeds.toml")
        state = tmp_path / "state"
        with sandbox_session(config, port=0) as session:
            served = serve_media(session, state)
            spec, token = session.destination()
            with build(served, state, specs=(spec,), tokens={spec.name: token}) as app:
                run_once(app, served.feeds)
            posts = session.sandbox.posts
            fetched = [httpx.get(post["media"]) for post in posts if post["type"] == "picture"]
    assert sorted(post["type"] for post in posts) == ["picture"] * 4 + ["video"]
    assert [post["size"] for post in posts if post["type"] == "video"] == [300_000]
    for answer in fetched:
        assert answer.status_code == 200 and answer.content[:3] == b"\xff\xd8\xff"
        assert len(answer.content) <= 1_000_000
