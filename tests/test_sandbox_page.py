"""Check the channel page: what it serves, and what a person sees in a headless Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
from support.browser import Browser
from support.page import Node, parse_page
from support.sandbox import TOKEN, Receiver, api_client, load_messages, post

from poster.destinations.viber.sandbox import Sandbox

MESSAGES = load_messages()
LATE_TEXT = "Late *news*: <script>alert(1)</script><img src=x onerror=alert(2)>"


class PolledSandbox(Sandbox):
    """A sandbox that gets one more post just before the page's second poll is answered."""

    def __init__(self, token: str) -> None:
        super().__init__(token=token)
        self.polls = 0
        self._lock = threading.Lock()

    def serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        if handler.path.startswith("/sandbox/posts"):
            with self._lock:
                self.polls += 1
                if self.polls == 2:
                    with api_client(self) as client:
                        assert post(client, {"type": "text", "text": LATE_TEXT})["status"] == 0
        super().serve(handler, method)


@pytest.fixture(scope="module")
def page_after_posts(browser: Browser) -> Iterator[tuple[Node, str, PolledSandbox]]:
    """Post one message of each type, load the page in Chromium, return its final DOM."""
    with (
        Receiver(TOKEN) as receiver,
        PolledSandbox(token=TOKEN) as sandbox,
        api_client(sandbox) as client,
    ):
        assert client.post("set_webhook", json={"url": receiver.url}).json()["status"] == 0
        for body in MESSAGES.values():
            assert post(client, body)["status"] == 0
        markup = browser.dump(sandbox.url)
        yield parse_page(markup), markup, sandbox


def test_the_page_shows_every_post_in_order_newest_last(
    page_after_posts: tuple[Node, str, PolledSandbox],
) -> None:
    page, _, sandbox = page_after_posts
    posts = page.find_all(lambda n: "post" in n.classes)
    assert [p.attrs["data-type"] for p in posts] == [*MESSAGES, "text"]
    assert all(f"post-{p.attrs['data-type']}" in p.classes for p in posts)
    assert all(len(p.by_tag("time")) == 1 for p in posts), "every post shows its time"
    assert sandbox.polls >= 2, "the page keeps polling for new posts"
    assert posts[-1].by_class("text").text() == "Late news: " + LATE_TEXT.split(": ", 1)[1]
    assert page.by_class("channel-info").by_tag("h1")[0].text() == "Sandbox channel"
    assert "9 posts" in page.by_class("channel-meta").text()


def test_one_channel_without_gateways_shows_no_tabs(
    page_after_posts: tuple[Node, str, PolledSandbox],
) -> None:
    page, _, _ = page_after_posts
    tabs = page.by_class("tabs")
    assert "hidden" in tabs.attrs
    assert tabs.by_tag("a") == [], "a lone channel needs no tab"


def test_each_type_is_rendered_as_a_person_would_see_it(
    page_after_posts: tuple[Node, str, PolledSandbox],
) -> None:
    page, _, _ = page_after_posts
    text, picture, video, file, url, location, contact, sticker, late = page.find_all(
        lambda n: "post" in n.classes
    )
    body = text.by_class("text")
    assert [n.text() for n in body.by_tag("strong")] == ["bold"]
    assert [n.text() for n in body.by_tag("em")] == ["italic"]
    assert [n.text() for n in body.by_tag("del")] == ["gone"]
    assert [n.text() for n in body.by_tag("code")] == ["mono"]
    assert "mono\nSecond line" in body.text(), "line breaks are kept"
    assert [a.attrs["href"] for a in body.by_tag("a")] == ["https://example.org/a_b"]
    [image] = picture.by_tag("img")
    assert image.attrs["src"] == MESSAGES["picture"]["media"]
    assert picture.by_class("caption").text() == "A harbour at dawn"
    assert "img.example.com" in picture.by_class("media-placeholder").text()
    assert video.by_class("duration").text() == "01:15"
    assert video.by_class("play-badge").text() == "▶"
    assert "9.5 MB" in video.by_class("media-meta").text()
    assert file.by_class("file-name").text() == "annual-report.pdf"
    assert file.by_class("file-size").text() == "1.8 MB"
    assert url.by_class("link-host").text() == "news.example.net"
    assert url.by_class("link-text").text() == "Read the full story"
    assert url.by_class("link-card").attrs["href"] == MESSAGES["url"]["media"]
    pin = location.by_class("location-link")
    assert pin.text() == "📍 37.7898, -122.3942"
    assert "mlat=37.7898" in pin.attrs["href"]
    assert contact.by_class("contact-name").text() == "John Doe"
    assert contact.by_class("contact-avatar").text() == "JD"
    assert contact.by_class("contact-phone").text() == "+12025550164"
    assert sticker.by_class("sticker").text() == "Sticker #46105"
    assert [n.text() for n in late.by_tag("strong")] == ["news"]


def test_initials_keep_an_emoji_whole(browser: Browser) -> None:
    with (
        Receiver(TOKEN) as receiver,
        Sandbox(token=TOKEN) as sandbox,
        api_client(sandbox) as client,
    ):
        assert client.post("set_webhook", json={"url": receiver.url}).json()["status"] == 0
        contact = {"name": "😀 Desk", "phone_number": "+375171234567"}
        assert post(client, {"type": "contact", "contact": contact})["status"] == 0
        page = parse_page(browser.dump(sandbox.url))
    assert page.by_class("contact-avatar").text() == "😀D"


def test_posted_markup_is_shown_as_text_never_run(
    page_after_posts: tuple[Node, str, PolledSandbox],
) -> None:
    page, markup, _ = page_after_posts
    feed = page.find_all(lambda n: n.attrs.get("id") == "feed")[0]
    assert feed.by_tag("script") == []
    assert [i.attrs["src"] for i in feed.by_tag("img")] == [
        MESSAGES["picture"]["media"],
        MESSAGES["video"]["thumbnail"],
    ]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup


def test_the_token_never_reaches_the_page(
    page_after_posts: tuple[Node, str, PolledSandbox],
) -> None:
    _, markup, sandbox = page_after_posts
    assert TOKEN not in markup
    with httpx.Client() as client:
        for path in ("", "sandbox/posts", "sandbox/page.js", "sandbox/page.css"):
            assert TOKEN not in client.get(sandbox.url + path).text, path


def test_the_page_escapes_the_channel_name_and_loads_nothing_from_outside() -> None:
    with Sandbox(channel_name='<b>"Harbour" & Co</b>') as sandbox, httpx.Client() as client:
        page = client.get(sandbox.url)
        script = client.get(sandbox.url + "sandbox/page.js")
        style = client.get(sandbox.url + "sandbox/page.css")
    assert page.headers["content-type"].startswith("text/html")
    assert "&lt;b&gt;&quot;Harbour&quot; &amp; Co&lt;/b&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.headers["content-type"].startswith("text/css")
    for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in script.text, "post text must enter the page as text nodes only"
    for asset in (page.text, style.text):
        assert "http://" not in asset
        assert "https://" not in asset
    assert "@import" not in style.text
