"""Test that a URL split without httpx's parser comes out exactly as httpx's parser gives it."""

from __future__ import annotations

import httpx
import pytest

from poster.fetch.target import Target, from_url, target_of

URLS = [
    "http://127.0.0.1:8080/rss/feed-0001.xml",
    "https://example.org/feed",
    "https://example.org/feed?format=rss&page=2",
    "https://news.example.co.uk/a/b/c.xml?x=1;y=2&z=:@/?",
    "http://example.org/~user/feed.atom",
    "http://localhost:65535/",
    "https://xn--80ak6aa92e.com/feed",
    "http://1.2.3/feed",
    "https://Example.ORG/feed",
    "http://example.org:80/feed",
    "https://example.org:443/feed",
    "http://example.org:0080/feed",
    "http://example.org/a/../feed",
    "http://example.org/./feed",
    "http://example.org/feed/..",
    "http://example.org/a%20b",
    "http://example.org/a b",
    "http://example.org/caf\u00e9",
    "http://caf\u00e9.example/feed",
    "http://user:secret@example.org/feed",
    "http://example.org/feed#top",
    "http://example.org/feed?",
    "http://example.org",
    "http://[::1]:8080/feed",
    "http://example.org./feed",
    "HTTP://example.org/feed",
    "http://ex_ample.org/feed",
    "http://example.org:65536/feed",
    "http://exa mple.org/",
]


def _parts(target: Target) -> tuple[object, ...]:
    return (target.text, target.scheme, target.host, target.port, target.netloc, target.target)


@pytest.mark.parametrize("url", URLS)
def test_a_url_splits_as_httpx_parses_it(url: str) -> None:
    assert _parts(target_of(url)) == _parts(from_url(httpx.URL(url)))
    assert target_of(url).url == httpx.URL(url)


@pytest.mark.parametrize("url", ["http://999.1.1.1/feed", "http://[zz]/feed", "http://a:b/"])
def test_a_url_httpx_refuses_is_refused(url: str) -> None:
    with pytest.raises(httpx.InvalidURL):
        target_of(url)


def test_a_plain_url_is_split_without_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("httpx parsed the URL")

    monkeypatch.setattr(httpx.URL, "__init__", refuse)
    target = target_of("http://127.0.0.1:8080/only-here.xml?a=1")
    assert (target.host, target.port, target.netloc) == ("127.0.0.1", 8080, b"127.0.0.1:8080")
    assert target.target == b"/only-here.xml?a=1"
