"""Run the daemon in this process against a sandbox channel and a feed server on 127.0.0.1.

Each test publishes RSS feeds on a ``FeedServer``, writes a feeds.toml that polls them every
second and posts to a ``Sandbox`` started in the test, runs ``Daemon.run()`` in a thread, and
waits (with a deadline) for what the channel, the store, the logs and the listener show.
"""

from __future__ import annotations

import logging
import socket
import string
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from feedserver import FeedServer, Route

from poster import inbox
from poster.daemon import Daemon
from poster.ledger import SENT, UNCERTAIN
from poster.models import NextPoll
from poster.sandbox import Sandbox
from poster.store import FeedState, Store
from poster.systemd import Notifier

DATA = Path(__file__).parent / "data" / "daemon"
TOKEN = "daemon-Vq3m-8xRt2-never-shown-71"
"""A token distinctive enough that finding it in any output cannot be a coincidence."""
EPOCH = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RSS = "application/rss+xml"

T = TypeVar("T")


def wait_for(check: Callable[[], T], what: str, timeout: float = 10.0) -> T:
    """Return the first true value of ``check``, polling until ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Feeds


@dataclass(frozen=True)
class Post:
    """One item a test feed publishes."""

    feed: str
    number: int

    @property
    def guid(self) -> str:
        return f"{self.feed}-{self.number}"

    @property
    def title(self) -> str:
        return f"{self.feed.capitalize()} story {self.number}"

    @property
    def date(self) -> datetime:
        # Items of every feed interleave by date: story n of any feed is n minutes in.
        return EPOCH + timedelta(minutes=self.number, seconds=len(self.feed))


def channel_xml(name: str, posts: list[Post]) -> bytes:
    """Return an RSS 2.0 document listing ``posts``, built from the templates in DATA."""
    item = string.Template((DATA / "item.xml").read_text(encoding="utf-8"))
    items = "".join(
        item.substitute(
            name=name, guid=p.guid, title=p.title, date=format_datetime(p.date, usegmt=True)
        )
        for p in posts
    )
    document = string.Template((DATA / "channel.xml").read_text(encoding="utf-8"))
    return document.substitute(name=name, title=f"{name} feed", items=items).encode("utf-8")


class Feeds:
    """Publish test feeds on a FeedServer, item by item, or make them fail."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.published: dict[str, list[Post]] = {}

    def url(self, name: str) -> str:
        return self.server.url(f"/{name}.xml")

    def publish(self, name: str, *numbers: int) -> list[Post]:
        """Add items to feed ``name`` and serve the new document; return the new items."""
        posts = [Post(name, n) for n in numbers]
        self.published.setdefault(name, []).extend(posts)
        self.server.routes[f"/{name}.xml"] = (200, {"Content-Type": RSS}, self.body(name))
        return posts

    def body(self, name: str) -> bytes:
        return channel_xml(name, self.published.get(name, []))

    def fail(
        self, name: str, status: int, headers: dict[str, str] | None = None, delay: float = 0.0
    ) -> None:
        """Answer requests for feed ``name`` with ``status`` and no feed, after ``delay``."""
        route = Route(status, headers or {}, b"unavailable\n", delay=delay)
        self.server.routes[f"/{name}.xml"] = route

    def slow(self, name: str, delay: float) -> None:
        """Answer requests for feed ``name`` with its items only after ``delay`` seconds."""
        route = Route(200, {"Content-Type": RSS}, self.body(name), delay=delay)
        self.server.routes[f"/{name}.xml"] = route

    def requests(self, name: str) -> list[dict[str, str]]:
        """Return the headers of every request for feed ``name`` so far."""
        return [r.headers for r in list(self.server.requests) if r.path == f"/{name}.xml"]


# The project under test


