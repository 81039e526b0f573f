"""Time the feedparser path against the ElementTree fast path on synthetic RSS feeds.

Run as ``python bench/parse_paths.py [repeats]``. For a 30-item and a 200-item RSS 2.0 feed
(about 4 KB of HTML per item, enclosures, Media RSS and categories), and the 30-item feed in
Cyrillic, it prints the best CPU time per feed of each path, alternating the two so that load
on the machine hits both alike, and checks that both give the same items.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from functools import partial
from xml.sax.saxutils import escape

from poster.config import FeedConfig
from poster.models import FetchResult, ParsedFeed, Validators
from poster.parse.fastxml import parse_fast
from poster.parse.xmlfeed import parse_xml

URL = "https://bench.example.com/feed.xml"
PARAGRAPH = (
    '<p>Lorem <b>ipsum</b> dolor sit amet, <a href="/articles/{n}/more?ref=feed">consectetur</a> '
    "adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. "
    '<img src="images/{n}.jpg" alt="figure {n}" width="640" height="480"> Ut enim ad minim '
    "veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo.</p>\n"
)
CYRILLIC = (
    "<p>Широкая <b>электрификация</b> южных губерний даст мощный толчок подъёму "
    '<a href="/статьи/{n}">сельского хозяйства</a>. Съешь же ещё этих мягких французских '
    'булок, да выпей чаю. <img src="/img/{n}.jpg" alt="рисунок {n}"></p>\n'
)
HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
    "<channel><title>Bench &amp; Co</title><link>https://bench.example.com/</link>"
    "<description>Synthetic feed</description>"
)


def build_feed(items: int, paragraph: str = PARAGRAPH, html_chars: int = 4096) -> bytes:
    """Return an RSS 2.0 document with ``items`` items of about ``html_chars`` of HTML each."""
    parts = [HEAD]
    for n in range(items):
        html = ""
        while len(html) < html_chars:
            html += paragraph.format(n=n)
        parts.append(
            f"<item><title>Item {n} &amp; more</title><link>https://bench.example.com/{n}</link>"
            f'<guid isPermaLink="false">bench-{n}</guid><dc:creator>Author {n % 7}</dc:creator>'
            f"<pubDate>Mon, 06 Sep 2021 16:{n % 60:02d}:00 GMT</pubDate>"
            f"<category>news</category><category>topic-{n % 5}</category>"
            f"<description>{escape(html[:300])}</description>"
            f"<content:encoded>{escape(html)}</content:encoded>"
            f'<enclosure url="https://cdn.example.com/{n}.mp3" length="{1000 + n}" '
            f'type="audio/mpeg"/><itunes:duration>00:{n % 60:02d}:10</itunes:duration>'
            f'<media:content url="https://cdn.example.com/{n}.jpg" type="image/jpeg" '
            f'medium="image"/><media:thumbnail url="https://cdn.example.com/{n}-s.jpg"/></item>'
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


FEEDS = [
    ("30 items", 30, PARAGRAPH),
    ("200 items", 200, PARAGRAPH),
    ("30 items, Cyrillic", 30, CYRILLIC),
]


def best_of(repeats: int, runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Return the shortest time of each run, calling the runs in turn ``repeats`` times.

    The time is this thread's CPU time: on a shared machine, wall time also counts the other
    processes' turns, and a longer run is more often interrupted than a shorter one.
    """
    best = dict.fromkeys(runs, float("inf"))
    gc.collect()
    for _ in range(repeats):
        for label, run in runs.items():
            start = time.thread_time()
            run()
            best[label] = min(best[label], time.thread_time() - start)
    return best


def main(argv: list[str]) -> None:
    """Build each feed, check both paths agree, time them and print the results."""
    repeats = int(argv[1]) if len(argv) > 1 else 20
    feed = FeedConfig(name="bench", url=URL)
    print(f"best of {repeats}, ms per feed")
    for label, items, paragraph in FEEDS:
        body = build_feed(items, paragraph)
        result = FetchResult("bench", URL, 200, body, Validators(), "application/rss+xml")
        fast = parse_fast(result, feed)
        if not isinstance(fast, ParsedFeed) or fast != parse_xml(result, feed):
            raise SystemExit(f"{label}: the fast path did not give the feedparser items")
        times = best_of(
            repeats,
            {
                "feedparser": partial(parse_xml, result, feed),
                "fast": partial(parse_fast, result, feed),
            },
        )
        slow_ms, fast_ms = times["feedparser"] * 1000, times["fast"] * 1000
        print(
            f"{label:22} {len(body) / 1024:5.0f} KiB: feedparser path {slow_ms:7.1f}  "
            f"fast path {fast_ms:7.1f}  x{slow_ms / fast_ms:.1f}"
        )


if __name__ == "__main__":
    main(sys.argv)
