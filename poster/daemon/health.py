"""Serve the webhook, /healthz and /metrics on the daemon's one listener."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from poster.config import Config
from poster.daemon.listener import WebhookReceiver
from poster.daemon.metrics import CONTENT_TYPE, Metrics
from poster.destinations.gateway.subscribers import GatewaySubscribers, subscriber_samples
from poster.errors import HostError
from poster.media.jpegstore import serve
from poster.media.setup import files_folder, served_path

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"

Page = Callable[[], tuple[int, str, bytes]]


def callback_tokens(destinations: Mapping[str, object]) -> tuple[str, ...]:
    """Return the tokens the webhook checks callbacks against: each destination's that has one."""
    found = (getattr(d, "callback_token", None) for d in destinations.values())
    return tuple(token for token in found if token)


def start_listener(
    config: Config,
    tokens: Sequence[str],
    health: Page,
    metrics: Page,
    state_dir: Path | None = None,
) -> WebhookReceiver | None:
    """Start the webhook receiver with /healthz, /metrics and converted media, when it listens."""
    if config.webhook.listen is None:
        return None
    host, port = config.webhook.listen
    receiver = WebhookReceiver(tokens, host, port, config.webhook.path)
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
        change = "change [webhook] listen in feeds.toml"
        raise HostError.listening(exc, "the webhook listener", (host, port), change) from exc
    log.info("event=listening url=%s", receiver.url)
    return receiver


def health_page(
    running: bool, fatal: Mapping[str, str | None], unwritten: str | None = None
) -> tuple[int, str, bytes]:
    """Answer 200 while feeds are polled, every destination takes posts and the state records
    them, else 503.

    The body's first line is ``ok`` or what is wrong; then a line per destination.
    ``unwritten`` is why the state could not record a post (a full disk), while that lasts.
    """
    refusing = [name for name, reason in fatal.items() if reason is not None]
    lines = [f"destination {name}: {reason or 'ok'}" for name, reason in fatal.items()]
    if not running:
        head = "the scheduler or a posting thread stopped"
    elif unwritten is not None:
        head = f"posts wait: {unwritten}"
    elif refusing:
        head = f"refusing posts: {', '.join(refusing)}"
    else:
        return 200, TEXT, "\n".join(["ok", *lines, ""]).encode()
    return 503, TEXT, "\n".join([head, *lines, ""]).encode()


def metrics_page(
    metrics: Metrics,
    disabled: int,
    queued: Mapping[str, int],
    subscribers: list[GatewaySubscribers],
) -> tuple[int, str, bytes]:
    """Answer with the metrics, the sampled ones (disabled feeds, queues, recipients) updated."""
    metrics.set("poster_feeds_disabled", disabled)
    for name, length in queued.items():
        metrics.set("poster_queue_length", length, destination=name)
    recipients, opted_out = subscriber_samples(subscribers)
    metrics.replace_all("poster_gateway_recipients", recipients)
    metrics.replace_all("poster_gateway_opted_out", opted_out)
    return 200, CONTENT_TYPE, metrics.render().encode()
