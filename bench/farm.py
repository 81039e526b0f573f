"""Build a deterministic farm of feeds, and change some of them on demand.

Two styles: ``full``, half RSS 2.0 and half Atom 1.0 in UTF-8 with a few KB of HTML per item;
``small``, RSS 2.0, Atom 1.0 and RSS 1.0 (RDF) in turn, in UTF-8, ISO-8859-1 or windows-1251,
with a one-sentence summary of varying length per item and no HTML body. Every feed is
generated from its own seeded random stream, so a feed can be rewritten alone (reset to its base
items, or given more items) and come out byte for byte the same each time.
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


STYLES = ("full", "small")
_SUFFIX = {"rss": "xml", "atom": "atom", "rdf": "rdf"}
_ENCODINGS = ("utf-8", "iso-8859-1", "windows-1251")
# Words each encoding can carry, so the non-UTF-8 feeds hold characters that need decoding.
_ACCENTED = {"utf-8": "café Zürich Köln Łódź", "iso-8859-1": "café Zürich Köln señor"}
_ACCENTED["windows-1251"] = "Київ Москва улица"


@dataclass(frozen=True)
class FeedSpec:
    """One feed of the farm: its number, format, style, encoding and path under the root."""

    index: int
    kind: str  # "rss", "atom" or "rdf"
    style: str = "full"
    encoding: str = "utf-8"

    @property
    def name(self) -> str:
        """Return the feed's name, used by both tools."""
        return f"feed-{self.index:04d}"

    @property
    def path(self) -> str:
        """Return the feed's path relative to the farm's root (and to the server's root)."""
        return f"{self.kind}/{self.name}.{_SUFFIX[self.kind]}"


@dataclass(frozen=True)
class Farm:
    """The feeds on disk and which of them the update scenario changes."""

    root: Path
    feeds: tuple[FeedSpec, ...]
    changed: tuple[FeedSpec, ...]
    style: str = "full"

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


def item_link(spec: FeedSpec, n: int) -> str:
    """Return the link of item ``n`` of feed ``spec``, which no other item shares."""
    return f"https://site{spec.index % 97:02d}.example.org/{spec.index}/articles/{n:03d}"


def _item(spec: FeedSpec, n: int) -> _Item:
    """Return item ``n`` of feed ``spec``; items from ``ITEMS`` on are the ones updates add."""
    rng = random.Random(f"{SEED}:{spec.index}:{n}")
    if spec.style == "small":
        return _small_item(spec, n, rng)
    link = item_link(spec, n)
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


def _small_item(spec: FeedSpec, n: int, rng: random.Random) -> _Item:
    """Return a small item: a title, a link, an image and one sentence of 40 to 400 characters."""
    link = item_link(spec, n)
    image = f"https://img.example.org/{spec.name}/item-{n:03d}.jpg"
    title = " ".join(rng.choices(_WORDS, k=rng.randint(4, 9))).capitalize()
    words = rng.choices(_WORDS, k=rng.randint(6, 60))
    words.insert(rng.randrange(len(words)), _ACCENTED[spec.encoding])
    date = NEWEST - timedelta(minutes=3 * spec.index) - timedelta(hours=ITEMS - 1 - n)
    return _Item(
        guid=f"urn:bench:{spec.name}:item-{n:03d}",
        title=f"{title} ({n})",
        link=link,
        date=date,
        topic=rng.choice(_TOPICS),
        summary=" ".join(words).capitalize() + ".",
        html="",
        image=image,
        image_bytes=rng.randint(40_000, 400_000),
    )


def _rss_item(item: _Item) -> str:
    """Return an RSS 2.0 <item> with an image enclosure and content:encoded when it has HTML.

    The HTML goes in CDATA sections, as WordPress writes it; the Atom feeds escape it instead.
    """
    return (
        f"<item><title>{escape(item.title)}</title><link>{item.link}</link>"
        f'<guid isPermaLink="false">{item.guid}</guid>'
        f"<pubDate>{format_datetime(item.date, usegmt=True)}</pubDate>"
        f"<category>{item.topic}</category>"
        f"<description><![CDATA[{item.summary}]]></description>"
        + (f"<content:encoded><![CDATA[{item.html}]]></content:encoded>" if item.html else "")
        + f'<enclosure url="{item.image}" type="image/jpeg" length="{item.image_bytes}"/>'
        "</item>\n"
    )


