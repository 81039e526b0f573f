"""Read the sandbox page as a person would: a headless Chromium and an element tree."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from html.parser import HTMLParser

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Node:
    """One element of a parsed page: tag, attributes and children (nodes or text)."""

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Node | str] = []

    @property
    def classes(self) -> list[str]:
        """Return the element's class names."""
        return self.attrs.get("class", "").split()

    def text(self) -> str:
        """Return the text a person reads inside the element."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, match: Callable[[Node], bool]) -> list[Node]:
        """Return every element below this one that matches, in document order."""
        found: list[Node] = []
        for child in self.children:
            if isinstance(child, Node):
                found += [child] if match(child) else []
                found += child.find_all(match)
        return found

    def by_class(self, name: str) -> Node:
        """Return the one element below this one with class ``name``."""
        [node] = self.find_all(lambda n: name in n.classes)
        return node

    def by_tag(self, tag: str) -> list[Node]:
        """Return the elements below this one with tag ``tag``."""
        return self.find_all(lambda n: n.tag == tag)


class _TreeBuilder(HTMLParser):
    VOID = frozenset(
        {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_page(markup: str) -> Node:
    """Return the element tree of an HTML document."""
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root


def chromium() -> str:
    """Return the Chromium executable; skip locally, fail on CI, when it is missing."""
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required on CI for the sandbox page test")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found