@dataclass
class Project:
    """A scratch folder with templates, a feeds.toml and a state directory."""

    root: Path
    sandbox: Sandbox
    feeds: Feeds
    listen: int = field(default_factory=free_port)

    @property
    def config(self) -> Path:
        return self.root / "feeds.toml"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def write(self, *tables: str, daemon: str = "", extra: str = "") -> Path:
        """Write feeds.toml: the sandbox, no gap between posts, fast backoff, then ``tables``."""
        head = (
            'templates = "templates"\n\n'
            f'[viber]\napi_url = "{self.sandbox.api_url}"\nmin_gap = "0s"\n\n'
            f'[webhook]\nlisten = "127.0.0.1:{self.listen}"\n\n'
            f'[daemon]\nbackoff_max = "1s"\nreprobe = "1s"\n{daemon}\n'
        )
        self.config.write_text(head + extra + "\n" + "\n".join(tables), encoding="utf-8")
        return self.config

    def table(self, name: str, backlog: int | str = "all", extra: str = "") -> str:
        """Return a ``[[feeds]]`` table polling feed ``name`` every second."""
        shown = f'"{backlog}"' if isinstance(backlog, str) else str(backlog)
        return (
            f'[[feeds]]\nname = "{name}"\nurl = "{self.feeds.url(name)}"\n'
            f'interval = "1s"\nbacklog = {shown}\n{extra}'
        )

    def records(self, state: str | None = None) -> dict[str, str]:
        """Return each item's delivery state at the channel, read beside or after the daemon."""
        with Store(self.state, read_only=True) as store:
            found = store.deliveries(states=None if state is None else [state])
        return {r.key: r.state for r in found if r.destination == "viber"}


def new_project(root: Path, sandbox: Sandbox, feeds: Feeds) -> Project:
    """Return a project in ``root`` with the test templates, posting to ``sandbox``."""
    (root / "templates").mkdir()
    for template in (DATA / "templates").iterdir():
        (root / "templates" / template.name).write_bytes(template.read_bytes())
    return Project(root, sandbox, feeds)


class Notifications(Notifier):
    """Keep what the daemon tells systemd, as systemd would see it, without a socket."""

    def __init__(self) -> None:
        super().__init__({})
        self.sent: list[str] = []

    def ready(self, status: str | None = None) -> None:
        self.sent.append("READY")

    def reloading(self) -> None:
        self.sent.append("RELOADING")

    def stopping(self) -> None:
        self.sent.append("STOPPING")


@dataclass
class Running:
    """A daemon running in a thread, and what it has told systemd."""

    daemon: Daemon
    notes: Notifications

    def readies(self) -> int:
        return self.notes.sent.count("READY")

    def reload(self) -> None:
        """Reload and wait until the daemon says it is ready again."""
        before = self.readies()
        self.daemon.request_reload()
        wait_for(lambda: self.readies() > before, "READY=1 after the reload")

    def get(self, path: str) -> httpx.Response:
        """GET a path of the daemon's listener."""
        host, port = self.daemon.config.webhook.listen or ("", 0)
        return httpx.get(f"http://{host}:{port}{path}", timeout=5)

    def metric(self, line_start: str) -> float:
        """Return the value of the one /metrics line starting with ``line_start``."""
        page = self.get("/metrics").text
        [line] = [line for line in page.splitlines() if line.startswith(line_start + " ")]
        return float(line.rsplit(" ", 1)[1])


@contextmanager
def running(project: Project, clock: Callable[[], datetime] | None = None) -> Iterator[Running]:
    """Run the daemon of ``project`` in a thread; stop it and check it ended well on exit."""
    notes = Notifications()
    options = {"clock": clock} if clock is not None else {}
    daemon = Daemon(project.config, project.state, notifier=notes, **options)
    ended: dict[str, object] = {}

    def run() -> None:
        try:
            ended["code"] = daemon.run()
        except BaseException as exc:
            ended["error"] = exc

    thread = threading.Thread(target=run, name="daemon-under-test")
    thread.start()
    try:
        wait_for(lambda: "READY" in notes.sent or ended, "the daemon to start")
        if "error" in ended:
            raise AssertionError(f"the daemon failed to start: {ended['error']!r}")
        yield Running(daemon, notes)
    finally:
        daemon.request_stop()
        thread.join(timeout=15)
    assert not thread.is_alive(), "the daemon did not stop within 15 s"
    assert ended == {"code": 0}
    assert notes.sent[-1] == "STOPPING"


def state_when(store: Store, feed: str, check: Callable[[FeedState], bool]) -> FeedState:
    """Return the feed's state once ``check`` accepts it."""
    found: list[FeedState] = []

    def accepted() -> bool:
        found[:] = [store.feed_state(feed)]
        return check(found[0])

    wait_for(accepted, f"the state of feed {feed!r} to change")
    return found[0]


def texts(sandbox: Sandbox) -> list[str]:
    """Return the text of every post the sandbox accepted, oldest first."""
    return [str(post["text"]) for post in sandbox.posts]


def titles(posts: list[Post], prefix: str = "") -> list[str]:
    """Return the texts the default template makes of ``posts``, each after ``prefix``."""
    return [prefix + post.title for post in posts]


@pytest.fixture
def channel_token() -> str:
    return TOKEN


@pytest.fixture
def feeds(feed_server: FeedServer) -> Feeds:
    return Feeds(feed_server)


