"""Probe the media of items to post, and convert images that do not fit: between select and render.

The kind's choice of message type stays pure: it reads the probed ``Media`` records this stage
puts on each item. Every probe and download has its own deadline, and the stage a budget per
feed; items past it keep what the feed said about their media.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import httpx

from poster.config import FeedConfig
from poster.errors import MediaError
from poster.fetch.addresses import is_public
from poster.fetch.client import FeedClient, display
from poster.fetch.watchdog import WATCHDOG, DeadlineExceeded
from poster.frozen import field, frozen, replace
from poster.media.cache import SAVE_EVERY, ProbeCache
from poster.media.jpegstore import MediaStore, StoredFile
from poster.media.policy import ImageRule, MediaAware, describe, strictest
from poster.media.probe import Probe, ProbeLimits, follow, probe
from poster.models import Item, Media
from poster.select import Decision

log = logging.getLogger(__name__)

DOWNLOAD_MAX = 20_000_000
"""The largest image downloaded for conversion."""
BUDGET = 60.0
"""Seconds one feed's media may take in a pass, probes and conversions together."""
ENCLOSURES = 3
"""Enclosures probed per item: a video or file is among the first few."""


@frozen
class MediaStage:
    """Probe media through ``client``, remember it in ``cache``, convert into ``store`` if any."""

    client: FeedClient
    cache: ProbeCache
    store: MediaStore | None = None
    limits: ProbeLimits = field(default_factory=ProbeLimits)
    clock: Callable[[], float] = time.time
    budget: float = BUDGET

    def prepare(
        self, feed: FeedConfig, decisions: Sequence[Decision], kinds: Sequence[object]
    ) -> list[Decision]:
        """Return the decisions with the wanted items' media probed, converted and explained.

        An image that one of ``kinds`` with media rules refuses becomes one JPEG made to fit
        them all: an item carries one image to every destination it goes to.
        """
        aware = list(dict.fromkeys(k for k in kinds if isinstance(k, MediaAware)))
        if not aware or feed.fixed is not None:
            return list(decisions)
        until = time.monotonic() + self.budget
        silent: set[str] = set()
        out = []
        for decision in decisions:
            if decision.wanted and time.monotonic() < until:
                decision = self._decide(decision, feed, aware, silent)
            out.append(decision)
        self.cache.save(unless_within=SAVE_EVERY)
        return out

    def flush(self) -> None:
        """Write what was probed since the last write: the end of a pass, or of the daemon."""
        self.cache.save()

    def _decide(
        self, decision: Decision, feed: FeedConfig, kinds: list[MediaAware], silent: set[str]
    ) -> Decision:
        """Probe and convert one item's media and say what happened to it.

        ``silent`` holds the hosts that gave an earlier probe of the feed no answer.
        """
        private = _private_ok(feed)
        item = _with_media(decision.item, lambda m: self._probed(m, private, silent))
        notes: list[str] = []
        rules = [kind.media_rules for kind in kinds]
        if self.store is not None and feed.type in ("auto", "picture", "video"):
            pictures = [r.picture for r in rules]
            thumbnails = [r.thumbnail for r in rules if r.thumbnail is not None]
            if _is_video(item, feed, kinds):
                item, notes = self._video_thumbnail(item, thumbnails, private)
            else:
                item, notes = self._converted(item, pictures, thumbnails, private)
        whys = dict.fromkeys(why for kind in kinds if (why := kind.explain(item, feed)))
        reason = "; ".join([*notes, *whys])
        return replace(decision, item=item, reason=reason or decision.reason)

    def _probed(self, media: Media, private: bool, silent: set[str]) -> Media:
        """Return ``media`` with what a probe (cached or new) found.

        A host in ``silent`` is not asked again: each of its media would wait out the probe's
        deadline in turn, thirty images a minute of the feed's budget. Its media keep what the
        feed said, as after a probe that got no answer, and are probed at the next read.
        """
        found = self.cache.get(media.url)
        host = urlsplit(media.url).hostname or ""
        if found is None and host in silent:
            why = f"not probed: {host} gave an earlier probe of this feed no answer"
            return applied(media, Probe(media.url, self.clock(), error=why, unanswered=True))
        if found is None:
            found = probe(
                media.url, self.client, allow_private=private, limits=self.limits, now=self.clock()
            )
            if found.unanswered:
                silent.add(host)
            if not WATCHDOG.ending:  # a probe a stop cut off tells nothing of the URL
                self.cache.put(found)
            log.debug("event=media-probed url=%s type=%s length=%s error=%s",
                      display(media.url), found.mime_type, found.length, found.error)  # fmt: skip
        return applied(media, found)

    def _converted(
        self,
        item: Item,
        pictures: Sequence[ImageRule],
        thumbnails: Sequence[ImageRule],
        private: bool,
    ) -> tuple[Item, list[str]]:
        """Replace an image, and a thumbnail, that a rule refuses with JPEGs made to fit all."""
        notes: list[str] = []
        image, thumb = item.image, item.thumbnail
        if image is not None and _refused(image, pictures):
            image = self._convert(image, strictest(pictures), private, notes, "image")
        if thumb is not None and _refused(thumb, thumbnails):
            thumb = self._convert(thumb, strictest(thumbnails), private, notes, "thumbnail")
        return replace(item, image=image, thumbnail=thumb), notes

    def _video_thumbnail(
        self, item: Item, thumbnails: Sequence[ImageRule], private: bool
    ) -> tuple[Item, list[str]]:
        """Convert a video's thumbnail, or the picture that stands in for one, to fit.

        The result is the item's thumbnail: as its picture it would make an ``auto`` item a
        picture."""
        notes: list[str] = []
        what = "thumbnail" if item.thumbnail is not None else "image"
        media = item.thumbnail if item.thumbnail is not None else item.image
        if media is None or not thumbnails or not _refused(media, thumbnails):
            return item, notes
        made = self._convert(media, strictest(thumbnails), private, notes, what)
        return replace(item, thumbnail=made), notes

    def _convert(
        self, media: Media, rule: ImageRule, private: bool, notes: list[str], what: str
    ) -> Media:
        """Return the stored JPEG of ``media`` for ``rule``, making it if needed."""
        assert self.store is not None
        from poster.media.convert import to_jpeg  # Pillow loads only when an image needs it

        name = self.store.name(media.url, rule)
        stored = self.store.find(name)
        try:
            if stored is None:
                made = to_jpeg(self._download(media.url, private), rule, media.url)
                stored = self._keep(media.url, name, made.data, made.width, made.height)
        except MediaError as exc:
            log.warning("event=media-not-converted url=%s error=%s", display(media.url), exc)
            notes.append(f"{what} is {describe(media)}: not converted: {exc}")
            return media
        notes.append(f"{what} is {describe(media)}: converted")
        return stored.media(media.title)

    def _keep(self, url: str, name: str, data: bytes, width: int, height: int) -> StoredFile:
        """Keep a converted image; a folder that cannot take it (a full disk) is a MediaError."""
        assert self.store is not None
        try:
            return self.store.put(name, data, width, height)
        except OSError as exc:
            why = f"cannot be kept in {self.store.folder} ({exc.strerror or exc})"
            raise MediaError(url, f"{why}; check that folder's room and rights") from exc

    def _download(self, url: str, private: bool) -> bytes:
        """Return the body of ``url``, at most ``DOWNLOAD_MAX`` bytes, within the deadline."""
        deadline = time.monotonic() + self.limits.deadline
        try:
            with follow(url, self.client, {}, private, self.limits, deadline) as response:
                if response is None or response.status_code != 200:
                    status = "too many redirects" if response is None else response.status_code
                    raise MediaError(url, f"cannot download it ({status})")
                return _capped(response, url, deadline)
        except DeadlineExceeded as exc:
            raise MediaError(url, f"not downloaded within {self.limits.deadline:g}s") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise MediaError(url, f"cannot download it ({type(exc).__name__})") from exc


