"""Count the items with an image that become pictures before and after media probing, and its cost.

Run as ``python bench/media.py [--new N]``. It reads every feed of the feedparser corpus
(../shared/corpus/feedparser-tests) and the shipped samples, and for each item with an image
decides "picture or not" three ways: by the rules before probing (the URL's ending or the
declared type, and the declared length), after probing, and after probing with conversion on.
The image URLs point to a local server instead, which answers each with a stand-in image of the
type and size the feed declared (a JPEG where it declared no image type), so it runs offline.
Then it measures the probe's cost: a warm pass over the same items (cached: no request) and an
update pass where N items are new (requests and milliseconds per new item).
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from PIL import Image

from poster.config import Config, FeedConfig, load_config
from poster.destinations.viber.kind import KIND
from poster.destinations.viber.typechoice import PICTURE
from poster.errors import ParseError
from poster.fetch.feed import make_client
from poster.media.policy import type_of
from poster.media.setup import media_stage
from poster.models import FetchResult, Item, Media, Validators
from poster.parse import parse
from poster.select import POST, Decision

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "feedparser-tests"
STAND_IN_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
UNSTATED_LENGTH = 60_000
"""The size of a stand-in whose feed declared none: a typical news photo."""
SERVED_MAX = 21_000_000
"""The most of a stand-in's body ever sent: past the 20 MB download cap, nothing more is read."""
_INDEXED = re.compile(r"^/(\d+)(/.*)?$")


@dataclass(frozen=True)
class StandIn:
    """What the local server answers for one image: a format and a total size."""

    fmt: str
    length: int


@dataclass(frozen=True)
class Counts:
    """How many items with an image became pictures, each way, out of how many."""

    items: int
    before: int
    before_taken: int
    """Of ``before``, the pictures the API takes: a JPEG of at most 1 MB at a .jpg/.jpeg URL."""
    probed: int
    converted: int
    assumed_jpeg: int


def old_picture(image: Media) -> bool:
    """Tell whether the rules before probing made ``image`` a picture (poster at e8278a4^).

    A JPEG by its declared type, else by the URL's ending, at an http(s) URL of at most 2,000
    characters, with a declared length, if any, of at most 1 MB.
    """
    if image.mime_type:
        jpeg = image.mime_type.lower() in ("image/jpeg", "image/jpg", "image/pjpeg")
    else:
        jpeg = image.url.split("?", 1)[0].split("#", 1)[0].lower().endswith((".jpg", ".jpeg"))
    try:
        parts = urlsplit(image.url)
    except ValueError:
        return False
    web = len(image.url) <= 2000 and parts.scheme in ("http", "https") and bool(parts.netloc)
    sized = image.length is None or 0 < image.length <= 1_000_000
    return jpeg and web and sized


Group = tuple[FeedConfig, list[Item]]
"""A feed, its type made ``auto`` so every picture counts, and its items with an image."""


def read_items() -> list[Group]:
    """Return every feed of the corpus and the shipped samples with its items with an image."""
    feeds = [
        (FeedConfig(name=path.name, url=""), path)
        for path in sorted(CORPUS.rglob("*"))
        if path.suffix in (".xml", ".json")
    ]
    shipped = load_config(ROOT / "feeds.toml")
    for feed in {f.url: f for f in shipped.feeds}.values():
        feeds.append((feed, Path(url2pathname(urlsplit(feed.url).path))))
    groups = []
    for feed, path in feeds:
        items = [i for i in _items(path.read_bytes(), feed) if i.image is not None]
        if items:
            groups.append((replace(feed, type="auto"), items))
    return groups


def _items(body: bytes, feed: FeedConfig) -> list[Item]:
    """Return the items of one document, none when it is not a feed."""
    result = FetchResult(feed=feed.name, url="", status=200, body=body, validators=Validators())
    try:
        return list(parse(result, feed).items)
    except ParseError:
        return []


def stand_in(image: Media) -> StandIn:
    """Return the stand-in for ``image``: its declared type and size, a JPEG where none fits."""
    fmt = STAND_IN_TYPES.get(type_of(image) or "", "")
    length = image.length if image.length is not None and image.length > 0 else UNSTATED_LENGTH
    return StandIn(fmt or "", length)


def as_served(image: Media) -> Media:
    """Return ``image`` as a probe of its stand-in finds it."""
    served = stand_in(image)
    mime_type = f"image/{(served.fmt or 'JPEG').lower()}"
    return replace(image, mime_type=mime_type, length=served.length, probed=True)


def encoded(fmt: str) -> bytes:
    """Return a 640x480 image in ``fmt``."""
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 120, 160)).save(out, fmt)
    return out.getvalue()


class ImageServer(ThreadingHTTPServer):
    """Serve stand-ins at /INDEX/original-path, ranged requests too, and count requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stand_ins: list[StandIn] = []
        self.requests = 0
        self.heads = {fmt: encoded(fmt) for fmt in STAND_IN_TYPES.values()}

    @property
    def base(self) -> str:
        """Return the server's base URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, image: Media) -> Media:
        """Serve a stand-in for ``image`` and return it moved here, its path's ending kept."""
        try:
            parts = urlsplit(image.url)
        except ValueError:
            return image
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return image  # no server would be asked for it either
        self.stand_ins.append(stand_in(image))
        query = f"?{parts.query}" if parts.query else ""
        path = parts.path if parts.path.startswith("/") else "/" + parts.path
        return replace(image, url=f"{self.base}/{len(self.stand_ins) - 1}{path}{query}")

    def body(self, index: int) -> tuple[bytes, int]:
        """Return the first bytes of stand-in ``index`` that are ever sent, and its whole size."""
        wanted = self.stand_ins[index]
        head = self.heads[wanted.fmt or "JPEG"]
        size = max(wanted.length, len(head))
        return head + bytes(min(size, SERVED_MAX) - len(head)), size


