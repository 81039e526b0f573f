"""Write the RSS fixtures in legacy encodings (run from this folder: python make_encoded.py).

The expected text lives in tests/test_parse_encoding.py; these bytes are committed.
"""

from __future__ import annotations

from pathlib import Path

CYRILLIC_TITLE = "Новости дня"
CYRILLIC_ITEM = "Съешь же ещё этих мягких французских булок"
CYRILLIC_BODY = (
    "Широкая электрификация южных губерний даст мощный толчок подъёму сельского хозяйства."
)
LATIN_TITLE = "Größe & Café"
LATIN_ITEM = "Naïve façade: «déjà vu»"
LATIN_BODY = "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich."

TEMPLATE = """<?xml version="1.0"{declaration}?>
<rss version="2.0">
  <channel>
    <title>{title}</title>
    <link>https://enc.example.com/</link>
    <description>{title}</description>
    <item>
      <title>{item}</title>
      <guid>{guid}</guid>
      <description>&lt;p&gt;{body}&lt;/p&gt;</description>
    </item>
  </channel>
</rss>
"""

FILES = {
    "rss20_windows1251.xml": ("windows-1251", True, CYRILLIC_TITLE, CYRILLIC_ITEM, CYRILLIC_BODY),
    "rss20_koi8r.xml": ("koi8-r", True, CYRILLIC_TITLE, CYRILLIC_ITEM, CYRILLIC_BODY),
    "rss20_koi8r_undeclared.xml": ("koi8-r", False, CYRILLIC_TITLE, CYRILLIC_ITEM, CYRILLIC_BODY),
    "rss20_iso88591.xml": ("iso-8859-1", True, LATIN_TITLE, LATIN_ITEM, LATIN_BODY),
    "rss20_utf8_cyrillic.xml": ("utf-8", True, CYRILLIC_TITLE, CYRILLIC_ITEM, CYRILLIC_BODY),
}


def render(encoding: str, declared: bool, title: str, item: str, body: str) -> bytes:
    """Return one fixture's bytes in ``encoding``."""
    text = TEMPLATE.format(
        declaration=f' encoding="{encoding}"' if declared else "",
        title=title.replace("&", "&amp;"),
        item=item,
        guid=f"enc-{encoding}",
        body=body,
    )
    return text.encode(encoding)


def main() -> None:
    """Write every fixture next to this script."""
    here = Path(__file__).parent
    for name, spec in FILES.items():
        (here / name).write_bytes(render(*spec))


if __name__ == "__main__":
    main()
