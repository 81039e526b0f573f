"""Probe media over real local servers, convert what a channel refuses, and serve the result."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from dripserver import DripServer
from feedserver import FeedServer, Route
from PIL import Image
from support.blocking import finished

from poster.config import FeedConfig
from poster.daemon.listener import WebhookReceiver
from poster.destinations.decisiontelecom.kind import KIND as DT
from poster.destinations.smsby.kind import KIND as SMSBY
from poster.destinations.viber import typechoice as viber
from poster.destinations.viber.kind import KIND
from poster.errors import StateError
from poster.fetch.addresses import AddressPolicy
from poster.fetch.feed import make_client
from poster.fetch.transport import StdlibTransport
from poster.media import stage as stage_module
from poster.media.cache import ProbeCache
from poster.media.jpegstore import MediaStore, serve
from poster.media.probe import Probe, ProbeLimits, probe
from poster.media.sniff import sniff
from poster.media.stage import MediaStage, applied
from poster.models import Action, Item, Media
from poster.select import Decision


def image(
    fmt: str, size: tuple[int, int] = (64, 48), *, noise: bool = False, **save: object
) -> bytes:
    """Return an image of ``size`` encoded as ``fmt``: flat colour, or random noise."""
    if noise:
        picture = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        picture = Image.new("RGBA" if fmt == "PNG" else "RGB", size, (200, 40, 40))
    out = io.BytesIO()
    picture.save(out, fmt, **save)
    return out.getvalue()


def mp4(length: int) -> bytes:
    """Return an MP4-looking body of ``length`` bytes (an ftyp box, then zeros)."""
    return (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2").ljust(length, b"\x00")


def client(public: bool = False) -> object:
    """Return a feed client; ``public`` makes 127.0.0.1 count as a public address."""
    policy = AddressPolicy(public=lambda address: public)
    return make_client(transport=StdlibTransport(policy=policy))


LIMITS = ProbeLimits(timeout=1.0, deadline=1.0)


def feed(**keys: object) -> FeedConfig:
    """Return a local feed config (its media may be on 127.0.0.1)."""
    return FeedConfig(name="f", url="http://127.0.0.1/feed", **keys)  # type: ignore[arg-type]


def wanted(item: Item) -> Decision:
    """Return the decision to post ``item``."""
    return Decision(item, Action.POST)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


# Bodies are made when their test runs (here and below): encoding an image loads every Pillow
# plugin, which each worker would otherwise pay for while only collecting the tests.
@pytest.mark.parametrize(
    ("made", "expected"),
    [
        pytest.param(partial(image, "JPEG", (640, 480)), ("image/jpeg", 640, 480), id="jpeg"),
        pytest.param(partial(image, "PNG", (300, 200)), ("image/png", 300, 200), id="png"),
        pytest.param(partial(image, "GIF", (30, 20)), ("image/gif", 30, 20), id="gif"),
        pytest.param(partial(image, "WEBP", (123, 45)), ("image/webp", 123, 45), id="webp-lossy"),
        pytest.param(
            partial(image, "WEBP", (77, 66), lossless=True),
            ("image/webp", 77, 66),
            id="webp-lossless",
        ),
        pytest.param(partial(mp4, 100), ("video/mp4", None, None), id="mp4"),
        pytest.param(partial(bytes, b"<html>"), (None, None, None), id="html"),
        pytest.param(
            partial(bytes, b"\x1a\x45\xdf\xa3\x01"), ("video/webm", None, None), id="webm"
        ),
    ],
)
def test_sniff_tells_type_and_size_from_magic_bytes(
    made: Callable[[], bytes], expected: tuple
) -> None:
    found = sniff(made())
    assert (found.mime_type, found.width, found.height) == expected


def test_probe_believes_bytes_over_a_lying_content_type(server: FeedServer) -> None:
    png = image("PNG", (500, 400))
    server.routes["/photo.jpg"] = (200, {"Content-Type": "image/jpeg"}, png)
    found = probe(server.url("/photo.jpg"), client(), allow_private=True, limits=LIMITS, now=1.0)
    assert (found.mime_type, found.length, found.width, found.height) == (
        "image/png",
        len(png),
        500,
        400,
    )
    assert server.requests[0].headers["range"] == "bytes=0-65535"


def test_an_error_page_served_as_a_picture_is_no_picture(server: FeedServer) -> None:
    page = b"<html><body>Image not found</body></html>"
    server.routes["/photo.jpg"] = (200, {"Content-Type": "image/jpeg"}, page)
    server.routes["/clip"] = (200, {"Content-Type": "video/mp4"}, page)
    found = probe(server.url("/photo.jpg"), client(), allow_private=True, limits=LIMITS, now=1.0)
    assert (found.mime_type, found.missing) == (None, True)
    assert found.error == "not a picture: its bytes are no JPEG (Content-Type said image/jpeg)"
    media = applied(Media(server.url("/photo.jpg"), "image/jpeg"), found)
    assert media.failed == found.error
    other = probe(server.url("/clip"), client(), allow_private=True, limits=LIMITS, now=1.0)
    assert (other.mime_type, other.missing) == (None, True)
    assert other.error == "not a video: its bytes are HTML or XML (Content-Type said video/mp4)"
    assert applied(Media(server.url("/clip"), "video/mp4", 100), other).failed == other.error


def test_a_webm_served_as_mp4_is_no_mp4(server: FeedServer) -> None:
    webm = b"\x1a\x45\xdf\xa3" + bytes(200)
    server.routes["/clip.mp4"] = (200, {"Content-Type": "video/mp4"}, webm)
    found = probe(server.url("/clip.mp4"), client(), allow_private=True, limits=LIMITS, now=1.0)
    assert (found.mime_type, found.length, found.error) == ("video/webm", len(webm), None)
    assert not applied(Media(server.url("/clip.mp4"), "video/mp4", len(webm)), found).is_mp4


def test_probe_takes_the_whole_size_from_content_range(server: FeedServer) -> None:
    head = mp4(65536)
    headers = {"Content-Type": "video/mp4", "Content-Range": "bytes 0-65535/61000000"}
    server.routes["/v"] = Route(206, headers, head, validators=False)
    found = probe(server.url("/v"), client(), allow_private=True, limits=LIMITS, now=1.0)
    assert (found.mime_type, found.length) == ("video/mp4", 61_000_000)


def test_probe_counts_a_body_without_a_stated_size(server: FeedServer) -> None:
    body = image("JPEG", (900, 900), noise=True)
    server.routes["/x"] = Route(200, {}, body, chunked=True)
    found = probe(server.url("/x"), client(), allow_private=True, limits=LIMITS, now=1.0)
    assert (found.mime_type, found.length) == ("image/jpeg", len(body))


@pytest.mark.parametrize(
    "url",
    ["http://xn--/a.jpg", "http://XN--a.example/a.jpg", "http://e.org:" + "9" * 50 + "/a.jpg"],
)
def test_a_media_url_no_request_can_go_to_is_a_failed_probe_not_an_error(url: str) -> None:
    found = probe(url, client(), allow_private=True, limits=LIMITS, now=1.0)
    assert found.error is not None and "failed (InvalidURL)" in found.error


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://e.org/a.jpg"])
def test_media_redirected_off_http_is_missing(server: FeedServer, target: str) -> None:
    server.routes["/redirected.jpg"] = (302, {"Location": target}, b"")
    url = server.url("/redirected.jpg")
    found = probe(url, client(), allow_private=True, limits=LIMITS, now=1.0)
    assert found.missing and found.error is not None and "is not http(s)" in found.error


def test_probe_refuses_a_redirect_from_public_to_private() -> None:
    with FeedServer("127.0.0.2") as public, FeedServer() as internal:
        internal.routes["/secret.jpg"] = (200, {}, image("JPEG"))
        public.routes["/a.jpg"] = (302, {"Location": internal.url("/secret.jpg")}, b"")
        only_2 = AddressPolicy(public=lambda address: str(address) == "127.0.0.2")
        feeds = make_client(transport=StdlibTransport(policy=only_2))
        found = probe(public.url("/a.jpg"), feeds, allow_private=False, limits=LIMITS, now=1.0)
    assert found.error is not None and "non-public" in found.error
    assert internal.requests == []


def test_probe_of_a_slow_server_stops_at_its_deadline() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    with DripServer(head, b"\xff" * 1000, interval=0.05) as slow:
        started = time.monotonic()
        limits = ProbeLimits(timeout=1.0, deadline=0.5)
        found = probe(slow.url("/a.jpg"), client(), allow_private=True, limits=limits, now=1.0)
    assert time.monotonic() - started < 2.0
    assert found.error is not None and "deadline" in found.error


def stage(tmp_path: Path, server: FeedServer | None = None, **kw: object) -> MediaStage:
    """Return a media stage with its cache and, when asked, a store in ``tmp_path``."""
    cache = ProbeCache(tmp_path / "probes.json", time.time)
    store = (
        MediaStore(tmp_path / "files", "https://poster.test/media", time.time)
        if kw.pop("store", True)
        else None
    )
    return MediaStage(client(), cache, store, LIMITS, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "made"),
    [
        pytest.param("/p.png", partial(image, "PNG", (800, 600)), id="png"),
        pytest.param("/p.webp", partial(image, "WEBP", (800, 600)), id="webp"),
        pytest.param("/p.gif", partial(image, "GIF", (80, 60)), id="gif"),
        pytest.param(
            "/big.jpg",
            partial(image, "JPEG", (1800, 1800), noise=True, quality=98),
            id="3mb-jpeg",
        ),
        pytest.param("/photo", partial(image, "JPEG", (300, 200)), id="no-extension"),
    ],
)
def test_images_a_channel_refuses_are_converted_into_pictures(
    tmp_path: Path, server: FeedServer, path: str, made: Callable[[], bytes]
) -> None:
    server.routes[path] = (200, {"Content-Type": "application/octet-stream"}, made())
    item = Item("k", "t", image=Media(server.url(path)))
    # Today's choice: a .jpg URL passes unseen (and fails on the phone); the others are text.
    assert KIND.choose_type(item, feed()) == ("picture" if path.endswith(".jpg") else "text")
    [decided] = stage(tmp_path).prepare(feed(), [wanted(item)], (KIND,))
    assert KIND.choose_type(decided.item, feed()) == "picture"
    converted = decided.item.image
    assert converted is not None and converted.url.startswith("https://poster.test/media/")
    assert converted.url.endswith(".jpeg") and converted.length <= viber.PICTURE_MAX_BYTES
    assert decided.reason.startswith("image is ") and decided.reason.endswith(": converted")
    data = (tmp_path / "files" / converted.url.rsplit("/", 1)[1]).read_bytes()
    assert sniff(data).mime_type == "image/jpeg" and len(data) == converted.length


def test_a_converted_thumbnail_fits_100_kb_and_400_pixels(
    tmp_path: Path, server: FeedServer
) -> None:
    server.routes["/t.png"] = (200, {}, image("PNG", (1200, 900), noise=True))
    item = Item("k", image=Media(server.url("/t.png")), thumbnail=Media(server.url("/t.png")))
    [decided] = stage(tmp_path).prepare(feed(), [wanted(item)], (KIND,))
    thumb = decided.item.thumbnail
    assert thumb is not None and thumb.length <= viber.THUMBNAIL_MAX_BYTES
    assert max(thumb.width or 0, thumb.height or 0) <= 400


@pytest.mark.parametrize(
    ("kind", "thumbnailed"),
    [
        pytest.param("auto", True, id="auto-with-thumbnail"),
        pytest.param("auto", False, id="auto-picture-stands-in"),
        pytest.param("video", True, id="video-with-thumbnail"),
    ],
)
def test_a_video_stays_a_video_and_its_still_is_made_its_thumbnail(
    tmp_path: Path, server: FeedServer, kind: str, thumbnailed: bool
) -> None:
    server.routes["/clip.mp4"] = (200, {"Content-Type": "video/mp4"}, mp4(300_000))
    server.routes["/still.png"] = (200, {}, image("PNG", (1200, 900), noise=True))
    still = Media(server.url("/still.png"))
    clip = Media(server.url("/clip.mp4"), "video/mp4", 300_000)
    item = Item("k", enclosures=(clip,), **{"thumbnail" if thumbnailed else "image": still})
    chosen = feed(type=kind)
    assert KIND.choose_type(item, chosen) == "video"
    [decided] = stage(tmp_path).prepare(chosen, [wanted(item)], (KIND, DT))
    assert KIND.choose_type(decided.item, chosen) == "video", "a gateway beside changes nothing"
    made = decided.item.thumbnail
    assert made is not None and made.url.startswith("https://poster.test/media/")
    assert made.length is not None and made.length <= viber.THUMBNAIL_MAX_BYTES
    assert max(made.width or 0, made.height or 0) <= 400
    assert viber.thumbnail_url(decided.item, or_image=True) == made.url
    assert decided.reason.startswith(f"{'thumbnail' if thumbnailed else 'image'} is PNG")
    assert ": converted" in decided.reason


def test_a_decompression_bomb_is_refused_before_decoding(
    tmp_path: Path, server: FeedServer
) -> None:
    # A palette image: saving it as GIF quantizes nothing, which for 30 million pixels takes 2 s.
    out = io.BytesIO()
    Image.new("P", (6000, 5000)).save(out, "GIF")
    bomb = out.getvalue()
    server.routes["/bomb.gif"] = (200, {}, bomb)
    item = Item("k", image=Media(server.url("/bomb.gif")))
    [decided] = stage(tmp_path).prepare(feed(), [wanted(item)], (KIND,))
    assert "over the 25,000,000 pixel cap" in decided.reason
    assert KIND.choose_type(decided.item, feed()) == "text"
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").glob("*.jpeg"))


def test_a_video_without_enclosure_length_is_posted_with_its_probed_size(
    tmp_path: Path, server: FeedServer
) -> None:
    server.routes["/clip.mp4"] = (200, {"Content-Type": "video/mp4"}, mp4(200_000))
    item = Item("k", enclosures=(Media(server.url("/clip.mp4"), "video/mp4"),))
    assert KIND.choose_type(item, feed()) == "text"
    [decided] = stage(tmp_path, store=False).prepare(feed(), [wanted(item)], (KIND,))
    assert KIND.choose_type(decided.item, feed()) == "video"
    assert decided.item.enclosures[0].length == 200_000


def test_an_oversized_video_falls_back_and_says_why(tmp_path: Path, server: FeedServer) -> None:
    headers = {"Content-Range": "bytes 0-65535/61000000"}
    server.routes["/big.mp4"] = Route(206, headers, mp4(65536), validators=False)
    item = Item(
        "k", link="https://news.test/1", enclosures=(Media(server.url("/big.mp4"), length=1000),)
    )
    [decided] = stage(tmp_path, store=False).prepare(feed(fallback="url"), [wanted(item)], (KIND,))
    assert decided.reason == "video is MP4, 61 MB: over the 50 MB limit, posted as url"


def test_a_warm_pass_makes_no_probe_requests(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/a.jpg"] = (200, {}, image("JPEG"))
    item = Item("k", image=Media(server.url("/a.jpg")))
    first = stage(tmp_path, store=False)
    first.prepare(feed(), [wanted(item)], (KIND,))
    first.flush()  # as a pass does at its end
    assert len(server.requests) == 1
    [again] = stage(tmp_path, store=False).prepare(feed(), [wanted(item)], (KIND,))  # a new process
    assert len(server.requests) == 1
    assert again.item.image is not None and again.item.image.probed


def test_the_probe_cache_forgets_failures_after_their_lifetime_and_stays_bounded(
    tmp_path: Path,
) -> None:
    from poster.media.probe import Probe

    now = [1000.0]
    cache = ProbeCache(tmp_path / "p.json", lambda: now[0], max_entries=2)
    cache.put(Probe("a", now[0], error="HTTP 404", missing=True))
    cache.put(Probe("b", now[0], "image/jpeg", 10))
    assert cache.get("a") is not None
    now[0] += 3601
    assert cache.get("a") is None and cache.get("b") is not None
    cache.put(Probe("c", now[0]))
    assert len(cache) == 2 and cache.get("a") is None


def test_the_probe_cache_is_written_at_most_once_a_minute_until_flushed(tmp_path: Path) -> None:
    from poster.media.cache import SAVE_EVERY
    from poster.media.probe import Probe

    now = [1000.0]
    path = tmp_path / "p.json"
    cache = ProbeCache(path, lambda: now[0])
    cache.put(Probe("a", now[0], "image/jpeg", 10))
    cache.save(unless_within=SAVE_EVERY)  # as after each feed: too soon after opening
    assert not path.exists()
    now[0] += SAVE_EVERY
    cache.save(unless_within=SAVE_EVERY)
    assert ProbeCache(path, lambda: now[0]).get("a") is not None
    cache.put(Probe("b", now[0], "image/jpeg", 20))
    cache.save(unless_within=SAVE_EVERY)
    assert ProbeCache(path, lambda: now[0]).get("b") is None
    cache.save()  # the end of the pass
    assert ProbeCache(path, lambda: now[0]).get("b") is not None


def test_the_store_serves_only_its_files_with_caching_headers(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, "https://poster.test/media", time.time)
    name = store.name("https://x.test/a.png", viber.PICTURE)
    store.put(name, image("JPEG"), 64, 48)
    status, headers, _ = serve(tmp_path, "GET", name, {})
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert "immutable" in headers["Cache-Control"] and headers["ETag"]
    assert serve(tmp_path, "GET", name, {"If-None-Match": headers["ETag"]})[0] == 304
    for other in (".key", "", "..%2f.key", name.replace(".jpeg", ".png")):
        assert serve(tmp_path, "GET", other, {})[0] == 404


def test_the_store_keeps_within_its_cap(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, "https://poster.test/media", time.time, max_bytes=25_000)
    names = [store.name(f"https://x.test/{n}", viber.PICTURE) for n in range(4)]
    for index, name in enumerate(names):
        store.put(name, b"\xff\xd8\xff" + bytes(10_000), 1, 1)
        stamp = time.time() - 100 + index
        os.utime(tmp_path / name, (stamp, stamp))
    kept = sorted(p.name for p in tmp_path.glob("*.jpeg"))
    assert kept == sorted(names[-2:])


def test_the_listener_serves_converted_media_with_head(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, "https://poster.test/media", time.time)
    name = store.name("https://x.test/a.png", viber.PICTURE)
    data = image("JPEG")
    store.put(name, data, 64, 48)
    with WebhookReceiver("t" * 20, port=0) as receiver:
        receiver.add_files("/media/", lambda m, n, h: serve(tmp_path, m, n, h))
        base = f"http://127.0.0.1:{receiver.port}/media/"
        got = httpx.get(base + name)
        head = httpx.head(base + name)
        listing = httpx.get(base)
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-length"] == str(len(data))
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    assert head.content == b"" and listing.status_code == 404


@pytest.mark.parametrize(
    ("path", "made"),
    [
        pytest.param("/big.png", partial(image, "PNG", (800, 600)), id="png-over-400"),
        pytest.param("/p.webp", partial(image, "WEBP", (300, 200)), id="webp"),
        pytest.param("/p.gif", partial(image, "GIF", (80, 60)), id="gif"),
    ],
)
def test_images_a_gateway_refuses_are_converted_to_a_400_pixel_jpeg(
    tmp_path: Path, server: FeedServer, path: str, made: Callable[[], bytes]
) -> None:
    server.routes[path] = (200, {}, made())
    item = Item("k", "t", link="https://example.com/a", image=Media(server.url(path)))
    [decided] = stage(tmp_path).prepare(feed(), [wanted(item)], (DT,))
    assert DT.choose_type(decided.item, feed()) == "picture"
    converted = decided.item.image
    assert converted is not None and converted.url.startswith("https://poster.test/media/")
    assert max(converted.width or 0, converted.height or 0) <= 400
    assert decided.reason.endswith(": converted")


def test_without_a_public_url_an_oversized_image_goes_as_text_saying_why(
    tmp_path: Path, server: FeedServer
) -> None:
    server.routes["/big.png"] = (200, {}, image("PNG", (800, 600)))
    item = Item("k", "t", link="https://example.com/a", image=Media(server.url("/big.png")))
    assert DT.choose_type(item, feed()) == "picture"  # unprobed, its size is unknown
    [decided] = stage(tmp_path, store=False).prepare(feed(), [wanted(item)], (DT,))
    assert DT.choose_type(decided.item, feed()) == "text"
    assert decided.reason.startswith("image is PNG, ")
    assert decided.reason.endswith(" KB, 800x600: over 400x400, posted as text")


def test_smsby_takes_a_picture_within_800_pixels_and_converts_a_larger_one(
    tmp_path: Path, server: FeedServer
) -> None:
    # The document's refusal of a whole mailing: "Optimal image size 800x800 px".
    server.routes["/fits.jpg"] = (200, {}, image("JPEG", (800, 600)))
    server.routes["/big.jpg"] = (200, {}, image("JPEG", (1200, 900)))
    fits, big = (
        Item(n, "t", link="https://example.com/a", image=Media(server.url(f"/{n}.jpg")))
        for n in ("fits", "big")
    )
    [kept, as_text] = stage(tmp_path, store=False).prepare(
        feed(), [wanted(fits), wanted(big)], (SMSBY,)
    )
    assert SMSBY.choose_type(kept.item, feed()) == "picture"
    assert SMSBY.choose_type(as_text.item, feed()) == "text"
    assert as_text.reason.endswith(" KB, 1200x900: over 800x800, posted as text")
    [converted] = stage(tmp_path).prepare(feed(), [wanted(big)], (SMSBY,))
    assert SMSBY.choose_type(converted.item, feed()) == "picture"
    made = converted.item.image
    assert made is not None and made.url.startswith("https://poster.test/media/")
    assert (made.width, made.height) == (800, 600)


def test_a_feed_to_viber_and_a_gateway_gets_one_image_that_fits_both(
    tmp_path: Path, server: FeedServer
) -> None:
    server.routes["/p.jpg"] = (200, {}, image("JPEG", (900, 700)))
    item = Item("k", "t", link="https://example.com/a", image=Media(server.url("/p.jpg")))
    [decided] = stage(tmp_path).prepare(feed(), [wanted(item)], (KIND, DT, KIND))
    assert KIND.choose_type(decided.item, feed()) == "picture"
    assert DT.choose_type(decided.item, feed()) == "picture"
    image_ = decided.item.image
    assert image_ is not None and max(image_.width or 0, image_.height or 0) <= 400
    assert decided.reason.startswith("image is JPEG, ") and decided.reason.endswith(": converted")
    assert decided.reason.count("converted") == 1


def test_a_key_file_replaced_by_a_fifo_is_a_state_error_not_a_wait(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    os.mkfifo(tmp_path / "files" / ".key")
    refused = finished(
        lambda: MediaStore(tmp_path / "files", "https://poster.test/media", time.time)
    )
    assert isinstance(refused, StateError)
    assert "cannot be read (not a regular file); remove it" in str(refused)


def test_a_media_folder_that_cannot_be_made_is_a_state_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where the folder goes")
    with pytest.raises(StateError) as refused:
        MediaStore(tmp_path / "taken" / "files", "https://poster.test/media", time.time)
    assert str(refused.value) == (
        f"state file {tmp_path / 'taken'}: is not a folder; use --state-dir with a folder"
    )


def test_a_converted_image_that_cannot_be_kept_goes_unconverted_saying_why(
    tmp_path: Path, server: FeedServer
) -> None:
    server.routes["/p.png"] = (200, {"Content-Type": "image/png"}, image("PNG", (800, 600)))
    item = Item("k", "t", image=Media(server.url("/p.png")))
    media = stage(tmp_path)
    shutil.rmtree(tmp_path / "files")
    (tmp_path / "files").write_text("no longer a folder")  # as a full disk refuses the write
    [decided] = media.prepare(feed(), [wanted(item)], (KIND,))
    assert decided.item.image is not None and decided.item.image.url == server.url("/p.png")
    assert "not converted: " in decided.reason and "check that folder's room" in decided.reason


def test_a_probe_cache_that_cannot_be_written_is_only_probed_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "taken").write_text("a file where the folder goes")
    cache = ProbeCache(tmp_path / "taken" / "probes.json", time.time)
    cache.put(Probe("https://example.org/a.png", time.time(), "image/png", 10, 1, 1))
    with caplog.at_level(logging.WARNING):
        cache.save()
    assert "event=media-cache-unwritten" in caplog.text


def test_the_store_key_is_private_even_over_a_temporary_file_a_crash_left(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / ".key.tmp").write_bytes(b"half")
    (folder / ".key.tmp").chmod(0o644)
    MediaStore(folder, "https://poster.test/media", time.time)
    assert (folder / ".key").stat().st_mode & 0o777 == 0o600
    assert not (folder / ".key.tmp").exists()


@pytest.mark.parametrize(
    ("length", "shown"),
    [
        pytest.param(466, "PNG, 466 bytes", id="bytes"),
        pytest.param(1_500, "PNG, 2 KB", id="kilobytes"),
        pytest.param(1_800_000, "PNG, 1.8 MB", id="megabytes"),
        pytest.param(None, "PNG", id="unknown"),
    ],
)
def test_media_sizes_are_described_for_a_person(length: int | None, shown: str) -> None:
    from poster.media.policy import describe

    assert describe(Media("https://example.com/p.png", "image/png", length)) == shown


def test_a_preview_without_a_state_folder_converts_as_a_first_run_would(
    tmp_path: Path,
    server: FeedServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from poster.cli import main

    server.routes["/p.png"] = (200, {"Content-Type": "image/png"}, image("PNG", (800, 600)))
    server.routes["/feed.xml"] = (
        200,
        {"Content-Type": "application/rss+xml"},
        (
            '<rss version="2.0"><channel><title>F</title><item><title>Harbour</title>'
            "<guid>h1</guid><link>https://example.com/h1</link>"
            f'<enclosure url="{server.url("/p.png")}" type="image/png" length="1"/>'
            "</item></channel></rss>"
        ).encode(),
    )
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}", encoding="utf-8")
    (tmp_path / "feeds.toml").write_text(
        '[viber]\nfrom = "sender="\n'
        '[webhook]\nlisten = "127.0.0.1:9"\n'
        '[media]\npublic_url = "https://poster.test/media"\n'
        f'[[feeds]]\nname = "f"\nurl = "{server.url("/feed.xml")}"\nallow_private = true\n'
        'backlog = "all"\n',
        encoding="utf-8",
    )
    state = tmp_path / "state"
    monkeypatch.setenv("POSTER_VIBER_TOKEN", "preview-token")
    main(["-c", str(tmp_path / "feeds.toml"), "preview", "--json", "--state-dir", str(state)])
    [item] = json.loads(capsys.readouterr().out)["feeds"][0]["items"]
    assert item["reason"].endswith(": converted"), item["reason"]
    assert item["body"]["type"] == "picture"
    assert item["body"]["media"].startswith("https://poster.test/media/")
    assert not state.exists(), "the preview writes nothing"


def test_a_probe_cache_a_crash_left_empty_is_only_probed_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "probes.json"
    path.write_bytes(b"")  # the cache is not waited for on the disk: a crash may empty it
    with caplog.at_level(logging.WARNING):
        cache = ProbeCache(path, time.time)
    assert len(cache) == 0 and "probe-cache-unreadable" in caplog.text
    cache.put(Probe("https://img.example.org/a.jpg", time.time(), "image/jpeg", 10))
    cache.save()
    assert ProbeCache(path, time.time).get("https://img.example.org/a.jpg") is not None


def test_the_probe_cache_keeps_each_probe_as_a_row_of_its_fields(tmp_path: Path) -> None:
    path = tmp_path / "probes.json"
    cache = ProbeCache(path, time.time)
    row = ["https://img.example.org/a.jpg", 1.5, "image/jpeg", 10, 4, 3, None, False, False]
    probe = Probe(*row)  # type: ignore[arg-type]
    cache.put(probe)
    cache.save()
    saved = json.loads(path.read_bytes())
    assert saved == {"version": 1, "probes": [row]}
    assert ProbeCache(path, lambda: 2.0).get(probe.url) == probe
    # A file written before probes told an unanswered one from the rest still reads.
    path.write_text(json.dumps({"version": 1, "probes": [row[:-1]]}))
    assert ProbeCache(path, lambda: 2.0).get(probe.url) == probe


@pytest.mark.parametrize(
    ("url", "allowed", "private_ok"),
    [
        ("https://news.example.org/feed", False, False),
        ("https://news.example.org/feed", True, True),
        ("http://127.0.0.1:8080/feed", False, True),
        ("http://localhost/feed", False, True),
        ("http://10.1.2.3/feed", False, True),
        ("http://93.184.215.14/feed", False, False),
        ("file:///srv/feeds/news.xml", False, True),
    ],
)
def test_a_feeds_media_may_be_private_when_it_allows_it_or_is_itself(
    url: str, allowed: bool, private_ok: bool
) -> None:
    feed = FeedConfig(name="f", url=url, allow_private=allowed)
    assert stage_module._private_ok(feed) is private_ok
    assert stage_module._private_ok(feed) is private_ok  # worked out once per URL, same answer


def test_a_host_that_does_not_answer_is_probed_once_a_feed_not_once_an_image(
    tmp_path: Path, server: FeedServer
) -> None:
    for n in range(5):
        server.routes[f"/slow/{n}.jpg"] = Route(200, {}, image("JPEG", (80, 60)), delay=3.0)
    items = [
        Item(f"k{n}", "t", link="https://example.com/a", image=Media(server.url(f"/slow/{n}.jpg")))
        for n in range(5)
    ]
    probing = stage(tmp_path, store=False)
    started = time.monotonic()
    decided = probing.prepare(feed(), [wanted(i) for i in items], (KIND,))
    took = time.monotonic() - started
    asked = [r.path for r in server.requests if r.path.startswith("/slow/")]
    assert asked == ["/slow/0.jpg"], asked  # the rest wait for the next read
    assert took < 2 * LIMITS.deadline, took
    urls = [server.url(f"/slow/{n}.jpg") for n in range(5)]
    assert [d.item.image.url if d.item.image else None for d in decided] == urls
    first = probing.cache.get(urls[0])
    assert first is not None and first.unanswered
    assert probing.cache.get(urls[1]) is None  # a skipped image is no failure to remember
