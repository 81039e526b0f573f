"""Normalize the text fields every feed format shares: titles, content, summaries, tags."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from poster.parse.itemmedia import absolutize
from poster.text import html_to_text, truncate

# A summary derived from the content is cut to this many characters.
SUMMARY_LIMIT = 500
LINE_LIMIT = 65_536
"""Characters a one-line field (a title, a name, a tag) keeps; the rest is cut."""

_HTML_HINT = re.compile(r"<(/?[a-zA-Z][a-zA-Z0-9]*\b[^<>]*|!--.*?--)>", re.DOTALL)
_HTML_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def string(value: object) -> str | None:
    """Return a JSON string or number as stripped text, or None for any other type or blank."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool) or not isinstance(value, int | float):
        return None
    else:
        text = str(value).strip()
    return text or None


IANA_RELATIONS = "http://www.iana.org/assignments/relation/"
"""RFC 4287 §4.2.7.2: a link relation named by this URI and a name is the same as the name."""


def relation(value: object) -> object:
    """Return a link's ``rel`` by its registered name: ``…/assignments/relation/hub`` is ``hub``."""
    if isinstance(value, str) and value.startswith(IANA_RELATIONS):
        return value[len(IANA_RELATIONS) :]
    return value


def looks_like_html(text: str) -> bool:
    """Tell whether text carries markup or entities rather than plain characters."""
    if "<" not in text and "&" not in text:
        return False  # both patterns start with one of them
    return bool(_HTML_HINT.search(text) or _HTML_ENTITY.search(text))


def plain_text(value: str, is_html: bool) -> str:
    """Return readable plain text for an HTML or plain-text value, paragraphs kept."""
    if is_html:
        return html_to_text(value)
    # Escaping first makes html_to_text only tidy white space, keeping "<" and "&" as written.
    return html_to_text(html.escape(value, quote=False))


def plain_line(value: object, is_html: bool | None = None) -> str:
    """Return a value as one line of plain text (titles, names); guess HTML when not told."""
    text = string(value) if not isinstance(value, str) else value
    if not text:
        return ""
    if not is_html and "&" not in text and "<" not in text and len(text) <= LINE_LIMIT:
        # What the steps below give for plain text, in one. Every white space character but
        # the space is unprintable: printable text with single inner spaces is kept as it is.
        if text.isprintable() and "  " not in text and text[0] != " " != text[-1]:
            return text
        return " ".join(text.split())
    # Splitting into words below costs a dozen times the text's size: a 10 MB title would
    # take over 100 MB, and no post shows more than a few thousand characters of it.
    cut = len(text) > LINE_LIMIT
    text = text[:LINE_LIMIT] if cut else text
    if is_html is None:
        is_html = looks_like_html(text)
    # Titles are often escaped twice ("&amp;amp;"), so entities left over are decoded too.
    line = plain_text(text, is_html) if is_html else html.unescape(text)
    line = " ".join(line.split())
    # The cut may have split the last word: drop it and mark the cut.
    return truncate(line, len(line) - 1) if cut else line


def text_to_html(text: str) -> str:
    """Return minimal HTML for plain text: escaped, paragraphs in <p>, line breaks as <br>."""
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    return "".join(
        "<p>" + html.escape(p, quote=False).replace("\n", "<br>\n") + "</p>" for p in paragraphs
    )


def from_html(markup: str, base: str | None) -> tuple[str, str]:
    """Return (content_html, content_text) for HTML content, relative URLs made absolute."""
    absolute_markup = absolutize(markup, base)
    return absolute_markup, html_to_text(absolute_markup)


def from_text(text: str) -> tuple[str, str]:
    """Return (content_html, content_text) for plain-text content."""
    tidy = plain_text(text, is_html=False)
    return text_to_html(tidy), tidy


def content(markup: str, text: str, base: str | None) -> tuple[str, str]:
    """Return (content_html, content_text) from HTML and/or plain text, the given text first."""
    if markup:
        content_html, content_text = from_html(markup, base)
    else:
        content_html, content_text = from_text(text) if text else ("", "")
    if markup and text:
        content_text = plain_text(text, is_html=False)
    return content_html, content_text


def body(
    markup: str, text: str, summary: str, base: str | None, summary_is_html: bool | None = None
) -> tuple[str, str, str]:
    """Return (content_html, content_text, summary) from JSON content fields and a summary.

    Whether the summary is HTML is guessed unless ``summary_is_html`` says.
    """
    content_html, content_text = content(markup, text, base)
    is_html = looks_like_html(summary) if summary_is_html is None else summary_is_html
    own = plain_text(summary, is_html)
    return content_html, content_text, summary_or_derived(own, content_text)


def summary_or_derived(summary: str, content_text: str) -> str:
    """Return the summary, or the start of the content when the entry has none."""
    return summary or truncate(content_text, SUMMARY_LIMIT)


def unique_strings(values: Iterable[object], is_html: bool | None = None) -> tuple[str, ...]:
    """Return the non-blank strings among ``values``, stripped, first spelling of each kept.

    Whether they are HTML is guessed unless ``is_html`` says.
    """
    seen: set[str] = set()
    kept = []
    for value in values:
        text = plain_line(string(value), is_html)
        folded = text.casefold()
        if text and folded not in seen:
            seen.add(folded)
            kept.append(text)
    return tuple(kept)