def _is_video(item: Item, feed: FeedConfig, kinds: Sequence[MediaAware]) -> bool:
    """Tell whether the item goes out as a video to a kind, its picture only a thumbnail.

    Converting its picture must not make an ``auto`` item that is a video a picture instead:
    an item carries one picture to all its destinations, so a gateway beside the channel then
    gets the picture as the feed gave it.
    """
    if feed.type == "video":
        return True
    return feed.type == "auto" and any(kind.choose_type(item, feed) == "video" for kind in kinds)


def _capped(response: httpx.Response, url: str, deadline: float) -> bytes:
    """Read a body up to ``DOWNLOAD_MAX`` bytes, stopping at the deadline."""
    body = bytearray()
    for chunk in response.iter_raw():
        body += chunk
        if len(body) > DOWNLOAD_MAX:
            raise MediaError(url, f"image is over the {DOWNLOAD_MAX:,} byte download cap")
        if time.monotonic() > deadline:
            raise MediaError(url, "not downloaded within its deadline")
    return bytes(body)


def applied(media: Media, found: Probe) -> Media:
    """Return ``media`` as the probe saw it: its real type and size, or why it is missing.

    A probe that failed on the way (timeout, network, refused address) leaves the feed's word.
    """
    if found.missing:
        return replace(media, probed=True, failed=found.error)
    if found.error is not None:
        return media
    return replace(
        media,
        mime_type=found.mime_type or media.mime_type,
        length=found.length,
        width=found.width,
        height=found.height,
        probed=True,
    )


def _with_media(item: Item, change: Callable[[Media], Media]) -> Item:
    """Return ``item`` with its image, thumbnail and first enclosures changed."""
    image = change(item.image) if item.image is not None else None
    thumb = change(item.thumbnail) if item.thumbnail is not None else None
    head = tuple(change(media) for media in item.enclosures[:ENCLOSURES])
    rest = item.enclosures[ENCLOSURES:]
    return replace(item, image=image, thumbnail=thumb, enclosures=head + rest)


def _refused(media: Media, rules: Sequence[ImageRule]) -> bool:
    """Tell whether ``media`` can be converted and one of ``rules`` does not take it as it is."""
    return bool(rules) and _convertible(media) and not all(rule.fits(media) for rule in rules)


def _convertible(media: Media) -> bool:
    """Tell whether ``media`` is a probed, reachable image of a type poster can decode."""
    return media.probed and not media.failed and (media.mime_type or "") in (
        "image/jpeg", "image/png", "image/gif", "image/webp",
    )  # fmt: skip


def _private_ok(feed: FeedConfig) -> bool:
    """Tell whether a feed's media may be on non-public addresses: it allows it, or is itself."""
    return feed.allow_private or _private_source(feed.url)


@functools.lru_cache(maxsize=4096)
def _private_source(url: str) -> bool:
    """Tell whether the feed at ``url`` is not on the public network, or is a local file.

    Asked for every item to post, and the same for all of a feed's: worked out once per URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return True  # a local file's media are as trusted as the file
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return not is_public(ipaddress.ip_address(host))
    except ValueError:
        return False
