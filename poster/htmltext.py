"""Turn feed HTML into clean plain text: blocks as paragraphs, list items as bullets.

Apart from ``poster.text`` so that only what reads HTML loads Python's HTML parser.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCK_TAGS = (
    "address article aside blockquote dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr main nav ol p pre section table tbody thead tfoot tr ul"
)
_BLOCK = frozenset(_BLOCK_TAGS.split())
_SKIP = frozenset(("script", "style", "head", "title", "noscript", "template", "svg", "iframe"))
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_BLANKS = re.compile(r"\n{3,}")


class _TextBuilder(HTMLParser):
    """Collect text with paragraph breaks, bullets and link targets."""

    def __init__(self, show_links: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.show_links = show_links
        self.parts: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.links: list[tuple[str | None, int]] = []
        self.lists: list[list[int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self._start_list_item()
        elif tag in ("ul", "ol"):
            self.lists.append([0 if tag == "ol" else -1])
            self.parts.append("\n")
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.parts)))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self.parts.append(alt)
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in _BLOCK:
            self.pre_depth += tag == "pre"
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self.parts.append("\n\n")
        elif tag == "a":
            self._end_link()
        elif tag in _BLOCK:
            self.pre_depth = max(0, self.pre_depth - (tag == "pre"))
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "img", "hr"):
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if not self.pre_depth:
            data = data.replace("\n", " ")
        self.parts.append(data)

    def _start_list_item(self) -> None:
        self.parts.append("\n")
        if self.lists and self.lists[-1][0] >= 0:
            self.lists[-1][0] += 1
            self.parts.append(f"{self.lists[-1][0]}. ")
        else:
            self.parts.append("• ")

    def _end_link(self) -> None:
        if not self.links:
            return
        href, start = self.links.pop()
        if not self.show_links or not href or not href.startswith(("http://", "https://")):
            return
        label = "".join(self.parts[start:]).strip()
        if label and label != href and href not in label:
            self.parts.append(f" ({href})")


MARKUP_MAX = 256 * 1024
"""The most HTML read into text. A post shows a few thousand characters, while the parser keeps
a tuple per attribute: one tag of 8 MB made of ``a=b`` pairs took 1.6 GB and 15 s."""


def html_to_text(markup: str, *, links: bool = False) -> str:
    """Return readable plain text for HTML: blocks as paragraphs, list items as bullets.

    Entities are decoded and runs of white space collapsed. With ``links`` the target of each
    link whose text differs from its URL follows the text in parentheses.
    """
    if not markup:
        return ""
    if "<" not in markup:
        return _tidy(html.unescape(markup).replace("\r\n", "\n"))
    if len(markup) > MARKUP_MAX:
        markup = _whole_tags(markup[:MARKUP_MAX])
    builder = _TextBuilder(show_links=links)
    builder.feed(markup)
    builder.close()
    return _tidy("".join(builder.parts))


def _whole_tags(head: str) -> str:
    """Return ``head`` without a tag it cuts short, which the parser would show as text."""
    opened = head.rfind("<")
    return head[:opened] if opened > head.rfind(">") else head


def _tidy(text: str) -> str:
    """Collapse spaces inside lines and limit blank lines to one between paragraphs."""
    lines = [_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