@pytest.fixture
def bare(
    tmp_path: Path, sandbox: Sandbox, feeds: Feeds, monkeypatch: pytest.MonkeyPatch
) -> Project:
    """Return a project pointed at a sandbox whose webhook is not set yet."""
    monkeypatch.setenv("POSTER_VIBER_TOKEN", TOKEN)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    return new_project(tmp_path, sandbox, feeds)


@pytest.fixture
def project(bare: Project, set_webhook: Callable[[], None]) -> Project:
    """Return a project pointed at a sandbox channel ready to take posts."""
    set_webhook()
    return bare


# Tests


def test_new_items_are_posted_once_and_unchanged_feeds_are_not_read_again(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    first = feeds.publish("news", 1, 2)
    project.write(project.table("news"))
    with running(project) as run:
        wait_for(lambda: texts(sandbox) == titles(first), "the first two items")
        later = feeds.publish("news", 3)
        wait_for(lambda: len(sandbox.posts) == 3, "the item published later")
        # Two more polls answered 304 after the last change: nothing new, nothing again.
        unchanged = run.daemon.metrics.get(
            "poster_fetches_total", result="not_modified", feed="news"
        )
        wait_for(
            lambda: (
                run.daemon.metrics.get("poster_fetches_total", result="not_modified", feed="news")
                >= unchanged + 2
            ),
            "two polls answered 304",
        )
    assert texts(sandbox) == titles(first + later)
    asked = feeds.requests("news")
    assert "if-none-match" not in asked[0]
    assert asked[-1]["if-none-match"].startswith('"')
    assert project.records() == dict.fromkeys(["news-1", "news-2", "news-3"], SENT)


def test_a_good_reload_adds_removes_and_changes_feeds_and_logs_each_change(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    news = feeds.publish("news", 1)
    blog = feeds.publish("blog", 2)
    sport = feeds.publish("sport", 3, 4, 5)
    project.write(project.table("news"), project.table("blog"))
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 2, "the first items of news and blog")
        project.write(
            project.table("news", extra='template = "now.j2"\n'), project.table("sport", backlog=1)
        )
        run.reload()
        blog_polls = len(feeds.requests("blog"))
        assert run.daemon.scheduler.get_job("blog") is None
        assert run.daemon.scheduler.get_job("sport") is not None
        feeds.publish("blog", 6)
        fresh = feeds.publish("news", 7)
        wait_for(lambda: len(sandbox.posts) == 4, "sport's newest item and news' new item")
        polls = len(feeds.requests("sport"))
        wait_for(lambda: len(feeds.requests("sport")) >= polls + 2, "two more polls")
    # At most a read already under way when the reload came may follow; no new ones.
    assert len(feeds.requests("blog")) <= blog_polls + 1
    # The added feed posts only its newest item (backlog = 1), the removed one nothing more,
    # and the changed one uses its new template. Feeds read at the same time race each other.
    expected = [*titles(news + blog), *titles(sport[-1:]), *titles(fresh, "Now: ")]
    assert Counter(texts(sandbox)) == Counter(expected)
    logged = [r.getMessage() for r in caplog.records]
    for line in (
        "event=reload feed=sport change=added",
        "event=reload feed=blog change=removed",
        "event=reload feed=news change=changed",
    ):
        assert line in logged


def test_a_bad_reload_logs_every_problem_and_keeps_the_old_config_running(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    first = feeds.publish("news", 1)
    good = project.write(project.table("news")).read_text(encoding="utf-8")
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 1, "the first item")
        bad = good.replace("[daemon]\n", '[daemon]\ncolour = "blue"\n')
        bad = bad.replace('interval = "1s"', 'intervall = "1s"')
        project.config.write_text(bad, encoding="utf-8")
        run.reload()
        later = feeds.publish("news", 2)
        wait_for(lambda: len(sandbox.posts) == 2, "the item published after the bad reload")
    assert texts(sandbox) == titles(first + later)
    rejected = [r for r in caplog.records if "event=reload-rejected" in r.getMessage()]
    assert all(r.levelno == logging.ERROR for r in rejected)
    assert len(rejected) == 2
    assert "colour" in rejected[0].getMessage() or "colour" in rejected[1].getMessage()
    assert any("intervall" in r.getMessage() and "interval" in r.getMessage() for r in rejected)
    assert not any("event=reload feed=" in r.getMessage() for r in caplog.records)


def test_a_fatal_channel_error_stops_posting_keeps_queueing_and_drains_after_a_reload(
    bare: Project, feeds: Feeds, sandbox: Sandbox, set_webhook: Callable[[], None]
) -> None:
    first = feeds.publish("news", 1, 2, 3)
    bare.write(bare.table("news"))
    with running(bare) as run:
        wait_for(lambda: run.metric("poster_channel_fatal") == 1, "the channel to stop")
        health = run.get("/healthz")
        assert health.status_code == 503
        assert "webhook" in health.text
        assert run.metric("poster_queue_length") == 3
        # Fetching goes on while the channel is stopped, and queues each item once.
        later = feeds.publish("news", 4)
        wait_for(lambda: run.metric("poster_queue_length") == 4, "the new item to queue")
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) >= polls + 2, "two more polls")
        assert run.metric("poster_queue_length") == 4
        assert sandbox.posts == []
        set_webhook()
        run.reload()
        wait_for(lambda: len(sandbox.posts) == 4, "the queue to drain")
        assert run.metric("poster_channel_fatal") == 0
        assert run.get("/healthz").status_code == 200
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) >= polls + 2, "two more polls")
    assert texts(sandbox) == titles(first + later)
    assert bare.records() == dict.fromkeys([p.guid for p in first + later], SENT)


