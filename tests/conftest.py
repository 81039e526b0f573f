"""Share fixtures across test modules."""

import logging
from collections.abc import Callable, Iterator

import httpx
import pytest
from feedserver import FeedServer

from poster import secrets
from poster.daemon.listener import WebhookReceiver
from poster.destinations.viber.api import ViberChannel
from poster.destinations.viber.sandbox import Sandbox
from poster.logs import NOISY_LOGGERS
from poster.secrets import RedactingFilter


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """Run a FeedServer on 127.0.0.1 for one test."""
    with FeedServer() as server:
        yield server


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Drop log handlers a test installed (``main`` writes to that test's captured stderr)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    for name, old in noisy.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def clean_redaction(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give install_redaction fresh state and undo what it did to logging afterwards."""
    fresh = RedactingFilter()
    monkeypatch.setattr(secrets, "_FILTER", fresh)
    monkeypatch.setattr(secrets, "_factory_installed", False)
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)
    for handler in logging.getLogger().handlers:
        handler.removeFilter(fresh)


@pytest.fixture
def channel_token() -> str:
    """Return the sandbox channel's token; modules set their own, to prove it never leaks."""
    return "sandbox-token"


@pytest.fixture
def sandbox(channel_token: str) -> Iterator[Sandbox]:
    """Run a sandbox channel that accepts ``channel_token``."""
    with Sandbox(token=channel_token, port=0) as running:
        yield running


@pytest.fixture
def receiver(channel_token: str) -> Iterator[WebhookReceiver]:
    """Run a webhook receiver that checks signatures with ``channel_token``."""
    with WebhookReceiver(channel_token, port=0) as running:
        yield running


@pytest.fixture
def set_webhook(
    sandbox: Sandbox, receiver: WebhookReceiver, channel_token: str
) -> Callable[[], None]:
    """Return a call that registers the receiver as the sandbox channel's webhook."""

    def register() -> None:
        # Viber refuses posts until a webhook is set, as the sandbox does.
        with httpx.Client() as client:
            channel = ViberChannel(client, channel_token, api_url=sandbox.api_url)
            result = channel.set_webhook(receiver.url)
        assert result.ok, result.explanation
        assert sandbox.webhook == receiver.url

    return register
