"""Serve the webhook, /healthz and /metrics on the daemon's one listener."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from poster.config import Config
from poster.errors import HostError
from poster.media.setup import files_folder, served_path
from poster.media.store import serve
from poster.webhook import WebhookReceiver

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"

Page = Callable[[], tuple[int, str, bytes]]


def start_listener(
    config: Config, token: str, health: Page, metrics: Page, state_dir: Path | None = None
) -> WebhookReceiver | None:
    """Start the webhook receiver with /healthz, /metrics and converted media, when it listens."""
    if config.webhook.listen is None:
        return None
    host, port = config.webhook.listen
    receiver = WebhookReceiver(token, host, port, config.webhook.path)
    receiver.add_route("/healthz", health)
    receiver.add_route("/metrics", metrics)
    if config.media.public_url is not None and state_dir is not None:
        folder = files_folder(state_dir)
        receiver.add_files(
            served_path(config.media.public_url),
            lambda method, name, headers: serve(folder, method, name, headers),
        )
    try:
        receiver.start()
    except OSError as exc:
        fix = "stop what uses it (another poster?), or change [webhook] listen in feeds.toml"
        raise HostError.listening(exc, "the webhook listener", (host, port), fix) from exc
    log.info("event=listening url=%s", receiver.url)
    return receiver


def health_page(running: bool, fatal: str | None) -> tuple[int, str, bytes]:
    """Answer 200 while feeds are polled and the channel takes posts, else 503 and why."""
    if not running:
        return 503, TEXT, b"the scheduler or the posting thread stopped\n"
    if fatal is not None:
        return 503, TEXT, f"channel: {fatal}\n".encode()
    return 200, TEXT, b"ok\n"
