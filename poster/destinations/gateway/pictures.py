"""Say which images the gateway kinds carry, and why a probed image did not make a picture."""

from __future__ import annotations

from collections.abc import Callable

from poster.config import FeedConfig
from poster.destinations.gateway import PICTURE
from poster.media.policy import ImageRule, describe, type_of
from poster.models import Item

TYPES = frozenset({"image/jpeg", "image/png"})
"""The gateways' image formats: DecisionTelecom's "jpg or jpeg (mime type is image/jpeg) ... png
(mime type is image/png)", Intel Tele's "Format: jpg/jpeg/png"."""
SUFFIXES = (".jpg", ".jpeg", ".png")
"""The endings the gateways check an image URL's path for."""
SIDE_MAX = 400
"""DecisionTelecom's "maximum resolution 400x400 pixels", Intel Tele's "The image size should
not exceed 400x400px"."""
BYTES_MAX = 5_000_000
"""The largest image poster sends a gateway: Viber's own cap for images."""


def picture_rule(
    max_side: int | None = SIDE_MAX, suffixes: tuple[str, ...] = SUFFIXES, *, exact: bool = False
) -> ImageRule:
    """Return the rule for a gateway's picture image: JPEG or PNG, within ``max_side`` pixels.

    ``exact`` asks the link itself to end in a suffix, as written, not only its path.
    """
    return ImageRule(TYPES, BYTES_MAX, max_side, suffixes, exact)


def explain(
    item: Item, feed: FeedConfig, rule: ImageRule, choose: Callable[[Item, FeedConfig], str]
) -> str | None:
    """Say why the item's probed image did not make it a picture, when it did not."""
    image = item.image
    if feed.fixed is not None or feed.type not in ("auto", PICTURE):
        return None
    if image is None or not image.probed or choose(item, feed) == PICTURE:
        return None
    if image.failed:
        return f"image unreachable ({image.failed}), posted as text"
    shown = describe(image)
    if type_of(image) not in rule.types:
        return f"image is {shown}: only a JPEG or PNG is taken, posted as text"
    sides = (image.width or 0, image.height or 0)
    if rule.max_side is not None and max(sides) > rule.max_side:
        size = f"{sides[0]}x{sides[1]}"
        return f"image is {shown}, {size}: over {rule.max_side}x{rule.max_side}, posted as text"
    if not rule.fits(image):
        return f"image is {shown}: not taken as it is, posted as text"
    return None
