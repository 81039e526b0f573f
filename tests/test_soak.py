"""Run the daemon through many rounds of new items and injected faults, then count every post.

Three feeds on a local feed server gain items round by round while the sandbox channel is told
to rate-limit, fail with HTTP 500, lose requests or answers, or answer slowly, and one feed
fails for a round. At the end every item must have reached the channel exactly once, except
those whose request or answer was lost: those are "uncertain" and never posted a second time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer
from support.daemon import (
    TOKEN,
    Feeds,
    Post,
    Project,
    new_project,
    running,
    texts,
    titles,
)
from support.wait import wait_for

from poster.destinations.viber.sandbox import Sandbox
from poster.ledger import SENT, UNCERTAIN
from poster.pipeline import outbox

BUDGET = 40.0
"""Seconds the whole soak may take, start to finish."""
FEEDS = ("alpha", "beta", "gamma")


@dataclass(frozen=True)
class Round:
    """What happens in one round: faults queued for the next posts, a feed that fails."""

    faults: tuple[str, ...] = ()
    failing: str | None = None


ROUNDS = (
    Round(),
    Round(("rate_limit",)),
    Round(("drop",)),
    Round(("http500",)),
    Round(("slow:0.5",)),
    Round(("drop_before",)),
    Round(("rate_limit", "rate_limit"), failing="beta"),
    Round(("drop",)),
    Round(("http500", "rate_limit")),
    Round(("slow:0.3",), failing="gamma"),
    Round(("drop_before", "http500")),
    Round(),
)


@pytest.fixture
def channel_token() -> str:
    return TOKEN


@pytest.fixture
def feeds(feed_server: FeedServer) -> Feeds:
    return Feeds(feed_server)


@pytest.fixture
def project(
    tmp_path: Path,
    sandbox: Sandbox,
    feeds: Feeds,
    set_webhook: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> Project:
    """Return a project posting to a sandbox channel that takes posts."""
    monkeypatch.setenv("POSTER_VIBER_TOKEN", TOKEN)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    set_webhook()
    return new_project(tmp_path, sandbox, feeds)


def news_of(round_number: int) -> dict[str, tuple[int, ...]]:
    """Return the item numbers each feed publishes in a round: 1, 2 or 3 items in all."""
    gained: dict[str, tuple[int, ...]] = {"alpha": (round_number,)}
    if round_number % 2 == 0:
        gained["beta"] = (round_number,)
    if round_number % 3 == 0:
        gained["gamma"] = (2 * round_number, 2 * round_number + 1)
    return gained


def read_again(feeds: Feeds) -> Callable[[], bool]:
    """Return a check that every feed has been requested again since this call."""
    before = {name: len(feeds.requests(name)) for name in FEEDS}
    return lambda: all(len(feeds.requests(name)) > n for name, n in before.items())


def count(rounds: tuple[Round, ...], kind: str) -> int:
    """Return how many faults of ``kind`` the rounds inject."""
    return sum(r.faults.count(kind) for r in rounds)


def test_every_item_is_posted_once_through_rounds_of_faults(
    project: Project, feeds: Feeds, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    # In service the channel first backs off 5 s; 0.5 s lets many faults fit the budget while
    # the doubling and the pausing stay the same, and still outlasts a poll of each feed.
    monkeypatch.setattr(outbox, "CHANNEL_BACKOFF_BASE", timedelta(seconds=0.5))
    published: list[Post] = []
    for name in FEEDS:
        published += feeds.publish(name, 0)
    project.write(*(project.table(name) for name in FEEDS), daemon="disable_after = 5\n")
    with running(project) as run:
        for number, step in enumerate(ROUNDS, start=1):
            for name in FEEDS:
                feeds.publish(name)  # a feed that failed last round answers again
            sandbox.inject(*step.faults)
            for name, numbers in news_of(number).items():
                published += feeds.publish(name, *numbers)
            if step.failing is not None:
                feeds.fail(step.failing, 500)
            # A round lasts until every feed has been read once since it began.
            wait_for(read_again(feeds), f"a read of every feed in round {number}")
        for name in FEEDS:
            feeds.publish(name)
        store = run.daemon.store

        def settled() -> bool:
            done = store.deliveries(states=[SENT, UNCERTAIN])
            return sandbox.channel.pending_faults == [] and len(done) == len(published)

        wait_for(settled, "every item to be sent or uncertain", timeout=15)
        polls = len(feeds.server.requests)
        wait_for(lambda: len(feeds.server.requests) >= polls + 6, "two more polls of each feed")
        metrics = run.daemon.metrics
    # Every fault met a post, and each failing feed was noticed.
    refused = count(ROUNDS, "rate_limit") + count(ROUNDS, "http500")
    assert metrics.get("poster_posts_total", outcome="deferred", destination="viber") == refused
    for step in ROUNDS:
        if step.failing is not None:
            assert metrics.get("poster_fetches_total", result="error", feed=step.failing) >= 1
    states = project.records()
    posted = Counter(texts(sandbox))
    assert sorted(states) == sorted(p.guid for p in published)
    assert max(posted.values()) == 1, [text for text, n in posted.items() if n > 1]
    uncertain = [p for p in published if states[p.guid] == UNCERTAIN]
    arrived = [p for p in uncertain if p.title in posted]
    assert len(uncertain) == count(ROUNDS, "drop") + count(ROUNDS, "drop_before")
    assert len(arrived) == count(ROUNDS, "drop")
    lost = set(titles(uncertain)) - set(titles(arrived))
    assert posted == Counter(t for t in titles(published) if t not in lost)
    for name in FEEDS:
        mine = [t for t in texts(sandbox) if t.startswith(name.capitalize())]
        expected = [t for t in titles(feeds.published[name]) if t not in lost]
        assert mine == expected, f"{name} posted out of order"
    assert time.monotonic() - started < BUDGET
