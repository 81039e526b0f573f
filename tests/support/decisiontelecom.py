"""Run the DecisionTelecom fake for tests, on a clock the test moves, and projects sending to it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from poster.cli import main
from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.decisiontelecom.fakestate import Gateway
from poster.destinations.gateway.destination import close_ledgers
from support.daemon import Feeds


class Clock:
    """A clock the fake reads, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def fake_gateway(key: str, clock: Clock) -> Iterator[FakeDecisionTelecom]:
    """Serve the fake for ``key``, without a rate limit worth the name; close ledgers after."""
    with FakeDecisionTelecom(Gateway(key, clock=clock, rate_limit=10_000)) as server:
        yield server
    close_ledgers()


def write_project(
    folder: Path, fake: FakeDecisionTelecom, feed_url: str, phones: Sequence[str], extra: str = ""
) -> Path:
    """Write feeds.toml posting feed "city" to ``phones`` through DecisionTelecom ``subs``.

    ``extra`` holds more sections, placed before the feed's.
    """
    section = f'kind = "decisiontelecom"\napi_url = "{fake.base_url}"\nsource_addr = "Poster"\n'
    return write_gateway_project(folder, section, feed_url, phones, extra)


def write_gateway_project(
    folder: Path, section: str, feed_url: str, phones: Sequence[str], extra: str = ""
) -> Path:
    """Write feeds.toml posting feed "city" to ``phones`` through destination ``subs``.

    ``section`` holds the gateway's own keys (its kind, api_url and sender); ``extra`` more
    sections, placed before the feed's.
    """
    (folder / "templates").mkdir()
    (folder / "templates" / "default.j2").write_text("{{ item.title }}")
    (folder / "subscribers.txt").write_text("".join(f"+{phone}\n" for phone in phones))
    config = folder / "feeds.toml"
    config.write_text(
        'templates = "templates"\n'
        f"[destinations.subs]\n{section}"
        'recipients = "subscribers.txt"\nmin_gap = "0s"\n'
        f"{extra}"
        f'[[feeds]]\nname = "city"\nurl = "{feed_url}"\nbacklog = "all"\n',
        encoding="utf-8",
    )
    return config


def gateway_project(
    folder: Path,
    fake: FakeDecisionTelecom,
    feeds: Feeds,
    phones: Sequence[str],
    extra: str = "",
) -> tuple[Path, Path, Feeds]:
    """Write the project of ``write_project`` for ``feeds``; return feeds.toml, state, feeds."""
    return write_project(folder, fake, feeds.url("city"), phones, extra), folder / "state", feeds


def run_once(config: Path, state: Path) -> int:
    """Run ``poster run --once`` in this process and close the ledgers it left open."""
    code = main(["-c", str(config), "run", "--once", "--state-dir", str(state)])
    close_ledgers()
    return code


def inboxes(fake: FakeDecisionTelecom) -> Counter[str]:
    """Return how many messages the fake took for each number."""
    return Counter(message.phone for message in fake.gateway.messages)
