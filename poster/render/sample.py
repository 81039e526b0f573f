"""Define the sample item ``poster check`` renders to show what a feed's posts will look like."""

from __future__ import annotations

from datetime import UTC, datetime

from poster.models import FeedMeta, Item, Media

_LINK = "https://example.com/news/2024/05/riverside-park-reopens"

SAMPLE_ITEM = Item(
    key=_LINK,
    title="Riverside Park reopens after a year of restoration",
    link=_LINK,
    summary=(
        "The city's oldest park opens its gates again on Saturday with a new playground, "
        "restored fountains and 300 freshly planted trees."
    ),
    content_html=(
        "<p>The city's oldest park opens its gates again on Saturday morning after a year of "
        "restoration work. Visitors will find a new playground, restored fountains and "
        "300 freshly planted lime and oak trees.</p>"
        "<p>What is new this season:</p>"
        "<ul><li>a riverside cycle path linking the park to the old port;</li>"
        "<li>an open-air reading room, open daily until 9 pm;</li>"
        "<li>free guided walks every Sunday at 11 am.</li></ul>"
        "<p>The full programme of the opening weekend is on the "
        '<a href="https://example.com/events/riverside-opening">events page</a>.</p>'
    ),
    # What html_to_text makes of content_html, written out so that a check whose templates
    # turn no HTML into text loads no HTML parser; a test keeps the two the same.
    content_text=(
        "The city's oldest park opens its gates again on Saturday morning after a year of "
        "restoration work. Visitors will find a new playground, restored fountains and "
        "300 freshly planted lime and oak trees.\n\n"
        "What is new this season:\n\n"
        "• a riverside cycle path linking the park to the old port;\n"
        "• an open-air reading room, open daily until 9 pm;\n"
        "• free guided walks every Sunday at 11 am.\n\n"
        "The full programme of the opening weekend is on the events page."
    ),
    author="Dana Whitfield",
    published=datetime(2024, 5, 14, 7, 30, tzinfo=UTC),
    updated=datetime(2024, 5, 14, 9, 5, tzinfo=UTC),
    tags=("City life", "Parks & gardens", "weekend"),
    image=Media(
        "https://example.com/images/riverside-park.jpg", mime_type="image/jpeg", length=245_760
    ),
    thumbnail=Media(
        "https://example.com/images/riverside-park-400.jpg", mime_type="image/jpeg", length=38_912
    ),
    enclosures=(
        Media(
            "https://example.com/video/riverside-park-tour.mp4",
            mime_type="video/mp4",
            length=18_874_368,
            duration=95,
            title="Riverside Park tour",
        ),
    ),
)
"""A realistic item: HTML with paragraphs, a list and a link, a JPEG image, an MP4 video."""


def sample_meta(name: str, url: str) -> FeedMeta:
    """Return feed details to render the sample item with, for the feed called ``name``."""
    return FeedMeta(name=name, title="Example City News", link="https://example.com/", url=url)
