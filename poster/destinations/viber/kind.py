"""Tell poster what a Viber channel takes: which type an item becomes, and its message."""

from __future__ import annotations

from typing import Any

from poster.config import FeedConfig
from poster.destinations import REDACTED, Message
from poster.destinations.viber import compose, media
from poster.destinations.viber.messages import envelope
from poster.media.rules import MediaRules
from poster.models import Item, Post

UNRESOLVED_SENDER = "<super-admin id from get_account_info>"


class ViberKind:
    """The Viber channel kind: Channels Post API types and limits."""

    name = "viber"

    def choose_type(self, item: Item, feed: FeedConfig) -> str:
        """Return the type ``item`` becomes on a channel (JPEG picture, sized MP4, fallback)."""
        return media.choose_type(item, feed)

    @property
    def media_rules(self) -> MediaRules:
        """Return the images a channel takes as a picture and as a thumbnail."""
        return media.RULES

    def explain(self, item: Item, feed: FeedConfig) -> str | None:
        """Say why probed media did not make ``item`` a picture or a video."""
        return media.explain(item, feed)

    def possible_types(self, feed: FeedConfig) -> tuple[str, ...]:
        """Return every type ``feed`` can produce on a channel."""
        return media.possible_types(feed)

    def text_limit(self, type: str) -> int:
        """Return the characters of text a message of ``type`` carries."""
        return compose.text_limit(type)

    def compose(self, post: Post) -> Message:
        """Return the channel message for ``post``, cut to the API's limits."""
        return compose.compose(post)

    def preview_body(self, message: Message, sender: str | None) -> dict[str, Any]:
        """Return the JSON body the channel would get, the token redacted."""
        return envelope(message, sender or UNRESOLVED_SENDER, REDACTED)


KIND = ViberKind()
