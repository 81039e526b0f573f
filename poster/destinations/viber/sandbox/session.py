"""Point a configuration at a fresh local sandbox channel, webhook and all."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import httpx

from poster.config import Config, DestinationConfig
from poster.daemon.listener import WebhookReceiver
from poster.destinations.viber.api import ViberChannel
from poster.destinations.viber.sandbox.server import DEFAULT_CLI_PORT, Sandbox
from poster.errors import HostError, WebhookError
from poster.frozen import frozen, replace
from poster.media.setup import files_folder

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "sandbox-token"
SANDBOX = "sandbox"
"""The name deliveries to a sandbox are recorded under."""
SAMPLES_FOLDER = "samples"
"""The folder beside feeds.toml whose pictures the sandbox serves at /samples/."""


@frozen
class SandboxSession:
    """A running sandbox channel and the configuration and token that post to it."""

    config: Config
    token: str
    sandbox: Sandbox

    def destination(self) -> tuple[DestinationConfig, str]:
        """Return the sandbox as a destination called ``sandbox``, and its token.

        Its own name keeps posts to the sandbox from counting as posts to the real channel.
        """
        viber = self.config.viber
        spec = DestinationConfig(SANDBOX, "viber", viber.min_gap, viber.max_per_pass, viber)
        return spec, self.token


def reroute(config: Config, sandbox: Sandbox) -> Config:
    """Return ``config`` posting to ``sandbox``: its API, its sender, and no pacing."""
    viber = replace(
        config.viber,
        api_url=sandbox.api_url,
        sender=None,
        token_file=None,
        # The sandbox has no subscribers to flood, so posts need not wait for each other.
        min_gap=timedelta(0),
    )
    return replace(config, viber=viber)


@contextmanager
def sandbox_session(
    config: Config, *, port: int = DEFAULT_CLI_PORT, any_port: bool = True
) -> Iterator[SandboxSession]:
    """Start a sandbox and a webhook receiver, set the webhook, and yield the rerouted config.

    With ``any_port`` a taken ``port`` is replaced by a free one; without, it is a ``HostError``.
    """
    with ExitStack() as stack:
        sandbox = _start_sandbox(port, any_port, config.path.parent / SAMPLES_FOLDER)
        stack.callback(sandbox.stop)
        receiver = stack.enter_context(WebhookReceiver(SANDBOX_TOKEN, port=0))
        client = stack.enter_context(httpx.Client(trust_env=False))
        result = ViberChannel(client, SANDBOX_TOKEN, api_url=sandbox.api_url).set_webhook(
            receiver.url
        )
        if not result.ok:
            raise WebhookError(f"the sandbox refused the webhook: {result.explanation}")
        yield SandboxSession(reroute(config, sandbox), SANDBOX_TOKEN, sandbox)


def _start_sandbox(port: int, any_port: bool, samples: Path) -> Sandbox:
    """Start a sandbox on ``port``, or on any free port when that one is taken and allowed."""
    folder = samples if samples.is_dir() else None
    try:
        return Sandbox(token=SANDBOX_TOKEN, port=port, samples=folder).start()
    except OSError as exc:
        if not any_port:
            change = "choose another port with --port"
            raise HostError.listening(exc, "the sandbox", ("127.0.0.1", port), change) from exc
        log.warning("event=sandbox-port-taken port=%d", port)
        return Sandbox(token=SANDBOX_TOKEN, port=0, samples=folder).start()


def serve_media(session: SandboxSession, state_dir: Path) -> Config:
    """Have the sandbox serve the images converted in ``state_dir``; return the config to use.

    The run then converts images that a channel would refuse and posts them from the sandbox,
    as a real deployment posts them from its listener.
    """
    session.sandbox.media = files_folder(state_dir)
    media = replace(session.config.media, public_url=session.sandbox.url + "media")
    return replace(session.config, media=media)
