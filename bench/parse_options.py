"""Time feedparser on a large synthetic RSS feed with and without HTML sanitizing and URI resolving.

Run as ``python bench/parse_options.py [items] [repeats]``; it prints the best time of each
option set, its ratio to feedparser's defaults, and the time of the whole ``parse`` stage.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from xml.sax.saxutils import escape

import feedparser

from poster.config import FeedConfig
from poster.models import FetchResult, Validators
from poster.parse import parse

PARAGRAPH = (
    '<p>Lorem <b>ipsum</b> dolor sit amet, <a href="/articles/{n}/more?ref=feed">consectetur</a> '
    "adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. "
    '<img src="images/{n}.jpg" alt="figure {n}" width="640" height="480"> Ut enim ad minim '
    "veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo.</p>\n"
)
OPTIONS: dict[str, dict[str, bool]] = {
    "defaults (sanitize+resolve)": {},
    "sanitize_html=False": {"sanitize_html": False},
    "resolve_relative_uris=False": {"resolve_relative_uris": False},
    "both False": {"sanitize_html": False, "resolve_relative_uris": False},
}


def build_feed(items: int, html_bytes: int = 4096) -> bytes:
    """Return an RSS 2.0 document with ``items`` items of about ``html_bytes`` of HTML each."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        "<channel><title>Bench</title><link>https://example.com/</link>"
    ]
    for n in range(items):
        body = ""
        while len(body) < html_bytes:
            body += PARAGRAPH.format(n=n)
        parts.append(
            f"<item><title>Item {n}</title><link>https://example.com/{n}</link>"
            f"<guid>https://example.com/{n}</guid>"
            f"<pubDate>Mon, 06 Sep 2021 16:45:00 GMT</pubDate>"
            f"<description>{escape(body[:300])}</description>"
            f"<content:encoded>{escape(body)}</content:encoded></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """Return the shortest wall time of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str]) -> None:
    """Build the feed, time each option set, and print the results."""
    items = int(argv[1]) if len(argv) > 1 else 200
    repeats = int(argv[2]) if len(argv) > 2 else 5
    body = build_feed(items)
    headers = {"content-type": "application/rss+xml", "content-location": "https://example.com/"}
    print(f"feed: {items} items, {len(body) / 1024:.0f} KiB; best of {repeats}")
    baseline = 0.0
    for label, options in OPTIONS.items():
        elapsed = best_of(
            repeats,
            lambda options=options: feedparser.parse(  # type: ignore[misc]
                io.BytesIO(body), response_headers=headers, **options
            ),
        )
        baseline = baseline or elapsed
        print(f"{label:30} {elapsed * 1000:8.1f} ms   x{baseline / elapsed:.2f} faster")
    result = FetchResult(
        "bench", "https://example.com/", 200, body, Validators(), headers["content-type"]
    )
    feed = FeedConfig(name="bench", url=result.url)
    elapsed = best_of(repeats, lambda: parse(result, feed))
    print(f"{'poster.parse.parse (all items)':30} {elapsed * 1000:8.1f} ms")


if __name__ == "__main__":
    main(sys.argv)
