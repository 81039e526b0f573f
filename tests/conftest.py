"""Share fixtures across test modules."""

import compileall
import logging
import os
import shutil
import ssl
import subprocess
import sys
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from feedserver import FeedServer
from support.browser import Browser
from support.logs import logging_kept
from support.rewrite import rewrite_stale
from support.tls import own_contexts, shared_contexts

from poster import redaction
from poster.daemon.listener import WebhookReceiver
from poster.destinations.viber.api import ViberChannel
from poster.destinations.viber.sandbox import Sandbox
from poster.redaction import RedactingFilter
from poster.store.recipientledger import RecipientLedger

POSTER = Path(__file__).parents[1] / "poster"
OPENSSL_REQ = (
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
)


def pytest_configure(config: pytest.Config) -> None:
    """Compile poster's modules once, before any test process or ``poster`` process starts.

    Each ``poster`` process a test starts then loads bytecode instead of compiling every module
    again, which it would do each time under PYTHONDONTWRITEBYTECODE; current files are kept.
    Before workers start, the test modules are rewritten for assertion messages once, not once
    in each worker (see ``support.rewrite``).
    """
    if not hasattr(config, "workerinput"):
        compileall.compile_dir(POSTER, quiet=1)
        if config.getoption("numprocesses", None) and not config.getini(
            "enable_assertion_pass_hook"
        ):
            tests = Path(__file__).parent
            rewrite_stale(sorted(tests.glob("test_*.py")), len(os.sched_getaffinity(0)))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Keep each test module as pytest rewrote it for its assertion messages, as by default.

    Under PYTHONDONTWRITEBYTECODE pytest rewrites every test module again in every process,
    which costs each worker about 7 s of CPU; the rewritten code is kept in ``__pycache__`` beside
    the module, as pytest keeps it by default, and used again while the module is unchanged.
    """
    if not isinstance(collector, pytest.Module):
        return (yield)
    kept = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        return (yield)
    finally:
        sys.dont_write_bytecode = kept


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Run two workers per core for ``-n auto``: much of the suite waits on servers, processes."""
    return 2 * max(1, len(os.sched_getaffinity(0)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Keep the tests of a module with a costly shared setup on one worker (``-n``'s default)."""
    if config.getvalue("dist") != "load":
        return None
    from support.scheduling import SharedSetupScheduling

    return SharedSetupScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def one_tls_context() -> Iterator[None]:
    """Load the CA bundle once per test process, not once per HTTP client (see support.tls)."""
    with shared_contexts():
        yield


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep what commands cache (the parsed feeds.toml) in a folder of the test run's own."""
    saved = {name: os.environ.pop(name, None) for name in ("CACHE_DIRECTORY", "XDG_CACHE_HOME")}
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Make a self-signed certificate for 127.0.0.1 with openssl; return its directory."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            *OPENSSL_REQ.split(),
            "-keyout",
            str(folder / "key.pem"),
            "-out",
            str(folder / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return folder


@pytest.fixture
def tls_contexts_built(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """Return the list of TLS contexts built during the test (each reads the CA bundle)."""
    own_contexts(monkeypatch)
    built: list[dict[str, object]] = []
    real = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    return built


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Run one headless Chromium for every page the test process loads (see support.browser)."""
    with Browser(tmp_path_factory.mktemp("chromium") / "profile") as running:
        yield running


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """Run a FeedServer on 127.0.0.1 for one test."""
    with FeedServer() as server:
        yield server


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Drop log handlers a test installed (``main`` writes to that test's captured stderr)."""
    with logging_kept():
        yield


@pytest.fixture
def clean_redaction(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give install_redaction fresh state and undo what it did to logging afterwards."""
    fresh = RedactingFilter()
    monkeypatch.setattr(redaction, "_FILTER", fresh)
    monkeypatch.setattr(redaction, "_factory_installed", False)
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


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[RecipientLedger]:
    """Return a recipient ledger in a scratch folder, closed after the test."""
    with RecipientLedger(tmp_path / "ledger.json") as opened:
        yield opened
