"""Build a deterministic farm of RSS 2.0 and Atom 1.0 feeds, and change some of them on demand.

Every feed is generated from its own seeded random stream, so a feed can be rewritten alone
(reset to its base items, or given one more item) and come out byte for byte the same each time.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

SEED = 20240501
FEEDS = 1_000
ITEMS = 30
CHANGED_SHARE = 0.10
NEWEST = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
"""The date of the newest base item of feed 0; other feeds are a few minutes older."""

_VOCABULARY = (
    "city council road works bridge tram station market river harbour school library museum "
    "festival budget report mayor district park winter summer morning evening weekend season "
    "residents visitors drivers cyclists engineers teachers volunteers officials neighbours "
    "opened closed announced reviewed approved delayed expanded repaired planned discussed "
    "new old central northern southern quiet busy local public annual temporary historic "
    "the a of to in on for with after before during about across near under over between"
)
_WORDS = _VOCABULARY.split()
_TOPICS = ("news", "sport", "culture", "business", "science", "travel", "food", "weather")


@dataclass(frozen=True)
class FeedSpec:
    """One feed of the farm: its number, format and path under the farm's root."""

    index: int
    kind: str  # "rss" or "atom"

    @property
    def name(self) -> str:
        """Return the feed's name, used by both tools."""
        return f"feed-{self.index:04d}"

    @property
    def path(self) -> str:
        """Return the feed's path relative to the farm's root (and to the server's root)."""
        suffix = "xml" if self.kind == "rss" else "atom"
        return f"{self.kind}/{self.name}.{suffix}"


@dataclass(frozen=True)
class Farm:
    """The feeds on disk and which of them the update scenario changes."""

    root: Path
    feeds: tuple[FeedSpec, ...]
    changed: tuple[FeedSpec, ...]

    def url(self, base: str, spec: FeedSpec) -> str:
        """Return the URL of ``spec`` on a server whose document root is the farm."""
        return f"{base.rstrip('/')}/{spec.path}"

    def bytes_on_disk(self) -> int:
        """Return the total size of every feed file."""
        return sum((self.root / spec.path).stat().st_size for spec in self.feeds)


def _sentences(count: int = 400) -> list[str]:
    """Return a fixed pool of plain sentences to build paragraphs from."""
    rng = random.Random(f"{SEED}:sentences")
    pool = []
    for _ in range(count):
        words = rng.choices(_WORDS, k=rng.randint(9, 22))
        pool.append(" ".join(words).capitalize() + ".")
    return pool


_POOL = _sentences()


def _paragraph(rng: random.Random, link: str) -> str:
    """Return a paragraph of a few sentences with a link and some inline emphasis."""
    parts = rng.choices(_POOL, k=rng.randint(3, 6))
    first, *rest = parts[0].split(" ", 1)
    parts[0] = f"<strong>{first}</strong> {' '.join(rest)}"
    anchor = rng.randrange(len(parts))
    parts[anchor] = f'<a href="{link}?ref=p{anchor}">{parts[anchor]}</a>'
    if len(parts) > 2:
        parts[-1] = f"<em>{parts[-1]}</em>"
    return "<p>" + " ".join(parts) + "</p>"


def _body(rng: random.Random, link: str, image: str) -> str:
    """Return an item's HTML: paragraphs, a list, an image and a closing link, a few KB."""
    blocks = [_paragraph(rng, link) for _ in range(rng.randint(2, 3))]
    items = "".join(f"<li>{rng.choice(_POOL)}</li>" for _ in range(rng.randint(3, 5)))
    blocks.append(f"<ul>{items}</ul>")
    blocks.append(f'<p><img src="{image}" alt="Photo" width="800" height="533"></p>')
    blocks += [_paragraph(rng, link) for _ in range(rng.randint(1, 3))]
    blocks.append(f'<p>Read more at <a href="{link}">the full story</a>.</p>')
    return "\n".join(blocks)


@dataclass(frozen=True)
class _Item:
    """One generated item, ready to be written in either format."""

    guid: str
    title: str
    link: str
    date: datetime
    topic: str
    summary: str
    html: str
    image: str
    image_bytes: int


def _item(spec: FeedSpec, n: int) -> _Item:
    """Return item ``n`` of feed ``spec``; item ``ITEMS`` is the one the update adds."""
    rng = random.Random(f"{SEED}:{spec.index}:{n}")
    host = f"site{spec.index % 97:02d}.example.org"
    link = f"https://{host}/{spec.index}/articles/{n:03d}"
    image = f"https://img.example.org/{spec.name}/item-{n:03d}.jpg"
    title = " ".join(rng.choices(_WORDS, k=rng.randint(4, 9))).capitalize()
    date = NEWEST - timedelta(minutes=3 * spec.index) - timedelta(hours=ITEMS - 1 - n)
    return _Item(
        guid=f"urn:bench:{spec.name}:item-{n:03d}",
        title=f"{title} ({n})",
        link=link,
        date=date,
        topic=rng.choice(_TOPICS),
        summary=rng.choice(_POOL),
        html=_body(rng, link, image),
        image=image,
        image_bytes=rng.randint(40_000, 400_000),
    )


