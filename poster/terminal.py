"""Make text safe to print on a terminal, whatever a feed or an API answer put in it."""

from __future__ import annotations

import re

_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""The characters a terminal may act on (escape sequences, bells, a C1 CSI): all C0 controls
but the tab and the line end, DEL, and the C1 controls."""


def terminal_safe(text: str) -> str:
    """Return ``text`` for a terminal: what a feed may hide in a title or key to move the cursor,
    retitle the window or clear the screen is shown escaped, as ``\\x1b``."""
    if _TERMINAL_CONTROLS.search(text) is None:
        return text
    return _TERMINAL_CONTROLS.sub(lambda found: f"\\x{ord(found[0]):02x}", text)