def _atom_entry(item: _Item) -> str:
    """Return an Atom 1.0 <entry> with an enclosure link and HTML content when it has some."""
    stamp = item.date.isoformat().replace("+00:00", "Z")
    return (
        f"<entry><title>{escape(item.title)}</title><id>{item.guid}</id>"
        f'<link rel="alternate" type="text/html" href="{item.link}"/>'
        f'<link rel="enclosure" type="image/jpeg" length="{item.image_bytes}" '
        f'href="{item.image}"/>'
        f"<published>{stamp}</published><updated>{stamp}</updated>"
        f'<category term="{item.topic}"/>'
        f"<summary>{escape(item.summary)}</summary>"
        + (f'<content type="html">{escape(item.html)}</content>' if item.html else "")
        + "</entry>\n"
    )


def _rdf_item(item: _Item) -> str:
    """Return an RSS 1.0 <item> with Dublin Core date and subject."""
    return (
        f'<item rdf:about="{item.link}"><title>{escape(item.title)}</title>'
        f"<link>{item.link}</link><description>{escape(item.summary)}</description>"
        f"<dc:date>{item.date.isoformat()}</dc:date><dc:subject>{item.topic}</dc:subject>"
        "</item>\n"
    )


def _rdf(spec: FeedSpec, items: Sequence[_Item]) -> str:
    """Return an RSS 1.0 (RDF) document, newest item first."""
    site = f"https://site{spec.index % 97:02d}.example.org/{spec.index}/"
    sequence = "".join(f'<rdf:li rdf:resource="{item.link}"/>' for item in items)
    head = (
        f'<?xml version="1.0" encoding="{spec.encoding}"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        f'<channel rdf:about="{site}"><title>Bench feed {spec.index}</title><link>{site}</link>'
        f"<description>Synthetic feed {spec.index}</description>"
        f"<items><rdf:Seq>{sequence}</rdf:Seq></items></channel>\n"
    )
    return head + "".join(_rdf_item(item) for item in items) + "</rdf:RDF>\n"


def _rss(spec: FeedSpec, items: Sequence[_Item]) -> str:
    """Return an RSS 2.0 document, newest item first."""
    head = (
        f'<?xml version="1.0" encoding="{spec.encoding}"?>\n'
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
        f'<?xml version="1.0" encoding="{spec.encoding}"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<title>Bench feed {spec.index}</title><id>urn:bench:{spec.name}</id>"
        f'<link rel="alternate" href={site}/><updated>{updated}</updated>'
        "<author><name>Bench newsroom</name></author>\n"
    )
    return head + "".join(_atom_entry(item) for item in items) + "</feed>\n"


_WRITERS = {"rss": _rss, "atom": _atom, "rdf": _rdf}


def write_feed(root: Path, spec: FeedSpec, *, extra: int = 0) -> None:
    """Write ``spec``'s document atomically: its base items, plus ``extra`` items added later."""
    items = [_item(spec, n) for n in reversed(range(ITEMS + extra))]
    text = _WRITERS[spec.kind](spec, items)
    target = root / spec.path
    scratch = target.with_name(target.name + ".tmp")
    scratch.write_bytes(text.encode(spec.encoding))
    # A rename, so the server never sends a half-written file.
    os.replace(scratch, target)


def _spec(n: int, style: str) -> FeedSpec:
    """Return feed ``n`` of a farm in ``style``."""
    if style == "full":
        return FeedSpec(n, "rss" if n % 2 == 0 else "atom")
    return FeedSpec(n, ("rss", "atom", "rdf")[n % 3], style, _ENCODINGS[n // 3 % 3])


def plan(root: Path, feeds: int = FEEDS, style: str = "full") -> Farm:
    """Return the farm's layout and a seeded tenth of its feeds to change."""
    specs = tuple(_spec(n, style) for n in range(feeds))
    share = max(1, round(feeds * CHANGED_SHARE))
    changed = sorted(random.Random(f"{SEED}:changed").sample(specs, share), key=lambda s: s.index)
    return Farm(root, specs, tuple(changed), style)


def build(root: Path, feeds: int = FEEDS, style: str = "full") -> Farm:
    """Write every feed of the farm under ``root`` and return its layout."""
    farm = plan(root, feeds, style)
    for kind in _WRITERS:
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
        write_feed(farm.root, spec, extra=1)