def _rss_item(item: _Item) -> str:
    """Return an RSS 2.0 <item> with content:encoded and an image enclosure.

    The HTML goes in CDATA sections, as WordPress writes it; the Atom feeds escape it instead.
    """
    return (
        f"<item><title>{escape(item.title)}</title><link>{item.link}</link>"
        f'<guid isPermaLink="false">{item.guid}</guid>'
        f"<pubDate>{format_datetime(item.date, usegmt=True)}</pubDate>"
        f"<category>{item.topic}</category>"
        f"<description><![CDATA[{item.summary}]]></description>"
        f"<content:encoded><![CDATA[{item.html}]]></content:encoded>"
        f'<enclosure url="{item.image}" type="image/jpeg" length="{item.image_bytes}"/>'
        "</item>\n"
    )


def _atom_entry(item: _Item) -> str:
    """Return an Atom 1.0 <entry> with HTML content and an enclosure link."""
    stamp = item.date.isoformat().replace("+00:00", "Z")
    return (
        f"<entry><title>{escape(item.title)}</title><id>{item.guid}</id>"
        f'<link rel="alternate" type="text/html" href="{item.link}"/>'
        f'<link rel="enclosure" type="image/jpeg" length="{item.image_bytes}" '
        f'href="{item.image}"/>'
        f"<published>{stamp}</published><updated>{stamp}</updated>"
        f'<category term="{item.topic}"/>'
        f"<summary>{escape(item.summary)}</summary>"
        f'<content type="html">{escape(item.html)}</content>'
        "</entry>\n"
    )


def _rss(spec: FeedSpec, items: Sequence[_Item]) -> str:
    """Return an RSS 2.0 document, newest item first."""
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">\n'
        f"<channel><title>Bench feed {spec.index}</title>"
        f"<link>https://site{spec.index % 97:02d}.example.org/{spec.index}/</link>"
        f"<description>Synthetic feed {spec.index}</description><language>en</language>\n"
    )
    return head + "".join(_rss_item(item) for item in items) + "</channel></rss>\n"


def _atom(spec: FeedSpec, items: Sequence[_Item]) -> str:
    """Return an Atom 1.0 document, newest entry first."""
    updated = items[0].date.isoformat().replace("+00:00", "Z")
    site = quoteattr(f"https://site{spec.index % 97:02d}.example.org/{spec.index}/")
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<title>Bench feed {spec.index}</title><id>urn:bench:{spec.name}</id>"
        f'<link rel="alternate" href={site}/><updated>{updated}</updated>'
        "<author><name>Bench newsroom</name></author>\n"
    )
    return head + "".join(_atom_entry(item) for item in items) + "</feed>\n"


def write_feed(root: Path, spec: FeedSpec, *, extra: bool = False) -> None:
    """Write ``spec``'s document atomically: its base items, plus the update's item if ``extra``."""
    count = ITEMS + 1 if extra else ITEMS
    items = [_item(spec, n) for n in reversed(range(count))]
    text = _rss(spec, items) if spec.kind == "rss" else _atom(spec, items)
    target = root / spec.path
    scratch = target.with_name(target.name + ".tmp")
    scratch.write_text(text, encoding="utf-8")
    # A rename, so the server never sends a half-written file.
    os.replace(scratch, target)


def plan(root: Path, feeds: int = FEEDS) -> Farm:
    """Return the farm's layout: half RSS, half Atom, and a seeded tenth to change."""
    specs = tuple(FeedSpec(n, "rss" if n % 2 == 0 else "atom") for n in range(feeds))
    share = max(1, round(feeds * CHANGED_SHARE))
    changed = sorted(random.Random(f"{SEED}:changed").sample(specs, share), key=lambda s: s.index)
    return Farm(root, specs, tuple(changed))


def build(root: Path, feeds: int = FEEDS) -> Farm:
    """Write every feed of the farm under ``root`` and return its layout."""
    farm = plan(root, feeds)
    for kind in ("rss", "atom"):
        (root / kind).mkdir(parents=True, exist_ok=True)
    for spec in farm.feeds:
        write_feed(root, spec)
    return farm


def reset(farm: Farm) -> None:
    """Put the changed feeds back to their base items."""
    for spec in farm.changed:
        write_feed(farm.root, spec)


def update(farm: Farm) -> None:
    """Give each changed feed one new item; the rewrite changes its ETag and Last-Modified."""
    for spec in farm.changed:
        write_feed(farm.root, spec, extra=True)
