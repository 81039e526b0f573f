"""Compose the DecisionTelecom Viber message of a post under the document's limits."""

from __future__ import annotations

from poster.destinations.decisiontelecom.rules import (
    BUTTON_CAPTION_MAX,
    IMAGE_SUFFIXES,
    TEXT_MAX,
    url_problem,
)
from poster.destinations.gateway import PICTURE, TEXT, GatewayMessage
from poster.destinations.gateway.pictures import picture_rule
from poster.errors import RenderError
from poster.models import Media, Post
from poster.text import truncate

IMAGE = picture_rule(suffixes=IMAGE_SUFFIXES)
"""A picture's image: JPEG or PNG at a .jpg/.jpeg/.png URL, within 400x400 pixels."""
BUTTON_CAPTION = "Read more"
"""The caption of a picture message's button, which opens the item's link."""


def image_url(image: Media | None) -> str | None:
    """Return the image's URL when the gateway takes it: http(s), JPEG/PNG, within 400x400."""
    if image is None or url_problem(image.url):
        return None
    # "jpg or jpeg (mime type is image/jpeg) ... png (mime type is image/png)": the URL's path
    # names the format, in any case; a probe, when there was one, has checked its type.
    return image.url if IMAGE.fits(image) else None


def compose(post: Post, *, rich: bool) -> GatewayMessage:
    """Return the message of ``post``: text + image + button when it can be one, else text."""
    text = truncate(post.text.strip(), TEXT_MAX)
    if not text:
        raise RenderError(post.feed, post.key, "the template produced no text to send")
    image = image_url(post.image)
    link = post.link if post.link and not url_problem(post.link) else None
    if rich and post.type == PICTURE and image and link:
        caption = truncate(BUTTON_CAPTION, BUTTON_CAPTION_MAX)
        return GatewayMessage(PICTURE, post.feed, post.key, text, image, caption, link)
    return GatewayMessage(TEXT, post.feed, post.key, text)
