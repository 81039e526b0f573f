"""Tests for rendering items into Channels Post API messages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jinja2 import StrictUndefined, UndefinedError

from poster.config import FeedConfig
from poster.destinations.viber import compose as build
from poster.destinations.viber.kind import KIND
from poster.destinations.viber.messages import (
    BODY_MAX_BYTES,
    ContactMessage,
    LocationMessage,
    Message,
    StickerMessage,
    encode,
    envelope,
)
from poster.destinations.viber.typechoice import choose_type, file_name, possible_types
from poster.errors import RenderError
from poster.htmltext import MARKUP_MAX, html_to_text
from poster.models import Contact, FeedMeta, Fixed, Item, Location, Media, Sticker
from poster.render import SAMPLE_ITEM, Renderer, clean_output
from poster.render import filters as f
from poster.render.sample import sample_meta

DATA = Path(__file__).parent / "data" / "render"
TEMPLATES = DATA / "templates"
SHIPPED = Path(__file__).parents[1] / "templates"
NOW = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
LINK = "https://example.com/news/1"
META = FeedMeta(
    name="news", title="News", link="https://example.com/", url="https://example.com/feed"
)

JPEG = Media("https://example.com/img/photo.jpg", "image/jpeg", 50_000)
JPEG_BY_NAME = Media("https://example.com/img/photo.jpeg?w=800")
JPEG_HUGE = Media("https://example.com/img/huge.jpg", "image/jpeg", 3_000_000)
PNG = Media("https://example.com/img/chart.png", "image/png")
THUMB = Media("https://example.com/img/thumb.jpg", "image/jpeg", 20_000)
THUMB_PNG = Media("https://example.com/img/thumb.png", "image/png", 20_000)
THUMB_BIG = Media("https://example.com/img/thumb-big.jpg", "image/jpeg", 400_000)
MP4 = Media("https://example.com/v/clip.mp4", "video/mp4", length=1_000_000, duration=42)
MP4_NO_SIZE = Media("https://example.com/v/clip.mp4", "video/mp4")
MP4_HUGE = Media("https://example.com/v/film.mp4", "video/mp4", length=80_000_000)
PDF = Media("https://example.com/files/report%202024.pdf", "application/pdf", length=2048)
NAMELESS = Media("https://example.com/", length=2048)

WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"
CYRILLIC = "Съешь же ещё этих мягких французских булок да выпей чаю"
EMOJI = "🎉🎉 👍🏽 🇺🇦🇺🇦 мир 😀"


def feed(**options: Any) -> FeedConfig:
    """Return a feed rendered with the echo template unless told otherwise."""
    options.setdefault("template", "echo.j2")
    return FeedConfig(name="news", url="https://example.com/feed", **options)


def item(**fields: Any) -> Item:
    """Return an item with a link, a title and the given fields."""
    fields.setdefault("link", LINK)
    fields.setdefault("title", "A title")
    return Item(key="news-1", **fields)


def body_size(message: Message) -> int:
    """Measure the wire size of the full JSON body for ``message``."""
    return len(encode(envelope(message, sender="x" * 32, auth_token="x" * 64)))


def words(sample: str, length: int) -> str:
    """Repeat ``sample`` separated by spaces until the text is at least ``length`` long."""
    text = sample
    while len(text) < length:
        text += " " + sample
    return text


def assert_word_cut(result: str, original: str, limit: int) -> None:
    """Check ``result`` is a marked cut of ``original`` ending at a word boundary."""
    assert len(result) <= limit
    assert result.endswith("…")
    kept = result[:-1]
    assert original.startswith(kept)
    assert original[len(kept)] == " "


@pytest.fixture
def renderer() -> Renderer:
    return Renderer(TEMPLATES, clock=lambda: NOW)


# --- payloads of the five item-based types ---------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "options", "payload"),
    [
        pytest.param(
            item(content_text="Hello, channel!"),
            {"type": "text"},
            {"type": "text", "text": "Hello, channel!"},
            id="text",
        ),
        pytest.param(
            item(content_text="A caption", image=JPEG, thumbnail=THUMB),
            {},
            {
                "type": "picture",
                "text": "A caption",
                "media": JPEG.url,
                "thumbnail": THUMB.url,
            },
            id="picture",
        ),
        pytest.param(
            item(content_text="ignored", enclosures=(MP4,), thumbnail=THUMB),
            {"type": "video"},
            {
                "type": "video",
                "media": MP4.url,
                "size": 1_000_000,
                "duration": 42,
                "thumbnail": THUMB.url,
            },
            id="video",
        ),
        pytest.param(
            item(content_text="ignored", enclosures=(PDF,)),
            {"type": "file"},
            {"type": "file", "media": PDF.url, "size": 2048, "file_name": "report 2024.pdf"},
            id="file",
        ),
        pytest.param(
            item(content_text="Read this"),
            {"type": "url"},
            {"type": "url", "media": LINK, "text": "Read this"},
            id="url",
        ),
        pytest.param(
            item(content_text=""),
            {"type": "url"},
            {"type": "url", "media": LINK},
            id="url-without-text",
        ),
        pytest.param(
            item(content_text="", image=JPEG),
            {},
            {"type": "picture", "text": "", "media": JPEG.url},
            id="picture-empty-caption",
        ),
    ],
)
def test_payload(
    renderer: Renderer, entry: Item, options: dict[str, Any], payload: dict[str, Any]
) -> None:
    assert KIND.compose(renderer.render(entry, feed(**options), META, KIND)).payload() == payload


# --- choosing the type ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "options", "expected"),
    [
        pytest.param(item(image=JPEG), {}, "picture", id="auto-jpeg-picture"),
        pytest.param(item(image=JPEG_BY_NAME), {}, "picture", id="auto-jpeg-by-extension"),
        pytest.param(item(image=PNG), {}, "text", id="auto-png-text"),
        pytest.param(item(image=JPEG_HUGE), {}, "text", id="auto-jpeg-over-1mb-text"),
        pytest.param(item(enclosures=(MP4,)), {}, "video", id="auto-mp4-sized-video"),
        pytest.param(item(enclosures=(MP4_NO_SIZE,)), {}, "text", id="auto-mp4-no-size-text"),
        pytest.param(item(enclosures=(MP4_HUGE,)), {}, "text", id="auto-mp4-over-50mb-text"),
        pytest.param(item(enclosures=(PDF,)), {}, "text", id="auto-pdf-text"),
        pytest.param(item(image=JPEG, enclosures=(MP4,)), {}, "picture", id="auto-prefers-picture"),
        pytest.param(item(), {}, "text", id="auto-plain-text"),
        pytest.param(item(image=JPEG), {"type": "text"}, "text", id="explicit-text"),
        pytest.param(item(), {"type": "picture"}, "text", id="picture-missing-fallback-text"),
        pytest.param(
            item(), {"type": "picture", "fallback": "url"}, "url", id="picture-missing-fallback-url"
        ),
        pytest.param(
            item(link=None),
            {"type": "picture", "fallback": "url"},
            "text",
            id="fallback-url-without-link-text",
        ),
        pytest.param(item(image=PNG), {"type": "picture"}, "text", id="picture-png-fallback"),
        pytest.param(item(enclosures=(MP4,)), {"type": "video"}, "video", id="explicit-video"),
        pytest.param(
            item(enclosures=(MP4_NO_SIZE,)), {"type": "video"}, "text", id="video-no-size-fallback"
        ),
        pytest.param(item(enclosures=(PDF,)), {"type": "file"}, "file", id="explicit-file"),
        pytest.param(item(), {"type": "file"}, "text", id="file-no-enclosure-fallback"),
        pytest.param(
            item(enclosures=(NAMELESS,)), {"type": "file"}, "text", id="file-no-name-fallback"
        ),
        pytest.param(item(), {"type": "url"}, "url", id="explicit-url"),
        pytest.param(item(link=None), {"type": "url"}, "text", id="url-without-link-text"),
        pytest.param(
            item(link="https://example.com/" + "a" * 2000),
            {"type": "url"},
            "text",
            id="url-over-2000",
        ),
        pytest.param(item(link="ftp://example.com/x"), {"type": "url"}, "text", id="url-not-web"),
        pytest.param(item(), {"fixed": Sticker(46105)}, "sticker", id="fixed"),
    ],
)
def test_choose_type(entry: Item, options: dict[str, Any], expected: str) -> None:
    assert choose_type(entry, feed(**options)) == expected


def test_url_over_2000_renders_as_text(renderer: Renderer) -> None:
    entry = item(link="https://example.com/" + "a" * 2000, content_text="Long link")
    assert KIND.compose(renderer.render(entry, feed(type="url"), META, KIND)).payload() == {
        "type": "text",
        "text": "Long link",
    }


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        pytest.param(
            "http://example.com/my photo.jpg", "http://example.com/my%20photo.jpg", id="space"
        ),
        pytest.param(
            "https://пример.рф/фото.jpg",
            "https://xn--e1afmkfd.xn--p1ai/%D1%84%D0%BE%D1%82%D0%BE.jpg",
            id="idna-host-and-utf8-path",
        ),
        pytest.param(
            "http://example.com/a%20b.jpg?q=x y#top",
            "http://example.com/a%20b.jpg?q=x%20y#top",
            id="escapes-kept",
        ),
        pytest.param(
            "http://example.com/p.jpg?a=1&b=2", "http://example.com/p.jpg?a=1&b=2", id="uri"
        ),
        pytest.param(
            "https://straße.de/p.jpg", "https://xn--strae-oqa.de/p.jpg", id="uts46-not-idna2003"
        ),
    ],
)
def test_media_and_links_are_sent_as_uris(renderer: Renderer, written: str, sent: str) -> None:
    picture = KIND.compose(
        renderer.render(item(image=Media(written, "image/jpeg", 50_000)), feed(), META, KIND)
    )
    assert picture.payload()["media"] == sent
    link = KIND.compose(renderer.render(item(link=written), feed(type="url"), META, KIND))
    assert link.payload()["media"] == sent


# --- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "extra", "limit"),
    [
        pytest.param({"type": "text"}, {}, 7000, id="text-7000"),
        pytest.param({}, {"image": JPEG}, 768, id="caption-768"),
        pytest.param({"type": "url"}, {}, 120, id="url-120"),
    ],
)
@pytest.mark.parametrize("sample", [WORDS, CYRILLIC], ids=["latin", "cyrillic"])
def test_text_cut_at_word_boundary(
    renderer: Renderer, options: dict[str, Any], extra: dict[str, Any], limit: int, sample: str
) -> None:
    original = words(sample, 9000)
    message = KIND.compose(
        renderer.render(item(content_text=original, **extra), feed(**options), META, KIND)
    )
    text = message.payload()["text"]
    assert_word_cut(text, original, limit)
    assert len(text) > limit - 20


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        pytest.param(42, 42, id="short"),
        pytest.param(180, 180, id="at-limit"),
        pytest.param(181, None, id="over-limit-omitted"),
        pytest.param(0, None, id="zero-omitted"),
        pytest.param(None, None, id="unknown-omitted"),
    ],
)
def test_video_duration(renderer: Renderer, duration: int | None, expected: int | None) -> None:
    video = Media(MP4.url, "video/mp4", length=5000, duration=duration)
    payload = KIND.compose(renderer.render(item(enclosures=(video,)), feed(), META, KIND)).payload()
    assert payload.get("duration") == expected
    assert ("duration" in payload) == (expected is not None)


@pytest.mark.parametrize(
    ("thumbnail", "expected"),
    [
        pytest.param(THUMB, THUMB.url, id="jpeg"),
        pytest.param(THUMB_PNG, None, id="png-omitted"),
        pytest.param(THUMB_BIG, None, id="over-100kb-omitted"),
        pytest.param(None, None, id="none"),
    ],
)
def test_thumbnail_only_small_jpeg(
    renderer: Renderer, thumbnail: Media | None, expected: str | None
) -> None:
    for extra in ({"image": JPEG}, {"enclosures": (MP4,)}):
        payload = KIND.compose(
            renderer.render(item(thumbnail=thumbnail, **extra), feed(), META, KIND)
        ).payload()
        assert payload.get("thumbnail") == expected


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        pytest.param(PDF, "report 2024.pdf", id="from-url-path"),
        pytest.param(
            Media("https://example.com/download?id=5", "application/pdf", 1),
            "download.pdf",
            id="extension-from-mime",
        ),
        pytest.param(
            Media("https://example.com/dl", "audio/mpeg; charset=binary", 1),
            "dl.mp3",
            id="mime-parameters-ignored",
        ),
        pytest.param(
            Media("https://example.com/ep12.mp3", "audio/mpeg", 1, title="Episode 12: The Thing"),
            "Episode 12 The Thing.mp3",
            id="title-preferred",
        ),
        pytest.param(
            Media("https://example.com/x.pdf", None, 1, title="report.pdf"),
            "report.pdf",
            id="title-with-extension",
        ),
        pytest.param(
            Media("https://example.com/notes", "text/plain", 1, title="v1.2 release notes"),
            "v1.2 release notes.txt",
            id="dot-in-title",
        ),
        pytest.param(
            Media("https://example.com/f", "application/pdf", 1, title='a/b:c*?"d'),
            "a b c d.pdf",
            id="reserved-characters",
        ),
        pytest.param(Media("https://example.com/noext", None, 1), None, id="no-extension"),
        pytest.param(Media("https://example.com/", "application/pdf", 1), None, id="no-stem"),
    ],
)
def test_file_name(media: Media, expected: str | None) -> None:
    assert file_name(media) == expected


def test_file_name_capped_at_256_keeping_extension() -> None:
    name = file_name(Media("https://example.com/" + "n" * 400 + ".epub", None, 1))
    assert name is not None
    assert len(name) == 256
    assert name.endswith("n.epub")


def test_file_name_is_capped_in_utf16_units_as_the_api_counts() -> None:
    from poster.text import utf16_units

    name = file_name(Media("https://example.com/report.pdf", None, 1, title="📄" * 300))
    assert name is not None and name.endswith(".pdf")
    assert utf16_units(name) <= 256 < len(name) * 2


# --- the 30 KB body cap -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample",
    [CYRILLIC, EMOJI, '"quoted" \\ back\\slash'],
    ids=["cyrillic", "emoji", "escaped"],
)
def test_longest_text_stays_under_body_cap(renderer: Renderer, sample: str) -> None:
    message = KIND.compose(
        renderer.render(item(content_text=words(sample, 9000)), feed(type="text"), META, KIND)
    )
    text = message.payload()["text"]
    assert len(text.encode("utf-16-le")) // 2 <= 7000
    assert body_size(message) <= BODY_MAX_BYTES


@pytest.mark.parametrize("sample", [CYRILLIC, EMOJI], ids=["cyrillic", "emoji"])
@pytest.mark.parametrize("kind", ["text", "picture"])
def test_text_shrinks_to_fit_body_cap(
    renderer: Renderer, monkeypatch: pytest.MonkeyPatch, sample: str, kind: str
) -> None:
    monkeypatch.setattr(build, "BODY_MAX_BYTES", 700)
    original = words(sample, 9000)
    message = KIND.compose(
        renderer.render(item(content_text=original, image=JPEG), feed(type=kind), META, KIND)
    )
    text = message.payload()["text"]
    assert message.type == kind
    assert body_size(message) <= 700
    assert body_size(message) > 600  # shrunk no further than needed
    assert_word_cut(text, original, 7000)


def test_nothing_fits_body_cap(renderer: Renderer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "BODY_MAX_BYTES", 10)
    with pytest.raises(RenderError, match="no cut fits the body cap"):
        KIND.compose(renderer.render(item(content_text=WORDS), feed(type="text"), META, KIND))


# --- templates: errors, choice, context, output -----------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param(
            "strict.j2",
            "template 'strict.j2' line 3: item.nope is undefined",
            id="undefined",
        ),
        pytest.param(
            "includes_strict.j2", "template 'strict.j2' line 3: ", id="undefined-in-include"
        ),
        pytest.param(
            "syntax.j2", "template 'syntax.j2' line 2: syntax error: unexpected '}'", id="syntax"
        ),
        pytest.param(
            "sandbox_dunder.j2",
            "template 'sandbox_dunder.j2' line 1: blocked by the sandbox: access to attribute "
            "'__class__' of 'Item' object is unsafe",
            id="sandbox-mro",
        ),
        pytest.param("sandbox_subclasses.j2", "blocked by the sandbox", id="sandbox-subclasses"),
        pytest.param("sandbox_format.j2", "blocked by the sandbox", id="sandbox-format-globals"),
        pytest.param(
            "divide.j2", "template 'divide.j2' line 2: ZeroDivisionError", id="python-error"
        ),
        pytest.param(
            "add_number.j2", "template 'add_number.j2' line 1: TypeError", id="type-error"
        ),
        pytest.param(
            "huge_range.j2", "template 'huge_range.j2' line 1: OverflowError", id="sandbox-range"
        ),
        pytest.param("../escape.j2", "template '../escape.j2' is not in", id="outside-dir"),
        pytest.param(
            "bad_zone.j2",
            "template 'bad_zone.j2' line 1: unknown time zone 'Mars/Olympus_Mons'",
            id="bad-time-zone",
        ),
        pytest.param(
            "maybe_empty.j2",
            "cannot make a text message: the template rendered nothing",
            id="empty",
        ),
        pytest.param(
            "missing.j2", f"template 'missing.j2' is not in {TEMPLATES}", id="missing-template"
        ),
        pytest.param(
            "includes_missing.j2",
            "template 'nowhere.j2', pulled in at template 'includes_missing.j2' line 2, is not "
            f"in {TEMPLATES}",
            id="missing-include",
        ),
    ],
)
def test_template_errors(renderer: Renderer, template: str, expected: str) -> None:
    with pytest.raises(RenderError) as caught:
        KIND.compose(renderer.render(item(), feed(template=template), META, KIND))
    assert expected in str(caught.value)
    assert (caught.value.feed, caught.value.item) == ("news", "news-1")


def test_no_default_template(tmp_path: Path) -> None:
    with pytest.raises(
        RenderError, match=r"none of the templates 'viber/text.j2', 'text.j2', 'default.j2' is in"
    ):
        KIND.compose(Renderer(tmp_path).render(item(), feed(template=None), META, KIND))


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(item(image=JPEG), "picture: A title", id="type-template"),
        pytest.param(item(), "default: A title", id="default-template"),
    ],
)
def test_template_choice(entry: Item, expected: str) -> None:
    message = KIND.compose(Renderer(DATA / "choice").render(entry, feed(template=None), META, KIND))
    assert message.payload()["text"] == expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(item(), "text 7000", id="text"),
        pytest.param(item(image=JPEG), "picture 768", id="picture"),
    ],
)
def test_context(renderer: Renderer, entry: Item, expected: str) -> None:
    message = KIND.compose(renderer.render(entry, feed(template="context.j2"), META, KIND))
    tail = "news News https://example.com/feed 2024-05-14T12:00"
    assert message.payload()["text"] == f"{expected} {tail}"


def test_output_cleaned(renderer: Renderer) -> None:
    entry = item(content_text="a\x00b\x1b \r\nline\ud800 two")
    message = KIND.compose(renderer.render(entry, feed(template="spacing.j2"), META, KIND))
    assert message.payload()["text"] == "ab\nline two\n\nend"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("  \n\n hello  \n", "hello", id="stripped"),
        pytest.param("a\n\n\n\n\nb", "a\n\nb", id="blank-runs"),
        pytest.param("a   \n  \n\n\nb", "a\n\nb", id="spaces-before-newlines"),
        pytest.param("tab\tkept", "tab\tkept", id="tab"),
    ],
)
def test_clean_output(raw: str, expected: str) -> None:
    assert clean_output(raw) == expected


# --- filters ----------------------------------------------------------------------------------


def test_every_filter_in_a_template(renderer: Renderer) -> None:
    entry = Item(
        key="k",
        title="Новости дня: погода и транспорт",
        link="https://www.example.org/news/1",
        content_html=(
            "<p>Привет, <b>мир</b></p><ul><li>один</li><li>два</li></ul>"
            '<p><a href="https://example.org/more">Читать далее</a></p>'
        ),
        author="Анна",
        published=datetime(2024, 5, 14, 7, 30, tzinfo=UTC),
        tags=("city life", "Погода", "No-Space", "CITY LIFE", ""),
    )
    message = KIND.compose(renderer.render(entry, feed(template="filters.j2"), META, KIND))
    expected = (TEMPLATES / "filters.expected.txt").read_text(encoding="utf-8").strip()
    assert message.payload()["text"] == expected


NAIVE = datetime(2024, 1, 2, 3, 4)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(lambda: f.plain(None), "", id="text-none"),
        pytest.param(lambda: f.plain("<i>x</i> &amp; y"), "x & y", id="text-html"),
        pytest.param(lambda: f.cut("один два три", 8), "один…", id="truncate-cyrillic"),
        pytest.param(lambda: f.cut(None, 5), "", id="truncate-none"),
        pytest.param(lambda: f.date(None), "", id="date-none"),
        pytest.param(lambda: f.date(NAIVE), "02.01.2024 03:04", id="date-naive-is-utc"),
        pytest.param(lambda: f.date(NAIVE, "%H:%M", "Asia/Tokyo"), "12:04", id="date-zone"),
        pytest.param(lambda: f.date(NAIVE, "%Y", "UTC"), "2024", id="date-format"),
        pytest.param(lambda: f.hashtags("solo tag"), "#SoloTag", id="hashtags-string"),
        pytest.param(lambda: f.hashtags(None), "", id="hashtags-none"),
        pytest.param(
            lambda: f.hashtags(["C++", "c", "2024", "!!"]), "#C #2024", id="hashtags-dedup"
        ),
        pytest.param(lambda: f.hashtags(["a", "b", "c"], 2), "#a #b", id="hashtags-limit"),
        pytest.param(lambda: f.hashtags(["snake_case"]), "#snake_case", id="hashtags-underscore"),
        pytest.param(lambda: f.bold("  x  "), "*x*", id="bold-stripped"),
        pytest.param(lambda: f.bold("one\n\ntwo"), "*one*\n\n*two*", id="bold-per-line"),
        pytest.param(lambda: f.italic(""), "", id="italic-empty"),
        pytest.param(lambda: f.strike(None), "", id="strike-none"),
        pytest.param(
            lambda: f.domain("https://www.Example.org:8080/x"), "example.org", id="domain"
        ),
        pytest.param(lambda: f.domain("http://[::1"), "", id="domain-invalid"),
        pytest.param(lambda: f.domain(None), "", id="domain-none"),
        pytest.param(lambda: f.cut("😀 😀 😀 😀", 6), "😀 😀…", id="truncate-counts-emoji-twice"),
        pytest.param(lambda: f.cut("😀😀😀", 6), "😀😀😀", id="truncate-emoji-that-fit"),
        pytest.param(lambda: f.cut("😀😀😀😀", 3), "😀…", id="truncate-inside-emoji-run"),
        pytest.param(lambda: f.units("a😀é"), 4, id="units"),
    ],
)
def test_filter(call: Any, expected: str) -> None:
    assert call() == expected


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda u: f.plain(u), id="text"),
        pytest.param(lambda u: f.date(u), id="date"),
        pytest.param(lambda u: f.hashtags(u), id="hashtags"),
        pytest.param(lambda u: f.bold(u), id="bold"),
    ],
)
def test_filters_reject_undefined(call: Any) -> None:
    with pytest.raises(UndefinedError, match="'missing' is undefined"):
        call(StrictUndefined(name="missing"))


# --- fixed messages, the sample item and the shipped templates -------------------------------


@pytest.mark.parametrize(
    ("fixed", "expected"),
    [
        pytest.param(Sticker(46105), StickerMessage(46105), id="sticker"),
        pytest.param(
            Location(37.7898, -122.3942), LocationMessage(37.7898, -122.3942), id="location"
        ),
        pytest.param(
            Contact("John Doe", "+12025550164"),
            ContactMessage("John Doe", "+12025550164"),
            id="contact",
        ),
    ],
)
def test_fixed_message_returned(renderer: Renderer, fixed: Fixed, expected: Message) -> None:
    post = renderer.render(item(), feed(fixed=fixed, template="missing.j2"), META, KIND)
    assert KIND.compose(post) == expected


SHIPPED_NAMES = sorted(path.name for path in SHIPPED.glob("*.j2"))


def test_shipped_templates_present() -> None:
    assert SHIPPED_NAMES == [
        "default.j2",
        "file.j2",
        "picture.j2",
        "text.j2",
        "url.j2",
        "video.j2",
    ]
    for name in SHIPPED_NAMES:
        assert (SHIPPED / name).read_text(encoding="utf-8").startswith("{#")


@pytest.mark.parametrize("template", SHIPPED_NAMES)
@pytest.mark.parametrize("kind", ["auto", "text", "picture", "video", "file", "url"])
def test_sample_renders_with_every_shipped_template(template: str, kind: str) -> None:
    renderer = Renderer(SHIPPED)
    config = feed(template=template, type=kind)
    if template in ("video.j2", "file.j2"):
        # These templates output nothing, and an item that falls back to a text message (any
        # type may) cannot be empty: a feed that names one for every type is told at a check.
        with pytest.raises(RenderError, match=r"cannot make a text message: .* rendered nothing"):
            renderer.check(config, KIND)
        if kind == "text":
            return
        post = renderer.render(SAMPLE_ITEM, config, sample_meta(config.name, config.url), KIND)
        message = KIND.compose(post)
    else:
        message = KIND.compose(renderer.check(config, KIND))
    payload = message.payload()
    expected_type = "picture" if kind == "auto" else kind
    assert payload["type"] == expected_type
    assert body_size(message) <= BODY_MAX_BYTES
    limit = {"text": 7000, "picture": 768, "url": 120}.get(expected_type)
    if limit is not None and template not in ("video.j2", "file.j2"):
        assert 0 < len(payload["text"]) <= limit


@pytest.mark.parametrize(
    ("kind", "pattern"),
    [
        pytest.param(
            "text",
            r"\*Riverside Park reopens after a year of restoration\*\n\nThe city's oldest park .+"
            r" trees\.\n\n#CityLife #ParksGardens #weekend\n"
            r"https://example\.com/news/2024/05/riverside-park-reopens",
            id="text",
        ),
        pytest.param(
            "auto",
            r"\*Riverside Park reopens after a year of restoration\*\n\nThe city's .+ trees\.\n\n"
            r"https://example\.com/news/2024/05/riverside-park-reopens",
            id="picture",
        ),
        pytest.param("url", r"Riverside Park reopens after a year of restoration", id="url"),
    ],
)
def test_shipped_type_templates(kind: str, pattern: str) -> None:
    message = KIND.compose(Renderer(SHIPPED).check(feed(template=None, type=kind), KIND))
    assert re.fullmatch(pattern, message.payload()["text"], re.DOTALL)


def test_shipped_default_template() -> None:
    message = KIND.compose(Renderer(SHIPPED).check(feed(template="default.j2", type="text"), KIND))
    text = message.payload()["text"]
    assert text.startswith("*Riverside Park reopens after a year of restoration*\n\n")
    assert text.endswith("\n\nhttps://example.com/news/2024/05/riverside-park-reopens")


def test_shipped_picture_caption_keeps_link() -> None:
    long_item = item(
        title=words("Очень длинный заголовок", 400),
        summary=words(CYRILLIC, 3000),
        link="https://example.com/" + "p" * 300,
        image=JPEG,
    )
    message = KIND.compose(Renderer(SHIPPED).render(long_item, feed(template=None), META, KIND))
    caption = message.payload()["text"]
    assert len(caption) <= 768
    assert caption.endswith("\n\nhttps://example.com/" + "p" * 300)
    assert caption.startswith("*Очень длинный заголовок")


@pytest.mark.parametrize(
    ("title", "summary", "link"),
    [
        pytest.param("😀" * 160, "🎉" * 300, "https://example.com/" + "p" * 59, id="emoji"),
        pytest.param(
            ("Новости 😀 " * 15)[:150],
            ("Текст 🎉 новости " * 20)[:300],
            "https://example.org/news/" + "a" * 375,
            id="emoji-and-long-link",
        ),
    ],
)
def test_shipped_picture_caption_keeps_link_with_emoji(title: str, summary: str, link: str) -> None:
    entry = item(title=title, summary=summary, link=link, image=JPEG)
    message = KIND.compose(Renderer(SHIPPED).render(entry, feed(template=None), META, KIND))
    caption = message.payload()["text"]
    assert caption.endswith("\n\n" + link)
    assert "……" not in caption


def test_the_sample_items_text_is_what_its_html_turns_into() -> None:
    assert SAMPLE_ITEM.content_text == html_to_text(SAMPLE_ITEM.content_html)


def test_check_uses_sample_item() -> None:
    message = KIND.compose(Renderer(SHIPPED).check(feed(template=None), KIND))
    assert SAMPLE_ITEM.image is not None
    assert message.payload()["media"] == SAMPLE_ITEM.image.url


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"thumbnail": JPEG}, JPEG.url, id="thumbnail"),
        pytest.param({"image": JPEG}, JPEG.url, id="image-stands-in"),
        pytest.param({"image": JPEG_HUGE}, None, id="image-over-100kb"),
        pytest.param({}, None, id="none"),
    ],
)
def test_video_thumbnail(renderer: Renderer, fields: dict[str, Any], expected: str | None) -> None:
    message = KIND.compose(
        renderer.render(item(enclosures=(MP4,), **fields), feed(type="video"), META, KIND)
    )
    assert message.payload().get("thumbnail") == expected


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({}, ("picture", "video", "text"), id="auto"),
        pytest.param({"fallback": "url"}, ("picture", "video", "url", "text"), id="auto-url"),
        pytest.param({"type": "file"}, ("file", "text"), id="file"),
        pytest.param({"type": "text"}, ("text",), id="text"),
    ],
)
def test_possible_types(options: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert possible_types(feed(**options)) == expected


def test_check_renders_every_template_a_feed_may_use(tmp_path: Path) -> None:
    for name in ("picture.j2", "video.j2", "default.j2"):
        (tmp_path / name).write_text("{{ item.title }}")
    (tmp_path / "text.j2").write_text("{{ item.titel }}")
    with pytest.raises(RenderError, match=r"text\.j2"):
        Renderer(tmp_path).check(FeedConfig(name="news", url="https://example.org/feed"), KIND)


# --- start-up cost ---------------------------------------------------------------------------

LOAD_THEN_RENDER = """
import json, sys
from pathlib import Path
import poster.pipeline, poster.pipeline.runner
from poster.config import FeedConfig
from poster.models import FeedMeta, Item
from poster.destinations.viber.kind import KIND
from poster.render import Renderer
loaded = lambda: sorted(name for name in ("jinja2", "markupsafe") if name in sys.modules)
before = loaded()
meta = FeedMeta("news", "News", "https://example.com/", "https://example.com/feed")
news = FeedConfig(name="news", url=meta.url, type="text")
entry = Item(key="1", title="Hello", link="https://example.com/1")
message = KIND.compose(Renderer(Path(sys.argv[1])).render(entry, news, meta, KIND))
print(json.dumps({"before": before, "after": loaded(), "text": message.payload()["text"]}))
"""


def test_jinja_is_loaded_only_when_something_is_rendered() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOAD_THEN_RENDER, str(SHIPPED)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(done.stdout) == {
        "before": [],
        "after": ["jinja2", "markupsafe"],
        "text": "*Hello*\n\nhttps://example.com/1",
    }


# --- templates per kind of destination -------------------------------------------------------


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        pytest.param(("viber/text.j2", "text.j2", "default.j2"), "viber/text.j2", id="kind-first"),
        pytest.param(("recording/text.j2", "text.j2"), "text.j2", id="other-kind-ignored"),
        pytest.param(("viber/picture.j2", "default.j2"), "default.j2", id="other-type-ignored"),
    ],
)
def test_template_chosen_per_kind(tmp_path: Path, present: tuple[str, ...], expected: str) -> None:
    for name in present:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    post = Renderer(tmp_path).render(item(), feed(template=None, type="text"), META, KIND)
    assert (post.type, post.text) == ("text", expected)


def test_post_keeps_text_uncut_for_the_kind_to_fit() -> None:
    long_text = words(WORDS, 9000)
    post = Renderer(TEMPLATES).render(item(content_text=long_text), feed(type="text"), META, KIND)
    assert len(post.text) > 7000
    assert len(KIND.compose(post).payload()["text"]) <= 7000


def test_html_past_its_cap_is_read_up_to_the_last_whole_tag_in_bounded_memory() -> None:
    hostile = "<p>intro</p><p " + "a=b " * 2_000_000 + ">tail</p>"
    tracemalloc.start()
    try:
        assert html_to_text(hostile) == "intro"
        assert tracemalloc.get_traced_memory()[1] < 64 * 2**20
    finally:
        tracemalloc.stop()
    long_article = "<p>word</p>" * (MARKUP_MAX // 11 + 10)
    assert html_to_text(long_article).count("word") == MARKUP_MAX // 11


def test_a_missing_value_prints_nothing_not_none(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{{ item.title }} by {{ item.author }}|{{ None }}|")
    message = KIND.compose(
        Renderer(tmp_path).render(
            item(title="Tram", author=None), feed(template="t.j2"), META, KIND
        )
    )
    assert message.payload()["text"] == "Tram by ||"


@pytest.mark.parametrize(
    ("source", "said"),
    [
        pytest.param(
            "{{ item.content_html|text(link=true) }}",
            "filter 'text' takes no argument 'link' (did you mean links?)",
            id="filter-keyword",
        ),
        pytest.param(
            '{{ item.title|truncate("x") }}',
            "filter 'truncate' needs a whole number, got 'x'",
            id="filter-count",
        ),
        pytest.param(
            "{{ item.enclosures[0].url }}",
            "[0] of an empty list is undefined: test the list first",
            id="empty-list",
        ),
        pytest.param(
            "{{ item.tags[3] }}",
            "[3] of a list of 1 item is undefined (the first is [0], the last [-1])",
            id="past-the-list",
        ),
        pytest.param("{{ item.title.titel }}", "a text has no field 'titel'", id="text-field"),
    ],
)
def test_a_template_mistake_is_told_in_the_templates_terms(
    tmp_path: Path, source: str, said: str
) -> None:
    (tmp_path / "t.j2").write_text(source)
    with pytest.raises(RenderError) as failed:
        Renderer(tmp_path).render(item(tags=("news",)), feed(template="t.j2"), META, KIND)
    assert f"template 't.j2' line 1: {said}" in str(failed.value)
    assert "TypeError" not in str(failed.value) and "tuple" not in str(failed.value)
