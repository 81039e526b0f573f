"""Run ``poster sandbox``: channels, one per token, and the gateways' fakes until Ctrl-C."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from poster.destinations.viber.sandbox import Sandbox
from poster.destinations.viber.sandbox.server import DEFAULT_CLI_PORT
from poster.sandbox.gateways import GatewayFakes

PUMP_SECONDS = 1.0
"""How often due status callbacks go out from the gateways' fakes."""


def open_sandbox(
    tokens: Sequence[str],
    fakes: GatewayFakes,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_CLI_PORT,
) -> Sandbox:
    """Return a sandbox, not started, with a channel per token and the gateways mounted."""
    if not tokens:
        raise ValueError("a sandbox needs at least one token")
    sandbox = Sandbox(token=tokens[0], host=host, port=port, mounts=[fakes])
    for token in tokens[1:]:
        sandbox.add_channel(token)
    return sandbox


def describe(sandbox: Sandbox, fakes: GatewayFakes) -> str:
    """Return the lines that tell a person where the sandbox is and how to point poster at it."""
    sender = next(
        (m["id"] for m in sandbox.channel.members if m.get("role") == "superadmin"), "(none)"
    )
    names = ", ".join(f"{n}. {c.channel_name!r}" for n, c in enumerate(sandbox.channels.all, 1))
    gateways = [
        f"{m.name}: {sandbox.url.rstrip('/')}{m.base} ({m.credentials})" for m in fakes.mounted
    ]
    return "\n".join(
        [
            f"Sandbox channels {names} are running, with the gateways' fakes.",
            f"  page       {sandbox.url}  (open it in a browser; a tab per channel and gateway)",
            f"  api_url    {sandbox.api_url}  ([viber] api_url in feeds.toml)",
            f"  sender     {sender}  ([viber] from, a superadmin)",
            "  token      the ones it was started with, in that order; the token picks the channel",
            *(f"  gateway    {line}" for line in gateways),
            f"  faults     POST to {sandbox.url}sandbox/channels/1/faults (README: Sandbox)",
            "Press Ctrl-C to stop.",
        ]
    )


def serve_forever(
    *,
    tokens: Sequence[str] = ("sandbox-token",),
    host: str = "127.0.0.1",
    port: int = DEFAULT_CLI_PORT,
    out: TextIO | None = None,
    until: threading.Event | None = None,
) -> None:
    """Run a sandbox, print where to look, and block until Ctrl-C (or ``until`` is set)."""
    stop, fakes = until or threading.Event(), GatewayFakes()
    with open_sandbox(tokens, fakes, host=host, port=port) as sandbox:
        print(describe(sandbox, fakes), file=out or sys.stdout, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(PUMP_SECONDS):
                fakes.pump()
