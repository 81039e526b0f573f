"""Compose the SMS.BY Viber message of a post under ``bulk-viber-aggregator-api.txt``'s rules.

A post becomes one of two messages:

- ``picture``: text, image and a button to the item's link (the document's "button" variant,
  which carries all three). It needs a public http(s) JPEG or PNG image and a link of at most
  150 characters ("the button_link parameter must not exceed 150 characters").
- ``text``: the text alone, whenever a picture cannot be made. The document's "image" variant
  carries no text, so an image without a usable link is dropped rather than the text.

The text is cut at a word to 1,000 characters, Viber's limit (the document gives none); the
button caption is at most 30 characters, likewise.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from poster.config import FeedConfig
from poster.destinations.gateway import GatewayMessage
from poster.errors import RenderError
from poster.media.policy import ImageRule
from poster.models import Item, Media, Post
from poster.text import truncate

TEXT_MAX = 1000
"""Characters of text in one Viber message."""
CAPTION_MAX = 30
"""Characters of a button caption."""
BUTTON_LINK_MAX = 150
"""``button_link``: "must not exceed 150 characters"."""
BUTTON_CAPTION = "Read more"
"""The caption of the button that opens the item's link."""
SIDE_MAX = 800
"""The document's refusal of a mailing: "Optimal image size 800x800 px"."""
IMAGE = ImageRule(frozenset({"image/jpeg", "image/png"}), 5_000_000, SIDE_MAX)
"""What poster sends as ``image_url``: a JPEG or PNG (what Viber shows) within 800x800 pixels,
of at most 5 MB, Viber's cap."""
TYPES = ("picture", "text")


def picture_image(item: Item | Post) -> Media | None:
    """Return the item's image that a picture message can carry, if it has one."""
    for media in (item.image, *item.enclosures):
        if media is not None and IMAGE.fits(media) and public_url(media.url, 2000):
            return media
    return None


def button_link(item: Item | Post) -> str | None:
    """Return the item's link when a button can carry it, else None."""
    link = item.link
    return link if link and public_url(link, BUTTON_LINK_MAX) else None


def public_url(url: str, limit: int) -> bool:
    """Tell whether ``url`` is an absolute http(s) URL within ``limit`` characters."""
    if len(url) > limit or any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def choose_type(item: Item, feed: FeedConfig) -> str:
    """Return ``picture`` when the feed allows it and the item has its image and link."""
    wants_picture = feed.type in ("auto", "picture")
    if wants_picture and picture_image(item) is not None and button_link(item) is not None:
        return "picture"
    return "text"


def possible_types(feed: FeedConfig) -> tuple[str, ...]:
    """Return the types ``feed`` can produce: a picture where it may, and text."""
    return TYPES if feed.type in ("auto", "picture") else ("text",)


def compose(post: Post) -> GatewayMessage:
    """Return the message for ``post``: a picture when it can be one, else its text."""
    if post.fixed is not None:
        what = type(post.fixed).__name__.lower()
        raise RenderError(post.feed, post.key, f"an SMS.BY Viber message cannot carry a {what}")
    text = truncate(post.text.strip(), TEXT_MAX)
    image, link = picture_image(post), button_link(post)
    if post.type == "picture" and image is not None and link is not None:
        caption = truncate(BUTTON_CAPTION, CAPTION_MAX)
        return GatewayMessage("picture", post.feed, post.key, text, image.url, caption, link)
    if not text:
        raise RenderError(post.feed, post.key, "cannot make a text message: it rendered empty")
    return GatewayMessage("text", post.feed, post.key, text)
