"""Compose Intel Tele messages under the document's rules: types, image, button, text, SMS."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from poster.config import values as v
from poster.config.feedkeys import read_table
from poster.destinations.inteltele.compose import IMAGE, compose, sms_text
from poster.destinations.inteltele.kind import KIND
from poster.destinations.inteltele.rules import send_problems
from poster.errors import RenderError
from poster.models import Media, Post

LINK = "https://example.org/story"
CTX = v.Context(Path("/etc/poster"), None, os.environ)


def post(
    text: str = "Story", image: Media | None = None, link: str | None = LINK, type: str = "picture"
) -> Post:
    return Post(type, text, "news", "k1", link=link, image=image)


@pytest.mark.parametrize(
    ("image", "link", "type", "expected"),
    [
        (Media("https://example.org/a.jpg"), LINK, "picture", "picture"),
        (Media("https://example.org/a.png", "image/png"), LINK, "picture", "picture"),
        (Media("https://example.org/a.JPG"), LINK, "picture", "text"),
        (Media("https://example.org/a.gif"), LINK, "picture", "text"),
        (Media("https://example.org/a.jpg", width=800, height=600), LINK, "picture", "text"),
        (Media("https://example.org/a.jpg", width=400, height=300), LINK, "picture", "picture"),
        (Media("https://example.org/a.jpg", failed="HTTP 404"), LINK, "picture", "text"),
        (Media("https://example.org/a.jpg"), None, "picture", "text"),
        (Media("ftp://example.org/a.jpg"), LINK, "picture", "text"),
        (Media("https://example.org/a.jpg"), LINK, "text", "text"),
        (Media("https://example.org/a.jpg?w=400"), LINK, "picture", "text"),
        (Media("https://example.org/a.jpg#top"), LINK, "picture", "text"),
    ],
    ids=[
        "jpeg", "png", "uppercase-extension", "gif", "over-400px", "within-400px",
        "unreachable", "no-link-for-button", "not-http", "text-chosen", "query-after-the-name",
        "fragment",
    ],
)  # fmt: skip
def test_a_picture_needs_a_lowercase_jpeg_or_png_and_a_link(
    image: Media, link: str | None, type: str, expected: str
) -> None:
    message = compose(post(image=image, link=link, type=type))
    assert message.type == expected
    params = {"to": "380501234567", "im_message": message.text}
    if message.type == "picture":
        assert (message.image, message.button_action) == (image.url, link)
        assert message.button_caption
        params |= {"im_image": str(message.image), "im_button_text": str(message.button_caption)}
        params |= {"im_button_link": str(message.button_action)}
    else:
        assert (message.image, message.button_caption, message.button_action) == (None, None, None)
    assert send_problems(params) == []


def test_an_image_whose_link_does_not_end_in_its_format_does_not_fit_the_media_rule() -> None:
    assert not IMAGE.fits(Media("https://example.org/a.png?w=400", "image/png"))
    assert not IMAGE.fits(Media("https://example.org/a.png#top", "image/png"))
    assert IMAGE.fits(Media("https://example.org/a.png", "image/png"))
    assert replace(IMAGE, exact_ending=False).fits(
        Media("https://example.org/a.png?w=400", "image/png")
    )


@pytest.mark.parametrize(
    ("text", "length", "ends"),
    [("word " * 300, 1000, "…"), ("short", 5, "t"), ("я" * 999 + " ok", 1000, "…")],
    ids=["cut-at-word", "kept", "cyrillic-long-word"],
)
def test_text_is_cut_to_1000_symbols(text: str, length: int, ends: str) -> None:
    message = compose(post(text=text))
    assert len(message.text) == length and message.text.endswith(ends)


def test_an_empty_rendering_is_refused() -> None:
    with pytest.raises(RenderError, match="rendered nothing"):
        compose(post(text="  \n"))


@pytest.mark.parametrize(
    ("text", "link", "limit", "ends"),
    [
        ("Short news", LINK, None, f"Short news\n{LINK}"),
        ("word " * 200, LINK, 459, f"...\n{LINK}"),
        ("слово " * 100, LINK, 201, f"…\n{LINK}"),
        ("word " * 200, "https://example.org/" + "p" * 300, 459, "..."),
        ("Plain", None, None, "Plain"),
    ],
    ids=["fits", "gsm-three-parts", "unicode-three-parts", "link-too-long-dropped", "no-link"],
)
def test_the_sms_fallback_fits_three_parts_with_its_link(
    text: str, link: str | None, limit: int | None, ends: str
) -> None:
    sms = sms_text(text, link)
    assert sms.endswith(ends)
    if limit is not None:
        assert limit - 10 < len(sms) <= limit


@pytest.mark.parametrize(
    "text",
    [f"Short news\n{LINK}", f"Short news {LINK}", f"{'word ' * 200}\n{LINK}"],
    ids=["on-its-line", "after-the-text", "cut-before-it"],
)
def test_a_text_ending_with_its_link_gives_it_once(text: str) -> None:
    sms = sms_text(text, LINK)
    assert sms.count(LINK) == 1 and sms.endswith(f"\n{LINK}") and len(sms) <= 459


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"sms_source": "No"}, "sms_source: 'No' is not an SMS sender id"),
        ({"sms_source": "Too-Long-Name"}, "sms_source: 'Too-Long-Name' is not an SMS sender id"),
        ({"ttl": "30s"}, "ttl: must be 60 to 86400 seconds"),
        ({"ttl": "2d"}, "ttl: must be 60 to 86400 seconds"),
        ({"method": "PUT"}, "method: 'PUT' is not one of GET, POST"),
        ({"username": None}, "username: is required"),
    ],
    ids=["sms-source-short", "sms-source-odd", "ttl-short", "ttl-long", "method", "no-username"],
)
def test_bad_section_keys_are_named(raw: dict[str, object], expected: str) -> None:
    section = {"username": "poster", "recipients": "subs.txt"} | raw
    section = {key: value for key, value in section.items() if value is not None}
    table = read_table(section, KIND.keys, CTX)
    assert expected in [f"{issue.sub}: {issue.message}" for issue in table.issues]


def test_good_section_keys_make_the_settings() -> None:
    section = {"username": "poster", "recipients": "subs.txt", "sms_source": "380501234567"}
    table = read_table(section | {"method": "POST", "ttl": "2h"}, KIND.keys, CTX)
    assert table.issues == []
    values = {name: table.values.get(name, key.default) for name, key in KIND.keys.items()}
    settings = KIND.settings(values | {"min_gap": timedelta(0), "max_per_pass": 5})
    assert (settings.username, settings.method, settings.sms_source) == (
        "poster", "POST", "380501234567"
    )  # fmt: skip
    assert settings.gateway.ttl == timedelta(hours=2)
    assert settings.gateway.recipients == Path("/etc/poster/subs.txt")


def test_the_method_is_get_unless_set() -> None:
    section = {"username": "poster", "recipients": "subs.txt"}
    table = read_table(section, KIND.keys, CTX)
    values = {name: table.values.get(name, key.default) for name, key in KIND.keys.items()}
    settings = KIND.settings(values | {"min_gap": timedelta(0), "max_per_pass": 5})
    assert settings.method == "GET"
