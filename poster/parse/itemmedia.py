"""Build Media records: resolve URLs, read sizes and durations, and pick the best picture."""

from __future__ import annotations

import html
import mimetypes
import re
from collections.abc import Iterable, Iterator
from urllib.parse import urljoin

from poster.models import Media

_IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[a-zA-Z][^<>]*>")
_ATTRIBUTE = re.compile(r"""([a-zA-Z_:][-\w:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_URL_ATTRIBUTE = re.compile(
    r"""(\s(?:href|src|poster)\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)""", re.IGNORECASE
)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PIXEL_SIZES = frozenset(("0", "1", "0px", "1px"))
# An absolute http(s) URL that urljoin returns unchanged: ASCII, a host, no empty query, no
# path parameters or fragment (which urlunparse may drop when empty), nothing it strips.
# Each part is one class of characters, which the pattern reads in a single loop.
_URL_CHARACTERS = "A-Za-z0-9._~%!$&'()*+,=:@"
_PLAIN_URL = re.compile(
    rf"https?://[{_URL_CHARACTERS}-]+(?:/[{_URL_CHARACTERS}/-]*)?(?:\?[{_URL_CHARACTERS}/?-]+)?"
)


def absolute(url: object, base: str | None) -> str | None:
    """Return ``url`` made absolute against ``base`` if it is then http(s), else None."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if _PLAIN_URL.fullmatch(url):
        return url  # what urljoin gives back for it, whatever the base
    if not url:
        return None
    try:
        resolved = urljoin(base or "", url)
    except ValueError:
        return None
    return resolved if resolved.lower().startswith(("http://", "https://")) else None


def parse_length(value: object) -> int | None:
    """Return a byte size as a positive int, or None when missing, zero or garbage."""
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            return None
    elif isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = int(value)
    except (ValueError, OverflowError):
        return None
    return number if number > 0 else None


def parse_duration(value: object) -> int | None:
    """Return whole seconds from seconds or ``hh:mm:ss`` / ``mm:ss`` (as in itunes:duration)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return _whole_seconds(float(value))
        except OverflowError:  # an integer of hundreds of digits
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    fields = value.strip().split(":")
    if len(fields) > 3:
        return None
    try:
        numbers = [float(field) for field in fields]
    except ValueError:
        return None
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    return _whole_seconds(seconds)


def _whole_seconds(seconds: float) -> int | None:
    """Return a positive duration rounded to whole seconds, or None."""
    if not seconds > 0 or seconds == float("inf"):
        return None
    return round(seconds)


def guess_type(url: str) -> str | None:
    """Return the MIME type that the URL's extension suggests."""
    return mimetypes.guess_type(url.split("?", 1)[0].split("#", 1)[0], strict=False)[0]


def is_image(mime_type: str | None, url: str, medium: object = None) -> bool:
    """Tell whether a media object is a picture, by medium, MIME type or extension."""
    if isinstance(medium, str) and medium:
        return medium.lower() == "image"
    kind = mime_type or guess_type(url) or ""
    return kind.lower().startswith("image/")


def choose_image(candidates: Iterable[Media | None]) -> Media | None:
    """Return the first JPEG among ``candidates`` (the API takes no other), else the first.

    Candidates are read only up to the first JPEG, so a lazy iterable saves work.
    """
    first = None
    for media in candidates:
        if media is not None and media.is_jpeg:
            return media
        first = first or media
    return first


def unique_media(media: Iterable[Media]) -> tuple[Media, ...]:
    """Return ``media`` without repeated URLs, in first-seen order, merging what each knows.

    Feeds often list one file twice, as an RSS enclosure with its length and as media:content
    with its duration; the merged record keeps both.
    """
    kept: dict[str, Media] = {}
    for item in media:
        known = kept.get(item.url)
        kept[item.url] = item if known is None else _merge(known, item)
    return tuple(kept.values())


def _merge(first: Media, second: Media) -> Media:
    """Return ``first`` with its missing fields taken from ``second``."""
    return Media(
        first.url,
        first.mime_type or second.mime_type,
        first.length or second.length,
        first.duration if first.duration is not None else second.duration,
        first.title or second.title,
    )


def content_images(markup: str, base: str | None) -> Iterator[Media]:
    """Yield the pictures of ``<img src>`` tags in HTML, skipping 1×1 tracking pixels."""
    if "<" not in markup:
        return  # no tag: the case-blind search would still read every character
    for tag in _IMG_TAG.findall(markup):
        attributes = {
            name.lower(): html.unescape(value.strip("\"'"))
            for name, value in _ATTRIBUTE.findall(tag)
        }
        if _is_pixel(attributes):
            continue
        url = absolute(attributes.get("src"), base)
        if url:
            yield Media(url=url, title=attributes.get("alt") or None)


def _is_pixel(attributes: dict[str, str]) -> bool:
    """Tell whether an ``<img>`` is a tracking pixel by its declared size."""
    return bool(
        {attributes.get("width", "").strip(), attributes.get("height", "").strip()} & _PIXEL_SIZES
    )


def absolutize(markup: str, base: str | None) -> str:
    """Return HTML with relative ``href``/``src``/``poster`` values resolved against ``base``."""
    if not base or not markup or "=" not in markup:
        return markup

    def resolve_tag(tag: re.Match[str]) -> str:
        return _URL_ATTRIBUTE.sub(resolve, tag.group(0))

    def resolve(match: re.Match[str]) -> str:
        prefix, value = match.groups()
        quote = value[0] if value[0] in "\"'" else '"'
        raw = value.strip("\"'")
        if not raw or raw.startswith("#") or _SCHEME.match(raw):
            return match.group(0)
        try:
            joined = urljoin(base, html.unescape(raw))
        except ValueError:
            return match.group(0)
        return prefix + quote + html.escape(joined, quote=True) + quote

    return _TAG.sub(resolve_tag, markup)
