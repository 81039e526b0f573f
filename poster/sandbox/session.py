"""Point a configuration at a fresh local sandbox channel, webhook and all."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta

import httpx

from poster.config import Config
from poster.destinations.viber import ViberChannel
from poster.errors import HostError, WebhookError
from poster.sandbox.server import DEFAULT_CLI_PORT, Sandbox
from poster.webhook import WebhookReceiver

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "sandbox-token"
SANDBOX_GAP = timedelta(seconds=0.2)
"""The sandbox has no subscribers to flood, so posts may follow each other quickly."""


@dataclass(frozen=True)
class SandboxSession:
    """A running sandbox channel and the configuration and token that post to it."""

    config: Config
    token: str
    sandbox: Sandbox


@contextmanager
def sandbox_session(
    config: Config, *, port: int = DEFAULT_CLI_PORT, any_port: bool = True
) -> Iterator[SandboxSession]:
    """Start a sandbox and a webhook receiver, set the webhook, and yield the rerouted config.

    With ``any_port`` a taken ``port`` is replaced by a free one; without, it is a ``HostError``.
    """
    with ExitStack() as stack:
        sandbox = _start_sandbox(port, any_port)
        stack.callback(sandbox.stop)
        receiver = stack.enter_context(WebhookReceiver(SANDBOX_TOKEN, port=0))
        client = stack.enter_context(httpx.Client())
        result = ViberChannel(client, SANDBOX_TOKEN, api_url=sandbox.api_url).set_webhook(
            receiver.url
        )
        if not result.ok:
            raise WebhookError(f"the sandbox refused the webhook: {result.explanation}")
        viber = replace(
            config.viber,
            api_url=sandbox.api_url,
            sender=None,
            token_file=None,
            min_gap=min(config.viber.min_gap, SANDBOX_GAP),
        )
        yield SandboxSession(replace(config, viber=viber), SANDBOX_TOKEN, sandbox)


def _start_sandbox(port: int, any_port: bool) -> Sandbox:
    """Start a sandbox on ``port``, or on any free port when that one is taken and allowed."""
    try:
        return Sandbox(token=SANDBOX_TOKEN, port=port).start()
    except OSError as exc:
        if not any_port:
            fix = "stop what uses it, or choose another port with --port"
            raise HostError.listening(exc, "the sandbox", ("127.0.0.1", port), fix) from exc
        log.info("event=sandbox-port-taken port=%d", port)
        return Sandbox(token=SANDBOX_TOKEN, port=0).start()
