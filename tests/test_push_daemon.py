"""Run the daemon with a public URL against a real WebSub hub, feed server and sandbox channel.

The feed names the hub in a ``Link`` header; the daemon subscribes on its first read, and the
hub verifies and pushes through the daemon's own listener. The hub serves HTTPS, as public hubs
do, with a certificate the daemon trusts through ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from feedserver import FeedServer
from support.daemon import (
    RSS,
    TOKEN,
    Feeds,
    Post,
    Project,
    Running,
    channel_xml,
    new_project,
    running,
    texts,
    titles,
)
from support.hub import Hub, tls_contexts
from support.wait import wait_for

from poster.destinations.viber.sandbox import Sandbox
from poster.push.service import PREFIX
from poster.push.subscriptions import State, Subscription
from poster.store.ledger import SENT


class Offset:
    """The wall clock moved on by however much the test says."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.fixture
def channel_token() -> str:
    return TOKEN


@pytest.fixture
def hub(certificate: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate / "cert.pem"))
    serving, _ = tls_contexts(certificate)
    with Hub(lease=600, tls=serving) as started:
        yield started


@pytest.fixture
def project(
    tmp_path: Path,
    sandbox: Sandbox,
    feed_server: FeedServer,
    set_webhook: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> Project:
    monkeypatch.setenv("POSTER_VIBER_TOKEN", TOKEN)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    set_webhook()
    return new_project(tmp_path, sandbox, Feeds(feed_server))


def publish(project: Project, hub: Hub, *numbers: int) -> None:
    """Publish items on the feed server, with a Link header naming the hub and the topic."""
    feeds = project.feeds
    feeds.publish("news", *numbers)
    links = f'<{hub.url}>; rel="hub", <{feeds.url("news")}>; rel="self"'
    feeds.server.routes["/news.xml"] = (
        200, {"Content-Type": RSS, "Link": links}, feeds.body("news"),
    )  # fmt: skip


def configure(project: Project, extra: str = "") -> None:
    """Write a feeds.toml that polls every 0.2 s, or every hour while the hub pushes."""
    path = project.write(project.table("news", extra=extra), daemon='push_poll = "1h"')
    listen = f'listen = "127.0.0.1:{project.listen}"\n'
    public = f'public_url = "http://127.0.0.1:{project.listen}/"\n'
    path.write_text(path.read_text().replace(listen, listen + public), encoding="utf-8")


def subscribed(run: Running, hub: Hub) -> Subscription:
    """Return the feed's subscription once the hub verified it."""
    [check] = hub.wait_verified(1)
    assert check.confirmed
    assert run.daemon.push is not None
    sub = run.daemon.push.get("news")
    assert sub is not None and sub.state is State.ACTIVE
    return sub


@contextmanager
def first_item_posted(
    project: Project, hub: Hub, sandbox: Sandbox
) -> Iterator[tuple[Running, Subscription]]:
    """Run the daemon until the hub verified the feed and its first item is posted."""
    publish(project, hub, 1)
    configure(project)
    with running(project) as run:
        sub = subscribed(run, hub)
        wait_for(lambda: texts(sandbox) == titles([Post("news", 1)]), "the first item")
        yield run, sub


def test_a_pushed_item_is_posted_at_once_and_a_forged_push_is_ignored(
    project: Project, hub: Hub, sandbox: Sandbox
) -> None:
    with first_item_posted(project, hub, sandbox) as (run, sub):
        callback = f"http://127.0.0.1:{project.listen}{PREFIX}{sub.callback}"
        forged = channel_xml("news", [Post("news", 2)])
        assert hub.forge(callback, forged, RSS, "sha256=" + "0" * 64) == 202
        assert hub.forge(callback, forged, RSS, None) == 202
        pushed = channel_xml("news", [Post("news", 3)])
        assert hub.publish(project.feeds.url("news"), pushed, RSS) == [202]
        wait_for(
            lambda: texts(sandbox) == titles([Post("news", 1), Post("news", 3)]),
            "the pushed item",
            timeout=2.0,
        )
        assert run.metric('poster_fetches_total{feed="news",result="pushed"}') == 1
        assert not run.daemon.push.poll_due(  # type: ignore[union-attr]
            "news", datetime.now(UTC), timedelta(hours=1)
        )
    assert project.records() == {"news-1": SENT, "news-3": SENT}


def test_a_hub_on_a_local_address_is_given_no_secret_and_its_unsigned_push_posted(
    project: Project, sandbox: Sandbox
) -> None:
    with Hub(lease=600) as plain:
        publish(project, plain, 1)
        configure(project)
        with running(project) as run:
            sub = subscribed(run, plain)
            assert not sub.secret_given and "hub.secret" not in plain.requests[0]
            wait_for(lambda: texts(sandbox) == titles([Post("news", 1)]), "the first item")
            pushed = channel_xml("news", [Post("news", 2)])
            assert plain.publish(project.feeds.url("news"), pushed, RSS) == [202]
            wait_for(
                lambda: texts(sandbox) == titles([Post("news", 1), Post("news", 2)]),
                "the pushed item",
                timeout=2.0,
            )
            assert run.metric('poster_fetches_total{feed="news",result="pushed"}') == 1
    assert project.records() == {"news-1": SENT, "news-2": SENT}


def test_a_hub_that_goes_away_leaves_the_feed_to_its_polls(
    project: Project, hub: Hub, sandbox: Sandbox
) -> None:
    publish(project, hub, 1)
    configure(project)
    clock = Offset()
    with running(project, clock=clock) as run:
        subscribed(run, hub)
        wait_for(lambda: len(sandbox.posts) == 1, "the first item")
        hub.close()
        clock.ahead = timedelta(seconds=540)  # 90 % of the lease: time to renew it
        push = run.daemon.push
        assert push is not None
        push.wake()
        wait_for(lambda: push.get("news").state is State.FAILED, "the renewal to fail")  # type: ignore[union-attr]
        publish(project, hub, 2)
        wait_for(lambda: len(sandbox.posts) == 2, "the next poll to find item 2")
    assert project.records() == {"news-1": SENT, "news-2": SENT}


def test_a_denied_feed_is_polled_and_asked_again_only_after_a_reload(
    project: Project, hub: Hub, sandbox: Sandbox
) -> None:
    publish(project, hub, 1)
    configure(project)
    with running(project) as run:
        sub = subscribed(run, hub)
        callback = f"http://127.0.0.1:{project.listen}{PREFIX}{sub.callback}"
        assert hub.deny(project.feeds.url("news"), callback, "not on this hub") == 200
        # A denial is final: what the hub pushes after it is not taken.
        assert hub.publish(project.feeds.url("news"), channel_xml("news", [Post("news", 3)]), RSS)
        publish(project, hub, 2)
        wait_for(lambda: len(sandbox.posts) == 2, "a poll to find item 2")
        reads = len(project.feeds.requests("news"))
        wait_for(lambda: len(project.feeds.requests("news")) > reads + 2, "more polls")
        assert len(hub.requests) == 1
        run.reload()
        [*_, check] = hub.wait_verified(2)
        assert check.confirmed and len(hub.requests) == 2
    assert project.records() == {"news-1": SENT, "news-2": SENT}


def test_a_push_over_the_cap_is_acknowledged_and_a_chunked_one_posted(
    project: Project, hub: Hub, sandbox: Sandbox
) -> None:
    publish(project, hub, 1)
    configure(project, extra="max_bytes = 65536\n")
    with running(project) as run:
        sub = subscribed(run, hub)
        wait_for(lambda: len(sandbox.posts) == 1, "the first item")
        callback = f"http://127.0.0.1:{project.listen}{PREFIX}{sub.callback}"
        huge = b" " * 65537
        assert httpx.post(callback, content=huge, headers=signed(sub, huge)).status_code == 202
        pushed = channel_xml("news", [Post("news", 2)])
        pieces = iter([pushed[:100], pushed[100:]])
        answer = httpx.post(callback, content=pieces, headers=signed(sub, pushed))
        assert answer.status_code == 202
        wait_for(lambda: len(sandbox.posts) == 2, "the chunked push posted")
    assert project.records() == {"news-1": SENT, "news-2": SENT}


def signed(sub: Subscription, body: bytes) -> dict[str, str]:
    """Return the headers of a push of ``body`` the hub signed."""
    digest = hmac.new(sub.secret.encode(), body, "sha256").hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}", "Content-Type": RSS}


def test_a_feed_paused_posts_nothing_its_hub_pushes(
    project: Project, hub: Hub, sandbox: Sandbox
) -> None:
    from poster.ops import inbox

    with first_item_posted(project, hub, sandbox) as (run, _):
        inbox.submit(project.state, inbox.Request("feed-disable", "news"))
        wait_for(lambda: run.daemon.store.disabled("news") is not None, "the feed paused")
        # What the hub pushes before the push service has unsubscribed the feed.
        pushed = channel_xml("news", [Post("news", 2), Post("news", 1)])
        run.daemon._pushed("news", pushed, (("Content-Type", RSS),))
        assert 'result="pushed"' not in run.get("/metrics").text
    assert texts(sandbox) == titles([Post("news", 1)])
    assert project.records() == {"news-1": SENT}