def test_a_rate_limit_pauses_the_channel_and_the_item_is_posted_later_once(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    posts = feeds.publish("news", 1, 2)
    project.write(project.table("news"))
    sandbox.inject("rate_limit")
    with running(project):
        wait_for(lambda: sandbox.channel.pending_faults == [], "the rate-limited post")
        limited = time.monotonic()
        wait_for(lambda: len(sandbox.posts) == 2, "the posts after the pause", timeout=15)
        paused = time.monotonic() - limited
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) >= polls + 2, "two more polls")
    # No Retry-After came with status 12, so the channel backs off 5 s, jittered by ±20 %.
    assert paused >= 4.0
    assert texts(sandbox) == titles(posts)
    assert project.records() == dict.fromkeys(["news-1", "news-2"], SENT)
    [pause] = [r.getMessage() for r in caplog.records if "event=channel-paused" in r.getMessage()]
    assert "status 12" in pause or "Too many requests" in pause


def test_a_failing_feed_backs_off_is_disabled_and_comes_back_without_delaying_others(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    news = feeds.publish("news", 1)
    feeds.fail("gone", 503, {"Retry-After": "2"})
    project.write(project.table("news"), project.table("gone"), daemon="disable_after = 3\n")
    with running(project) as run:
        store = run.daemon.store
        first = state_when(store, "gone", lambda s: s.consecutive_failures == 1)
        assert first.last_failure is not None and first.next_attempt is not None
        # Retry-After (RFC 9110 §10.2.3) outweighs backoff_max = 1s.
        assert first.next_attempt - first.last_failure == timedelta(seconds=2)
        assert first.last_error is not None and "HTTP 503" in first.last_error
        feeds.fail("gone", 500, delay=0.5)
        # The good feed keeps being read and posted while the bad one fails (slowly).
        news += feeds.publish("news", 2)
        wait_for(lambda: len(sandbox.posts) == 2, "news' new item", timeout=3)
        assert store.feed_state("gone").disabled is None
        second = state_when(store, "gone", lambda s: s.consecutive_failures == 2)
        assert second.last_failure is not None and second.next_attempt is not None
        assert second.last_failure - first.last_failure >= timedelta(seconds=2)
        wait = second.next_attempt - second.last_failure
        assert timedelta(seconds=0.8) <= wait <= timedelta(seconds=1.2)
        disabled = state_when(store, "gone", lambda s: s.disabled is not None)
        assert disabled.consecutive_failures == 3
        assert disabled.disabled is not None
        assert disabled.disabled.startswith("disabled after 3 failures in a row; last: ")
        assert "HTTP 500" in disabled.disabled
        assert run.metric("poster_feeds_disabled") == 1
        assert run.metric('poster_feed_failures{feed="gone"}') == 3
        back = feeds.publish("gone", 3)
        state_when(store, "gone", lambda s: s.disabled is None)
        wait_for(lambda: len(sandbox.posts) == 3, "the re-enabled feed's item")
        assert store.feed_state("gone").consecutive_failures == 0
        assert run.metric("poster_feeds_disabled") == 0
    assert texts(sandbox) == titles(news + back)
    logged = [r.getMessage() for r in caplog.records]
    assert sum("event=feed-disabled feed=gone" in line for line in logged) == 1
    assert sum("event=feed-enabled feed=gone after=re-probe" in line for line in logged) == 1
    # Each failure is told once, with its reason, in the daemon's own event.
    failed = [line for line in logged if "feed=gone" in line and "HTTP 503" in line]
    assert len(failed) == 1 and "event=fetch-failed feed=gone failures=1 " in failed[0]


def test_a_lost_answer_is_never_posted_again_until_an_operator_retries_it(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    first = feeds.publish("news", 1, 2, 3)
    project.write(project.table("news"))
    sandbox.inject("drop")
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 3, "every item to reach the channel")
        wait_for(lambda: len(run.daemon.store.deliveries(states=[SENT])) == 2, "two sent")
        assert run.daemon.metrics.get("poster_posts_total", outcome=UNCERTAIN) == 1
    assert project.records() == {"news-1": UNCERTAIN, "news-2": SENT, "news-3": SENT}
    with running(project) as run:
        later = feeds.publish("news", 4)
        wait_for(lambda: len(sandbox.posts) == 4, "the item published after the restart")
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) >= polls + 2, "two more polls")
        assert texts(sandbox) == titles(first + later)
        # A slow feed keeps a conditional read under way while the request is applied; its
        # 304 must not hide the released item from the next read.
        feeds.slow("news", 1.9)
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) > polls, "a slow read under way")
        asked = inbox.submit(project.state, inbox.Request("retry", "news", "news-1"))
        wait_for(lambda: not asked.exists(), "the daemon to take the request", timeout=3)
        feeds.publish("news")  # fast again, unchanged
        wait_for(lambda: len(sandbox.posts) == 5, "the retried item")
    # The operator chose to send it again; nothing else was repeated.
    assert texts(sandbox) == titles(first + later + first[:1])
    assert project.records() == dict.fromkeys(["news-1", "news-2", "news-3", "news-4"], SENT)


