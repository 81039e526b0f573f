"""Define what the sandbox commands need from the kind whose sandbox stands in for a destination.

``run --once --sandbox`` posts one pass to it, ``studio`` shows the feeds' newest items on its
page, and ``sandbox`` serves it, with the gateways' fakes, until Ctrl-C.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from poster.config import Config, DestinationConfig


class PassSandbox(Protocol):
    """A running sandbox one pass posts to instead of the configured destinations."""

    @property
    def config(self) -> Config:
        """Return the configuration rerouted to the sandbox, its media served from it."""
        ...

    def stand_in(self) -> tuple[DestinationConfig, str]:
        """Return the sandbox as a destination, and its token."""
        ...

    def linger(self) -> None:
        """Keep the page up until Ctrl-C when someone can press it; else list what it got."""
        ...


class StudioPage(Protocol):
    """A sandbox page showing the feeds' newest items, rendered again on every save."""

    @property
    def url(self) -> str:
        """Return the page's address."""
        ...

    def run(self, stop: threading.Event, show: Callable[[list[str]], None]) -> None:
        """Render again on each change until ``stop`` is set, showing each render's lines."""
        ...


class SandboxHost(Protocol):
    """The sandbox of a kind: what ``run --sandbox``, ``studio`` and ``sandbox`` open."""

    def for_pass(
        self, config: Config, state_dir: Path, *, port: int, any_port: bool
    ) -> AbstractContextManager[PassSandbox]:
        """Start a sandbox for one pass of ``config`` with its state in ``state_dir``."""
        ...

    def studio(
        self, config: Config, *, port: int, any_port: bool, feeds: Sequence[str], limit: int
    ) -> AbstractContextManager[StudioPage]:
        """Start a studio page for ``feeds`` (all when empty), ``limit`` items each.

        With ``any_port`` a taken ``port`` is replaced by a free one; without, it is an error.
        """
        ...

    def serve(self, tokens: Sequence[str], port: int) -> None:
        """Serve a sandbox with a destination per token and the kinds' fakes until Ctrl-C."""
        ...
