"""Define the Channels Post API's limits on text and media, without the message classes.

Every limit here comes from ``viber-channels-post-api.txt`` ("Message types"). ``check`` and
the type choice read them without building the message classes of ``messages``.
"""

TEXT_MAX = 7000
PICTURE_TEXT_MAX = 768
VIDEO_DURATION_MAX = 180
FILE_NAME_MAX = 256
URL_MEDIA_MAX = 2000
URL_TEXT_MAX = 120
CONTACT_NAME_MAX = 28
CONTACT_PHONE_MAX = 18
BODY_MAX_BYTES = 30 * 1024
"""The whole JSON body, envelope included, must stay under 30 KB."""

TEXT_LIMITS = {"text": TEXT_MAX, "picture": PICTURE_TEXT_MAX, "url": URL_TEXT_MAX}
"""Characters of text each type carries; video and file messages have no text field."""


def text_limit(kind: str) -> int:
    """Return how many characters of text a message of type ``kind`` carries."""
    return TEXT_LIMITS.get(kind, 0)
