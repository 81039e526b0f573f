"""Time poster's parse per item and format against the floor: expat and ElementTree alone.

Run as ``python bench/parse_floor.py [repeats]`` (``make bench`` runs it too). For farm feeds of
each format and style (RSS 2.0, Atom 1.0 and RSS 1.0 in the full and small styles, UTF-8,
ISO-8859-1 and windows-1251), it takes the best CPU time of poster's parse, of ElementTree
building the tree of the same bytes and of expat reading them with no handlers, calling the three
in turn so that load on the machine hits them alike. Before timing it checks that the direct
reader read the document and gave the feedparser path's feed.
"""

from __future__ import annotations

import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from xml.parsers import expat

import farm as farms
from parse_paths import best_of

from poster.config import FeedConfig
from poster.models import FetchResult, ParsedFeed, Validators
from poster.parse import parse
from poster.parse.direct import parse_direct
from poster.parse.xmlfeed import parse_xml

TARGET = 3.0
"""The most poster's parse may take, as a multiple of ElementTree's, for well-formed feeds."""
URL = "http://127.0.0.1/feed"
CASES = (
    ("RSS 2.0, full", farms.FeedSpec(0, "rss")),
    ("Atom 1.0, full", farms.FeedSpec(1, "atom")),
    ("RSS 2.0, small", farms.FeedSpec(0, "rss", "small")),
    ("Atom 1.0, small", farms.FeedSpec(1, "atom", "small")),
    ("RSS 1.0, small", farms.FeedSpec(2, "rdf", "small")),
    ("RSS 2.0, small, ISO-8859-1", farms.FeedSpec(3, "rss", "small", "iso-8859-1")),
    ("Atom 1.0, small, windows-1251", farms.FeedSpec(4, "atom", "small", "windows-1251")),
)


@dataclass(frozen=True)
class ParseTime:
    """Best microseconds per item of poster, ElementTree and expat on one document."""

    label: str
    kind: str
    items: int
    kib: float
    poster_us: float
    tree_us: float
    expat_us: float

    @property
    def ratio(self) -> float:
        """Return poster's time as a multiple of ElementTree's."""
        return self.poster_us / self.tree_us


def _expat_only(body: bytes) -> None:
    """Read ``body`` with expat and no handlers: the least any XML reader can do."""
    expat.ParserCreate().Parse(body, True)


def measure(repeats: int) -> list[ParseTime]:
    """Build each case's document, check the fast path reads it, and time the three readers."""
    times = []
    with tempfile.TemporaryDirectory(prefix="poster-parse-") as scratch:
        root = Path(scratch)
        for label, spec in CASES:
            (root / spec.kind).mkdir(exist_ok=True)
            farms.write_feed(root, spec)
            body = (root / spec.path).read_bytes()
            times.append(_time_one(label, spec.kind, body, repeats))
    return times


def _time_one(label: str, kind: str, body: bytes, repeats: int) -> ParseTime:
    """Time one document, after checking that poster reads it directly and correctly."""
    feed = FeedConfig(name="bench", url=URL)
    result = FetchResult("bench", URL, 200, body, Validators(), "application/xml")
    fast = parse_direct(result, feed)
    if not isinstance(fast, ParsedFeed) or fast != parse_xml(result, feed):
        raise SystemExit(f"parse: {label}: the direct reader did not give feedparser's items")
    runs: dict[str, Callable[[], object]] = {
        "poster": partial(parse, result, feed),
        "tree": partial(ET.fromstring, body),
        "expat": partial(_expat_only, body),
    }
    best = best_of(repeats, runs)
    per_item = {name: seconds * 1e6 / len(fast.items) for name, seconds in best.items()}
    return ParseTime(
        label,
        kind,
        len(fast.items),
        len(body) / 1024,
        per_item["poster"],
        per_item["tree"],
        per_item["expat"],
    )


def lines(times: list[ParseTime]) -> list[str]:
    """Return the Markdown table of the parse times with each document's verdict."""
    rows = [
        "| document | items | KiB | poster µs/item | ElementTree µs/item | expat µs/item | "
        f"poster/ElementTree (target ≤ {TARGET:g}×) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for t in times:
        verdict = "met" if t.ratio <= TARGET else "not met"
        rows.append(
            f"| {t.label} | {t.items} | {t.kib:.0f} | {t.poster_us:.1f} | {t.tree_us:.1f} | "
            f"{t.expat_us:.1f} | {t.ratio:.2f}×: {verdict} |"
        )
    return rows


def main(argv: list[str]) -> None:
    """Print the table for ``argv[1]`` repeats (default 30)."""
    repeats = int(argv[1]) if len(argv) > 1 else 30
    print("\n".join(lines(measure(repeats))))


if __name__ == "__main__":
    main(sys.argv)
