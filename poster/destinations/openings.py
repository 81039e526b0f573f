"""Define what a kind is given to open a destination with.

``poster.destinations`` hands it out on first use; it lives apart from the receipts and the
other records of posting, so that a pass that posts nothing builds none of their classes.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from poster.frozen import frozen

if TYPE_CHECKING:
    import httpx

    from poster.destinations import Entries


@frozen
class Opening:
    """What a kind may use to open a destination: the config file, state, HTTP client."""

    config_file: str
    state_dir: Path
    http: httpx.Client
    state: Entries
    token: str | None = None
    """A token to use instead of the configured one (a sandbox's)."""
    retention: timedelta = timedelta(days=90)
    """How long the state keeps delivery records (``[daemon] retention``)."""
