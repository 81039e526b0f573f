"""Write each next intent while the destination answers: order, durability, release and crash."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from poster.config import FeedConfig
from poster.destinations import Receipt
from poster.destinations.viber.kind import KIND as VIBER
from poster.errors import DeliveryUncertain, RetryLater
from poster.fetch.client import FeedClient
from poster.fetch.feed import make_client
from poster.pipeline import DEFERRED, SENT, UNCERTAIN, Deps, FeedReport, run_pass
from poster.pipeline.outbox import Lane
from poster.pipeline.pacing import Pacer
from poster.render import Renderer
from poster.store import Store
from poster.store.ledger import PENDING, Ledger, MemoryLedger

ROOT = Path(__file__).resolve().parents[1]
# Listed out of date order, so the posts' order comes from the dates, not from the document.
ITEMS = (("Third", "g3", "Wed, 25"), ("First", "g1", "Mon, 23"), ("Second", "g2", "Tue, 24"))
TITLES = {title: key for title, key, _day in ITEMS}
RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    + "".join(
        f"<item><title>{title}</title><guid>{key}</guid>"
        f"<pubDate>{day} Nov 2026 07:00:00 +0000</pubDate></item>"
        for title, key, day in ITEMS
    )
    + "</channel></rss>"
)
FEED = FeedConfig(name="news", url="https://feeds.example.org/rss", backlog=None)


def key_of(message: Any) -> str:
    """Return the key of the item a message was rendered from, by its title."""
    return TITLES[message.text.split("\n")[0].strip("*")]


class Scripted:
    """Answer each call as a test scripts, after running a check of the state on disk."""

    kind = VIBER

    def __init__(self, *answers: Exception | None, check: Any = None) -> None:
        self.name = "news"
        self.answers = list(answers)
        self.check = check or (lambda key: None)
        self.calls: list[str] = []

    def send(self, message: Any) -> Receipt:
        key = key_of(message)
        self.calls.append(key)
        self.check(key)
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        return Receipt(self.name, str(len(self.calls)), datetime.now(UTC))


class Disk:
    """The journal's bytes as of its last fsync: what a crash at that moment would leave."""

    def __init__(self, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.journal = state / "poster.journal"
        self.durable = b""
        self.lock = threading.Lock()
        real = os.fsync

        def fsync(fd: int) -> None:
            real(fd)
            if self.journal.exists():
                with self.lock:
                    self.durable = self.journal.read_bytes()

        monkeypatch.setattr(os, "fsync", fsync)

    def states(self) -> dict[str, str]:
        """Return each item's last state in the durable journal."""
        with self.lock:
            lines = self.durable.splitlines()[1:]
        found: dict[str, str] = {}
        for line in lines:
            for doc in json.loads(line).get("put", {}).values():
                if isinstance(doc, dict) and "key" in doc and "state" in doc:
                    found[doc["key"]] = doc["state"]
        return found


@pytest.fixture
def client() -> Iterator[FeedClient]:
    with make_client(transport=httpx.MockTransport(lambda _: httpx.Response(200, text=RSS))) as h:
        yield h


def pass_with(
    client: FeedClient, ledger: Ledger, news: Scripted, pacer: Pacer | None = None
) -> FeedReport:
    deps = Deps(client, Renderer(ROOT / "templates"), None, ledger, route=lambda _feed: ("news",))
    [report] = run_pass([FEED], deps, {"news": Lane(news, pacer)})
    return report


def test_each_call_follows_its_own_intent_on_disk_oldest_first(
    client: FeedClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = Disk(tmp_path, monkeypatch)
    seen: list[tuple[str, str | None]] = []
    news = Scripted(check=lambda key: seen.append((key, disk.states().get(key))))
    with Store(tmp_path) as store, store.batched():
        report = pass_with(client, store, news)
    assert news.calls == ["g1", "g2", "g3"]
    assert seen == [("g1", PENDING), ("g2", PENDING), ("g3", PENDING)]
    assert [o.delivery for o in report.outcomes] == [SENT, SENT, SENT]
    assert disk.states() == {"g1": "sent", "g2": "sent", "g3": "sent"}


def test_the_next_intent_is_written_while_the_destination_answers(
    client: FeedClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = Disk(tmp_path, monkeypatch)
    ahead: dict[str, str | None] = {}

    def wait_for_next(key: str) -> None:
        following = {"g1": "g2", "g2": "g3"}.get(key)
        deadline = time.monotonic() + 5
        while following and disk.states().get(following) is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if following:
            ahead[following] = disk.states().get(following)

    with Store(tmp_path) as store, store.batched():
        report = pass_with(client, store, Scripted(check=wait_for_next))
    assert ahead == {"g2": PENDING, "g3": PENDING}
    assert report.ok


def test_a_crash_during_a_call_leaves_both_intents_uncertain_and_nothing_to_post_twice(
    client: FeedClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    disk = Disk(state, monkeypatch)
    crashed = tmp_path / "crashed"

    def crash_during(key: str) -> None:
        if key == "g2":
            deadline = time.monotonic() + 5
            while disk.states().get("g3") is None and time.monotonic() < deadline:
                time.sleep(0.005)
            crashed.mkdir()
            (crashed / "poster.journal").write_bytes(disk.durable)
            shutil.copy(state / "poster.json", crashed / "poster.json")

    with Store(state) as store, store.batched():
        pass_with(client, store, Scripted(check=crash_during))
    with Store(crashed) as after:
        assert after.recovered == 2
        states = {r.key: r.state for r in after.deliveries()}
        # g1's answer went to disk with g3's intent, written while g2's call was in flight.
        assert states == {"g1": "sent", "g2": UNCERTAIN, "g3": UNCERTAIN}


@pytest.mark.parametrize(
    "refusal",
    [RetryLater("news: slow down", 5), DeliveryUncertain("news: connection lost")],
    ids=["retry-later", "uncertain"],
)
def test_an_intent_written_ahead_is_released_when_the_lane_stops(
    client: FeedClient, refusal: Exception
) -> None:
    ledger = MemoryLedger()
    news = Scripted(None, refusal)
    report = pass_with(client, ledger, news)
    assert news.calls == ["g1", "g2"]
    third = report.outcomes[2]
    assert (third.decision.item.key, third.delivery) == ("g3", DEFERRED)
    assert "held back after" in (third.error or "")
    assert not ledger.is_known("news", "g3", "news")  # offered again on the next pass


def test_a_lane_full_for_the_pass_writes_no_intent_for_the_rest(client: FeedClient) -> None:
    ledger = MemoryLedger()
    news = Scripted()
    report = pass_with(client, ledger, news, Pacer(0.0, 2))
    assert news.calls == ["g1", "g2"]
    assert [o.delivery for o in report.outcomes] == [SENT, SENT, DEFERRED]
    assert "max_per_pass=2" in (report.outcomes[2].error or "")
    assert ("news", "g3", "news") not in ledger.deliveries
