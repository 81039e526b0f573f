"""Check every branch of the stable item key, and the cleaning of tracking links."""

from __future__ import annotations

import hashlib
import json

import pytest

from poster.config import FeedConfig, JsonMapping
from poster.models import FetchResult, Validators
from poster.parse import parse
from poster.parse.itemkeys import KEY_MAX, bounded, clean_link

URL = "https://example.com/feed"
LINK = "https://example.com/post?id=5&utm_source=x&fbclid=y#top"


def rss(guid: str | None = "guid-1", link: str | None = LINK, extra: str = "") -> bytes:
    """Return a one-item RSS 2.0 document."""
    parts = ["<title>Title &amp; more</title>", "<description>Body</description>", extra]
    if guid is not None:
        parts.append(f"<guid isPermaLink='false'>{guid}</guid>")
    if link is not None:
        parts.append(f"<link>{link.replace('&', '&amp;')}</link>")
    item = "".join(parts)
    return (
        f"<rss version='2.0'><channel><title>K</title><item>{item}</item></channel></rss>".encode()
    )


def key_of(body: bytes, key: str | None = None, mapping: JsonMapping | None = None) -> str:
    """Return the key of the first item of ``body`` under the given ``key`` setting."""
    result = FetchResult(feed="k", url=URL, status=200, body=body, validators=Validators())
    feed = FeedConfig(
        name="k", url=URL, key=key, format="json" if mapping else "auto", json=mapping
    )
    return parse(result, feed).items[0].key


SHA = "sha256:" + hashlib.sha256(b"Title & more\nBody").hexdigest()
API = b'[{"id": 7, "url": "https://api.example.com/7?utm_medium=a", "meta": {"slug": "seven"}}]'
MAPPING = JsonMapping(items="", id="id", link="url")
JSONFEED = (
    b'{"version": "https://jsonfeed.org/version/1.1", "items": '
    b'[{"id": "jf-1", "url": "https://j.example.com/1", "title": "JF", "_x": {"uid": 99}}]}'
)

CASES = [
    ("default-guid", rss(), None, None, "guid-1"),
    ("default-clean-link", rss(guid=None), None, None, "https://example.com/post?id=5"),
    ("default-content-hash", rss(guid=None, link=None), None, None, SHA),
    ("key-guid", rss(), "guid", None, "guid-1"),
    ("key-id", rss(), "id", None, "guid-1"),
    ("key-guid-missing-falls-back", rss(guid=None), "guid", None, "https://example.com/post?id=5"),
    ("key-link", rss(), "link", None, "https://example.com/post?id=5"),
    ("key-link-missing-falls-back", rss(link=None), "link", None, "guid-1"),
    ("key-title", rss(), "title", None, "Title & more"),
    (
        "key-xml-field",
        rss(extra="<comments>https://c.example.com/1</comments>"),
        "comments",
        None,
        "https://c.example.com/1",
    ),
    ("key-xml-field-missing", rss(), "comments", None, "guid-1"),
    ("mapped-default-id", API, None, MAPPING, "7"),
    ("mapped-key-link", API, "link", MAPPING, "https://api.example.com/7"),
    ("mapped-key-path", API, "meta.slug", MAPPING, "seven"),
    ("mapped-key-path-missing", API, "meta.uuid", MAPPING, "7"),
    ("mapped-key-path-to-object", API, "meta", MAPPING, "7"),
    ("jsonfeed-default-id", JSONFEED, None, None, "jf-1"),
    ("jsonfeed-key-path", JSONFEED, "_x.uid", None, "99"),
    ("jsonfeed-key-title", JSONFEED, "title", None, "JF"),
]


@pytest.mark.parametrize(
    ("body", "key", "mapping", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_item_key(body: bytes, key: str | None, mapping: JsonMapping | None, expected: str) -> None:
    assert key_of(body, key, mapping) == expected


def test_content_hash_is_stable_and_content_sensitive() -> None:
    first = key_of(rss(guid=None, link=None))
    assert first == key_of(rss(guid=None, link=None))
    other = rss(guid=None, link=None).replace(b"Body", b"Other body")
    assert key_of(other) != first


LINKS = [
    ("https://e.com/a?utm_source=rss&utm_medium=feed&id=7&fbclid=abc#c", "https://e.com/a?id=7"),
    ("https://e.com/a?gclid=1&yclid=2&mc_cid=3&mc_eid=4&_openstat=5", "https://e.com/a"),
    ("https://e.com/a?UTM_Campaign=x&q=a%20b&q=c", "https://e.com/a?q=a%20b&q=c"),
    ("https://e.com/a?flag&utm_term=x", "https://e.com/a?flag"),
    ("https://e.com/a#section", "https://e.com/a"),
    ("https://e.com/a?utmost=1", "https://e.com/a?utmost=1"),
    ("  https://e.com/a  ", "https://e.com/a"),
]


@pytest.mark.parametrize(("link", "expected"), LINKS, ids=[str(i) for i in range(len(LINKS))])
def test_clean_link(link: str, expected: str) -> None:
    assert clean_link(link) == expected


@pytest.mark.parametrize("kind", ["rss", "json"])
def test_an_id_longer_than_any_real_one_is_kept_as_its_hash(kind: str) -> None:
    long_id = "x" * (KEY_MAX + 1)
    if kind == "rss":
        body = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            f"<item><title>a</title><guid>{long_id}</guid></item></channel></rss>"
        ).encode()
    else:
        body = json.dumps(
            {"version": "https://jsonfeed.org/version/1.1",
             "items": [{"id": long_id, "content_text": "a"}]}
        ).encode()  # fmt: skip
    result = FetchResult(feed="t", url="https://example.org/f", status=200, body=body,
                         validators=Validators())  # fmt: skip
    [item] = parse(result, FeedConfig(name="t", url="https://example.org/f")).items
    assert item.key == "sha256:" + hashlib.sha256(long_id.encode()).hexdigest()
    assert bounded("y" * KEY_MAX) == "y" * KEY_MAX


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_an_item_keeps_its_key_when_its_feed_stops_being_well_formed(kind: str) -> None:
    if kind == "rss":
        items = (
            "<item><title>A</title><guid>a&amp;b</guid></item><item><guid>x&lt;y&gt;</guid></item>"
        )
        well = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
        broken = well.replace("<title>t</title>", "<title>t & u</title>")
    else:
        items = "<entry><title>A</title><id>a&amp;b</id></entry><entry><id>x&lt;y&gt;</id></entry>"
        well = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{items}</feed>'
        broken = well.replace("<title>t</title>", "<title>t & u</title>")

    def keys(document: str) -> list[str]:
        result = FetchResult(feed="t", url="https://example.org/f", status=200,
                             body=document.encode(), validators=Validators())  # fmt: skip
        return [
            i.key for i in parse(result, FeedConfig(name="t", url="https://example.org/f")).items
        ]

    assert keys(well) == keys(broken) == ["a&b", "x<y>"]