class _Handler(BaseHTTPRequestHandler):
    """Answer GET with a stand-in, or 206 with its start when a Range asks for one."""

    server: ImageServer

    def do_GET(self) -> None:
        self.server.requests += 1
        found = _INDEXED.match(urlsplit(self.path).path)
        if found is None or int(found.group(1)) >= len(self.server.stand_ins):
            self.send_error(404)
            return
        data, size = self.server.body(int(found.group(1)))
        ranged = re.fullmatch(r"bytes=0-(\d+)", self.headers.get("Range", ""))
        if ranged:
            data = data[: int(ranged.group(1)) + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes 0-{len(data) - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: thousands of requests are expected."""


@contextmanager
def image_server() -> Iterator[ImageServer]:
    """Run an ``ImageServer`` in a thread for the duration."""
    server = ImageServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def pictures(config: Config, state: Path | None, groups: Sequence[Group]) -> tuple[int, float]:
    """Run the media stage over each feed's items once; return the pictures made, and seconds.

    Like a pass, it ends by writing the probe cache, which the next pass reads.
    """
    made = 0
    with make_client() as client:
        stage = media_stage(config, state, client)
        started = time.perf_counter()
        for feed, items in groups:
            decided = stage.prepare(feed, [Decision(item, POST) for item in items], [KIND])
            made += sum(KIND.choose_type(d.item, feed) == "picture" for d in decided)
        stage.flush()
        elapsed = time.perf_counter() - started
    return made, elapsed


def moved(server: ImageServer, groups: Sequence[Group]) -> list[Group]:
    """Return the feeds with their images served by ``server``, each as a new URL."""
    return [
        (feed, [_only_image(i, server) for i in items if i.image is not None])
        for feed, items in groups
    ]


def _only_image(item: Item, server: ImageServer) -> Item:
    """Return ``item`` with its image served by ``server``, and no other media to probe."""
    assert item.image is not None
    return replace(item, image=server.add(item.image), thumbnail=None, enclosures=())


def measure(new: int) -> list[str]:
    """Count and time everything; return the report's lines."""
    groups = read_items()
    items = [item for _, found in groups for item in found]
    config = load_config(ROOT / "feeds.toml")
    with image_server() as server, tempfile.TemporaryDirectory() as folder:
        served = moved(server, groups)
        converting = replace(config, media=replace(config.media, public_url=server.base + "/m"))
        probed, _ = pictures(config, Path(folder) / "probing", served)
        state = Path(folder) / "converting"
        start = server.requests
        converted, cold = pictures(converting, state, served)
        cold_requests = server.requests - start
        old = [i.image for i in items if i.image is not None and old_picture(i.image)]
        counts = Counts(
            len(items),
            len(old),
            sum(PICTURE.fits(as_served(image)) for image in old),
            probed,
            converted,
            sum(not s.fmt for s in server.stand_ins),
        )
        start = server.requests
        _, warm = pictures(converting, state, served)
        warm_requests = server.requests - start
        fresh = moved(server, [(FeedConfig(name="new", url=""), items[:new])])
        start = server.requests
        _, update = pictures(converting, state, served + fresh)
        update_requests = server.requests - start
    return report(
        counts, (cold, cold_requests), (warm, warm_requests), (update, update_requests), new
    )


def report(
    counts: Counts,
    cold: tuple[float, int],
    warm: tuple[float, int],
    update: tuple[float, int],
    new: int,
) -> list[str]:
    """Return the figures as Markdown lines."""

    def share(n: int) -> str:
        return f"{n:,} ({n / counts.items:.0%})"

    return [
        f"Items with an image: {counts.items:,} (corpus and samples); stand-ins of no declared "
        f"image type, served as JPEG: {counts.assumed_jpeg:,}",
        "",
        "| rules | became pictures |",
        "| --- | ---: |",
        "| before probing (URL ending or declared type, declared length) "
        f"| {share(counts.before)} |",
        f"| of which the API takes (a JPEG of at most 1 MB at a .jpg/.jpeg URL) "
        f"| {share(counts.before_taken)} |",
        f"| probed | {share(counts.probed)} |",
        f"| probed, with conversion (`[media] public_url`) | {share(counts.converted)} |",
        "",
        "| pass | media requests | time |",
        "| --- | ---: | ---: |",
        f"| cold: every image new | {cold[1]:,} | {cold[0]:.2f} s |",
        f"| warm: nothing new | {warm[1]:,} | {warm[0] * 1000:.0f} ms |",
        f"| update: {new} new items | {update[1]:,} ({update[1] / new:.1f} per new item) "
        f"| {update[0] * 1000:.0f} ms ({update[0] * 1000 / new:.1f} ms per new item) |",
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit 2 when the corpus is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new", type=int, default=100, help="new items in the update pass")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"bench/media.py: no feed corpus at {CORPUS}", file=sys.stderr)
        return 2
    print("\n".join(measure(max(1, args.new))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
