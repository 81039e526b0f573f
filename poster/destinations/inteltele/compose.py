"""Compose the Intel Tele message of a rendered post under ``inteltele-im-api.txt``'s rules.

A post becomes a ``picture`` (text, image and a button to the item's link) when its image is
a jpg/jpeg/png whose link ends in that lowercase extension ("format must be lowercase"), no
larger than 400x400 px when its size is known, and the item has a link for the button, since
the document uses the image "together with im_button_link and im_button_text". Otherwise it is
``text``. Either text is cut at a word to 1000 symbols ("A long message will be 1000 symbols").

The SMS fallback (``sms_message``, sent only where a destination sets ``sms_source``) is the
post's text followed by its link, cut so the whole fits three SMS parts: 459 GSM-7 characters,
or 201 when the text needs Unicode (3 x 153 and 3 x 67, the sizes of concatenated parts).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from poster.config import FeedConfig
from poster.destinations.gateway import PICTURE, TEXT, GatewayMessage
from poster.destinations.gateway.pictures import picture_rule
from poster.destinations.inteltele.rules import (
    BUTTON_TEXT_MAX,
    IMAGE_EXTENSIONS,
    MESSAGE_MAX,
    names_image_format,
)
from poster.errors import RenderError
from poster.media.policy import type_of
from poster.models import Item, Media, Post
from poster.text import truncate

IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
IMAGE_SIDE_MAX = 400
"""The document: "The image size should not exceed 400x400px"."""
IMAGE = picture_rule(IMAGE_SIDE_MAX, IMAGE_EXTENSIONS, exact=True)
"""What the media stage converts an ``im_image`` to fit: JPEG/PNG within 400x400."""
LINK_MAX = 2000
"""Links longer than this are not used for the image or the button: Viber opens them on phones."""
BUTTON_CAPTION = "Open"
SMS_PARTS = 3
SMS_GSM_PART, SMS_UNICODE_PART = 153, 67
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet: text of these characters only travels 153 to an SMS part."""


def image_url(item: Item | Post) -> str | None:
    """Return the item's image link when the gateway takes it as ``im_image``, else None."""
    image = item.image
    return image.url if image is not None and _image_fits(image) else None


def _image_fits(image: Media) -> bool:
    """Tell whether ``image`` is a jpg/jpeg/png with a lowercase extension within 400x400."""
    if image.failed or type_of(image) not in IMAGE_TYPES or not _is_link(image.url):
        return False
    if not names_image_format(image.url):
        return False
    sides = (image.width or 0, image.height or 0)
    return max(sides) <= IMAGE_SIDE_MAX


def _is_link(url: str | None) -> bool:
    """Tell whether ``url`` is an absolute http(s) link of a sensible length."""
    if not url or len(url) > LINK_MAX:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def choose_type(item: Item, feed: FeedConfig) -> str:
    """Return ``picture`` when the feed wants pictures and the item has both parts, else text."""
    wanted = feed.fixed is None and feed.type in ("auto", PICTURE)
    if wanted and image_url(item) and _is_link(item.link):
        return PICTURE
    return TEXT


def possible_types(feed: FeedConfig) -> tuple[str, ...]:
    """Return every type ``feed`` can produce at this gateway."""
    if feed.fixed is None and feed.type in ("auto", PICTURE):
        return (PICTURE, TEXT)
    return (TEXT,)


def text_limit(type: str) -> int:
    """Return how many symbols of text either type carries."""
    return MESSAGE_MAX


def compose(post: Post) -> GatewayMessage:
    """Return the message for ``post``: text cut to 1000 symbols, picture parts when usable."""
    text = truncate(post.text.strip(), MESSAGE_MAX)
    if not text:
        raise RenderError(
            post.feed, post.key, "cannot make a message: the template rendered nothing"
        )
    sms = sms_text(post.text.strip(), post.link)
    image, link = image_url(post), post.link
    if post.type == PICTURE and image is not None and _is_link(link):
        caption = BUTTON_CAPTION[:BUTTON_TEXT_MAX]
        return GatewayMessage(PICTURE, post.feed, post.key, text, image, caption, link, sms)
    return GatewayMessage(TEXT, post.feed, post.key, text, sms_text=sms)


def sms_text(text: str, link: str | None) -> str:
    """Return the SMS fallback: ``text`` and the link, cut at a word to fit three parts.

    A text that ends with the link already (the shipped templates end so) gives it once, kept
    whole when the text is cut: each part more is charged.
    """
    tail = ""
    if link is not None and _is_link(link):
        if text.endswith(link):
            text = text[: -len(link)].rstrip()
        tail = "" if link in text else f"\n{link}"
    whole = text + tail
    gsm = set(whole) <= _GSM7
    limit = SMS_PARTS * (SMS_GSM_PART if gsm else SMS_UNICODE_PART)
    if len(whole) <= limit:
        return whole
    if len(tail) > limit // 2:
        # A link taking most of the room would leave no text: send the text alone.
        tail = ""
    # "…" is not in the GSM alphabet: it would make the whole SMS Unicode, a third as long.
    return truncate(text, limit - len(tail), "..." if gsm else "…") + tail
