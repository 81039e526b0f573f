"""Compose SMS.BY Viber messages from posts under the gateway document's rules."""

from __future__ import annotations

import pytest

from poster.destinations.gateway import GatewayMessage
from poster.destinations.smsby.compose import compose
from poster.errors import RenderError
from poster.models import Location, Media, Post

LINK = "https://news.test/a"
JPEG = Media("https://img.test/a.jpg", "image/jpeg")
PNG = Media("https://img.test/a.png")
GIF = Media("https://img.test/a.gif", "image/gif")
LONG_LINK = "https://news.test/" + "x" * 140


def post(type: str = "picture", text: str = "Hello", link: str | None = LINK,
         image: Media | None = JPEG) -> Post:  # fmt: skip
    return Post(type, text, "news", "k1", "Title", link, image)


CASES = [
    ("jpeg-and-link", post(), ("picture", "Hello", JPEG.url, "Read more", LINK)),
    ("png-by-extension", post(image=PNG), ("picture", "Hello", PNG.url, "Read more", LINK)),
    ("gif-is-not-taken", post(image=GIF), ("text", "Hello", None, None, None)),
    ("no-link-drops-image", post(link=None), ("text", "Hello", None, None, None)),
    ("link-over-150", post(link=LONG_LINK), ("text", "Hello", None, None, None)),
    ("link-of-150", post(link=LONG_LINK[:150]),
     ("picture", "Hello", JPEG.url, "Read more", LONG_LINK[:150])),
    ("image-not-http", post(image=Media("ftp://img.test/a.jpg", "image/jpeg")),
     ("text", "Hello", None, None, None)),
    ("text-type-ignores-image", post(type="text"), ("text", "Hello", None, None, None)),
    ("picture-without-text", post(text=""), ("picture", "", JPEG.url, "Read more", LINK)),
]  # fmt: skip


@pytest.mark.parametrize(("given", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_composes(given: Post, expected: tuple[object, ...]) -> None:
    message = compose(given)
    assert isinstance(message, GatewayMessage)
    found = (message.type, message.text, message.image, message.button_caption)
    assert (*found, message.button_action) == expected
    assert (message.feed, message.key) == ("news", "k1")


@pytest.mark.parametrize("length", [999, 1000, 1001, 5000])
def test_cuts_text_at_a_word_within_1000_characters(length: int) -> None:
    text = ("word " * 2000)[:length]
    message = compose(post(type="text", text=text))
    assert len(message.text) <= 1000
    if length > 1000:
        assert message.text.endswith("…") and message.text[:-1].rstrip().endswith("word")
    else:
        assert message.text == text.strip()


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        (post(type="text", text="  "), "rendered empty"),
        (post(link=None, text=""), "rendered empty"),
        (Post("location", "", "news", "k1", fixed=Location(1.0, 2.0)), "cannot carry a location"),
    ],
    ids=["empty-text", "empty-picture-fallback", "fixed-location"],
)
def test_refuses_what_it_cannot_send(given: Post, reason: str) -> None:
    with pytest.raises(RenderError, match=reason):
        compose(given)