def test_a_resend_feed_sends_its_uncertain_items_again_on_restart(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    first = feeds.publish("news", 1, 2)
    project.write(project.table("news", extra='uncertain = "resend"\n'))
    sandbox.inject("drop")
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 2, "both items to reach the channel")
        wait_for(lambda: len(run.daemon.store.deliveries(states=[SENT])) == 1, "news-2 sent")
    assert project.records() == {"news-1": UNCERTAIN, "news-2": SENT}
    with running(project):
        wait_for(lambda: len(sandbox.posts) == 3, "the uncertain item to be sent again")
    # At least once: the item whose answer was lost arrives a second time, as configured.
    assert texts(sandbox) == titles(first + first[:1])
    assert project.records() == {"news-1": SENT, "news-2": SENT}
    logged = [r.getMessage() for r in caplog.records]
    assert "event=resend-uncertain feed=news items=1" in logged


def test_a_stop_during_a_read_lets_it_end_quietly_without_counting_a_failure(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    feeds.publish("news", 1)
    project.write(project.table("news"))
    with running(project):
        wait_for(lambda: len(sandbox.posts) == 1, "the first item")
        feeds.publish("news", 2)
        feeds.slow("news", 1.0)
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) > polls, "a read under way")
        asked = time.monotonic()
    # Give a read that outlived the daemon the time to come back and hit a closed state.
    time.sleep(max(0.0, asked + 1.3 - time.monotonic()))
    with Store(project.state, read_only=True) as store:
        state = store.feed_state("news")
    assert (state.consecutive_failures, state.last_error) == (0, None)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_feed_sending_max_age_is_not_read_again_before_it_runs_out(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    now = [start]
    first = feeds.publish("news", 1)
    headers = {"Content-Type": RSS, "Cache-Control": "max-age=3600"}
    feeds.server.routes["/news.xml"] = (200, headers, feeds.body("news"))
    project.write(project.table("news"))
    with running(project, clock=lambda: now[0]) as run:
        wait_for(lambda: texts(sandbox) == titles(first), "the first item")
        state = state_when(run.daemon.store, "news", lambda s: s.next_poll is not None)
        hour = timedelta(hours=1)
        assert state.next_poll == NextPoll(start + hour, "Cache-Control max-age=3600", True)

        def put_off() -> float:
            return run.daemon.metrics.get("poster_reads_put_off_total", feed="news")

        # The job fires every second; every read before the hour is up is put off.
        wait_for(lambda: put_off() >= 2, "two reads put off")
        now[0] = start + hour - timedelta(minutes=1)
        seen = put_off()
        wait_for(lambda: put_off() >= seen + 2, "two more reads put off a minute before")
        assert len(feeds.requests("news")) == 1
        now[0] = start + hour
        wait_for(lambda: len(feeds.requests("news")) == 2, "a read once max-age=3600 ran out")
    assert texts(sandbox) == titles(first)
