"""Open the Viber sandbox for the sandbox commands: a pass's stand-in, the studio, the server."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx

from poster.config import Config, DestinationConfig
from poster.destinations.viber.sandbox.rerender import Render, Studio
from poster.destinations.viber.sandbox.server import post_line
from poster.destinations.viber.sandbox.session import (
    SandboxSession,
    sandbox_session,
    serve_media,
)
from poster.fetch.feed import make_client
from poster.frozen import frozen
from poster.sandbox.hooks import SandboxHost


@frozen
class PassChannel:
    """A sandbox channel one pass posts to, and the configuration rerouted to it."""

    session: SandboxSession
    config: Config

    def stand_in(self) -> tuple[DestinationConfig, str]:
        """Return the sandbox channel as a destination called ``sandbox``, and its token."""
        return self.session.destination()

    def linger(self) -> None:
        """Keep the page up until Ctrl-C when someone is there; else list the posts and say how."""
        posts = self.session.sandbox.posts
        got = f"The sandbox channel got {len(posts)} post{'' if len(posts) == 1 else 's'}"
        if sys.stdin is not None and sys.stdin.isatty():
            print(f"{got}: open {self.session.sandbox.url} to see them.")
            print("The page stays up until you press Ctrl-C.")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
            return
        # Without a terminal nobody can press Ctrl-C, so the page closes with this command.
        print(f"{got}:" if posts else "The sandbox channel got no posts.")
        for post in posts:
            print(f"  {post_line(post)}")
        print(
            "To see them on a page, run `make studio` or `poster studio` (it serves until Ctrl-C)."
        )


@frozen
class StudioChannel:
    """A studio re-rendering onto its sandbox channel's page."""

    studio: Studio

    @property
    def url(self) -> str:
        """Return the page's address."""
        return self.studio.session.sandbox.url

    def run(self, stop: threading.Event, show: Callable[[list[str]], None]) -> None:
        """Render again on each change until ``stop`` is set, showing each render's lines."""

        def lines(render: Render) -> None:
            show(render.lines())

        self.studio.run(stop, lines)


class ViberSandbox:
    """The Viber kind's sandbox: local channels the sandbox commands post to and show."""

    @contextlib.contextmanager
    def for_pass(
        self, config: Config, state_dir: Path, *, port: int, any_port: bool
    ) -> Iterator[PassChannel]:
        """Start a sandbox channel for one pass, serving the images converted in ``state_dir``."""
        with sandbox_session(config, port=port, any_port=any_port) as session:
            yield PassChannel(session, serve_media(session, state_dir))

    @contextlib.contextmanager
    def studio(
        self, config: Config, *, port: int, any_port: bool, feeds: Sequence[str], limit: int
    ) -> Iterator[StudioChannel]:
        """Start a sandbox channel and a studio rendering ``feeds`` (all when empty) onto it."""
        with (
            sandbox_session(config, port=port, any_port=any_port) as session,
            make_client() as client,
            httpx.Client(trust_env=False) as api,
        ):
            yield StudioChannel(
                Studio(config.path, session, client, api, feeds=list(feeds), limit=limit)
            )

    def serve(self, tokens: Sequence[str], port: int) -> None:
        """Serve a channel per token and the gateways' fakes until Ctrl-C."""
        from poster.destinations.viber.sandbox.run import serve_forever

        serve_forever(tokens=tokens, port=port)


SANDBOX: SandboxHost = ViberSandbox()
