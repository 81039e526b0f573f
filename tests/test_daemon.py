"""Run the daemon in this process against a sandbox channel and a feed server on 127.0.0.1.

Each test publishes RSS feeds on a ``FeedServer``, writes a feeds.toml that polls them five times
a second and posts to a ``Sandbox`` started in the test, runs ``Daemon.run()`` in a thread with a
short tick, and waits (with a deadline) for what the channel, the store, the logs and the listener
show.
"""

from __future__ import annotations

import errno
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer, Route
from support.daemon import (
    BACKOFF_MAX,
    POLL,
    RSS,
    TOKEN,
    Feeds,
    Post,
    Project,
    Running,
    new_project,
    running,
    state_when,
    texts,
    titles,
)
from support.wait import wait_for

from poster.config.parsedtoml import recall
from poster.daemon import core as core_module
from poster.daemon.schedule import slot
from poster.destinations.viber.sandbox import Sandbox
from poster.errors import GONE_REASON
from poster.models import NextPoll
from poster.ops import inbox
from poster.pipeline import outbox
from poster.store import Store
from poster.store import journal as journal_module
from poster.store.ledger import SENT, UNCERTAIN

FATAL = 'poster_channel_fatal{destination="viber"}'
QUEUED = 'poster_queue_length{destination="viber"}'
HOUR = timedelta(hours=1)


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


def last_read_on_disk(project: Project, feed: str = "news") -> datetime | None:
    """Return when the feed was last read well, as the state on disk has it."""
    with Store(project.state, read_only=True) as reader:
        return reader.feed_state(feed).last_success


def not_modified(run: Running, feed: str = "news") -> float:
    """Return how many of the feed's polls were answered 304."""
    return run.daemon.metrics.get("poster_fetches_total", result="not_modified", feed=feed)


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


def test_a_read_is_written_with_the_next_change_or_at_the_next_tick(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    feeds.publish("news", 1)
    project.write(project.table("news"))

    def on_disk() -> datetime | None:
        return last_read_on_disk(project)

    with running(project, tick=3600) as run:  # no tick comes: only the next change writes
        wait_for(lambda: len(sandbox.posts) == 1, "the item")
        wait_for(lambda: not_modified(run) >= 2, "two polls answered 304")
        written = on_disk()
        assert written is not None
        assert run.daemon.store.feed_state("news").last_success > written
        assert on_disk() == written, "a read answered 304 waits for the next write"
    in_memory = run.daemon.store.feed_state("news").last_success
    assert on_disk() == in_memory, "stopping writes what waited"
    with running(project) as run:
        wait_for(lambda: not_modified(run) >= 1, "a poll answered 304")
        seen = run.daemon.store.feed_state("news").last_success
        assert seen is not None and seen > in_memory
        wait_for(lambda: (on_disk() or in_memory) >= seen, "the read written at a tick")


def test_a_full_disk_at_a_tick_is_logged_once_and_the_reads_are_written_later(
    project: Project,
    feeds: Feeds,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feeds.publish("news", 1)
    project.write(project.table("news"))
    written = journal_module.append_at

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with running(project) as run:
        wait_for(lambda: project.records() == {"news-1": SENT}, "the item")
        monkeypatch.setattr(journal_module, "append_at", full)
        polls = not_modified(run)
        wait_for(lambda: not_modified(run) >= polls + 3, "three 304 polls while the disk is full")
        failed = [r for r in caplog.records if "event=state-write-failed" in r.getMessage()]
        assert len(failed) == 1, "logged once, not at every tick"
        assert "full" in failed[0].getMessage()
        monkeypatch.setattr(journal_module, "append_at", written)
        last = run.daemon.store.feed_state("news").last_success
        assert last is not None
        never = datetime.min.replace(tzinfo=UTC)
        wait_for(lambda: (last_read_on_disk(project) or never) >= last, "the reads written")


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


def test_a_feed_removed_with_posts_waiting_says_so_and_posts_them_when_put_back(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    blog = feeds.publish("blog", 1, 2, 3)
    table = project.table("blog")
    paced = project.write(table).read_text(encoding="utf-8")
    project.config.write_text(paced.replace('min_gap = "0s"', 'min_gap = "1h"'), "utf-8")
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 1, "the first post; two wait an hour")
        project.write(project.table("news"))
        run.reload()
        logged = [r.getMessage() for r in caplog.records]
        assert any("event=reload feed=blog change=removed waiting=2 " in line for line in logged)
        project.write(table, project.table("news"))  # put back, with no gap
        run.reload()
        wait_for(lambda: len(sandbox.posts) == 3, "the two that waited")
    assert Counter(texts(sandbox)) == Counter(titles(blog))


def test_a_feed_a_reload_renames_posts_nothing_again_and_goes_on_with_what_is_new(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    news = feeds.publish("news", 1, 2, 3)
    renamed = project.table("news", backlog=2).replace('name = "news"', 'name = "city-news"')
    project.write(project.table("news", backlog=2))
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 2, "the newest two; the oldest held back")
        project.write(renamed)
        run.reload()
        wait_for(lambda: "city-news" in project.records_of_feeds(), "the renamed feed's read")
        fresh = feeds.publish("news", 4)
        wait_for(lambda: len(sandbox.posts) == 3, "the item new since the rename")
    assert texts(sandbox) == titles([*news[1:], *fresh])
    logged = [r.getMessage() for r in caplog.records]
    assert "feed=city-news status=first-read carried_from=news known=3 waiting=0" in logged


def test_a_feed_a_reload_renames_posts_what_its_old_name_left_waiting(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    blog = feeds.publish("blog", 1, 2, 3)
    paced = project.write(project.table("blog")).read_text(encoding="utf-8")
    project.config.write_text(paced.replace('min_gap = "0s"', 'min_gap = "1h"'), "utf-8")
    renamed = project.table("blog", backlog=0).replace('name = "blog"', 'name = "city-blog"')
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 1, "the first post; two wait an hour")
        feeds.published["blog"] = []  # the three roll off the feed's page, and one comes
        fresh = feeds.publish("blog", 4)
        project.write(renamed)  # with no gap
        run.reload()
        wait_for(lambda: len(sandbox.posts) == 4, "the two that waited, then the new one")
    assert texts(sandbox) == titles([*blog, *fresh])
    logged = " ".join(r.getMessage() for r in caplog.records)
    # Three wait when the old name read the new page before the reload, else two.
    assert re.search(
        r"feed=city-blog status=first-read carried_from=blog known=1 waiting=[23]", logged
    )


def test_the_daemon_keeps_what_feeds_toml_parsed_to_at_start_and_at_each_reload(
    project: Project, feeds: Feeds, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("CACHE_DIRECTORY", str(cache))
    feeds.publish("news", 1)
    config = project.write(project.table("news"))
    with running(project) as run:
        assert recall(cache, config.resolve(), config.read_bytes()) is not None
        project.write(project.table("news"), project.table("blog"))
        run.reload()
        assert recall(cache, config.resolve(), config.read_bytes()) is not None
        assert run.daemon.config.feed("blog") is not None


def test_a_bad_reload_logs_every_problem_and_keeps_the_old_config_running(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    first = feeds.publish("news", 1)
    good = project.write(project.table("news")).read_text(encoding="utf-8")
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 1, "the first item")
        bad = good.replace("[daemon]\n", '[daemon]\ncolour = "blue"\n')
        bad = bad.replace(f'interval = "{POLL}"', f'intervall = "{POLL}"')
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


def test_status_says_the_daemon_refused_its_reload_until_one_is_taken(
    project: Project,
    feeds: Feeds,
    sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from poster.cli import main

    monkeypatch.delenv("POSTER_DT_TOKEN", raising=False)
    feeds.publish("news", 1)
    written = project.write(project.table("news")).read_text(encoding="utf-8")
    good = written.replace("[viber]\n", '[destinations.viber]\nkind = "viber"\n')
    project.config.write_text(good, encoding="utf-8")
    (project.root / "subs.txt").write_text("+375291234567\n", encoding="utf-8")
    # Sound to read, so status reads it too; refused by the daemon, which finds no key for it.
    gateway = '[destinations.dt]\nkind = "decisiontelecom"\nsource_addr = "Poster"\n'
    gateway += 'recipients = "subs.txt"\n\n'
    words = ["-c", str(project.config), "--state-dir", str(project.state), "status"]
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 1, "the first item")
        project.config.write_text(good.replace("[webhook]", gateway + "[webhook]"), "utf-8")
        run.reload()
        capsys.readouterr()
        assert main(words) == 1
        out = capsys.readouterr().out
        assert "The daemon refused the reload of " in out and "no access key" in out
        assert "the daemon refused the last reload of feeds.toml" in out
        project.config.write_text(good, encoding="utf-8")
        run.reload()
        assert main(words) == 0
        assert "refused" not in capsys.readouterr().out


def test_a_feed_a_reload_removes_while_it_is_read_posts_nothing(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    feeds.publish("news", 1)
    feeds.publish("blog", 2)
    project.write(project.table("news"), project.table("blog"))
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 2, "the first items")
        feeds.publish("blog", 3)
        status, headers, body = feeds.server.routes["/blog.xml"][:3]
        feeds.server.routes["/blog.xml"] = Route(status, headers, body, delay=1.0)
        asked = len(feeds.requests("blog"))
        wait_for(lambda: len(feeds.requests("blog")) > asked, "a slow read of blog")
        project.write(project.table("news"))  # blog is removed while it is read
        run.reload()
        wait_for(
            lambda: any("event=read-dropped feed=blog" in r.getMessage() for r in caplog.records),
            "the slow read to end",
            timeout=5.0,
        )
    assert len(sandbox.posts) == 2, "blog's new item went nowhere"


def test_a_reload_tells_a_template_broken_since_the_last_one(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    feeds.publish("news", 1)
    project.write(project.table("news"))
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 1, "the first item")
        template = project.root / "templates" / "default.j2"
        template.write_text(template.read_text(encoding="utf-8") + "{% if %}\n", encoding="utf-8")
        run.reload()
    told = [r for r in caplog.records if "event=reload-template-problem" in r.getMessage()]
    assert len(told) == 1 and told[0].levelno == logging.WARNING
    assert "default.j2" in told[0].getMessage() and "syntax error" in told[0].getMessage()
    assert "(used by feed news)" in told[0].getMessage()


def test_a_reload_that_fails_unforeseen_keeps_the_old_config_running(
    project: Project,
    feeds: Feeds,
    sandbox: Sandbox,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = feeds.publish("news", 1)
    project.write(project.table("news"))
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 1, "the first item")

        def broken(*_args: object, **_kwargs: object) -> None:
            raise RecursionError("maximum recursion depth exceeded")

        monkeypatch.setattr(core_module, "load_config", broken)
        run.reload()
        later = feeds.publish("news", 2)
        wait_for(lambda: len(sandbox.posts) == 2, "the item published after the failed reload")
    assert texts(sandbox) == titles(first + later)
    [rejected] = [r for r in caplog.records if "event=reload-rejected" in r.getMessage()]
    assert "RecursionError: maximum recursion depth exceeded" in rejected.getMessage()


def test_a_fatal_channel_error_stops_posting_keeps_queueing_and_drains_after_a_reload(
    bare: Project, feeds: Feeds, sandbox: Sandbox, set_webhook: Callable[[], None]
) -> None:
    first = feeds.publish("news", 1, 2, 3)
    bare.write(bare.table("news"))
    with running(bare) as run:
        wait_for(lambda: run.metric(FATAL) == 1, "the channel to stop")
        health = run.get("/healthz")
        assert health.status_code == 503
        assert "webhook" in health.text
        assert run.metric(QUEUED) == 3
        # Fetching goes on while the channel is stopped, and queues each item once.
        later = feeds.publish("news", 4)
        wait_for(lambda: run.metric(QUEUED) == 4, "the new item to queue")
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) >= polls + 2, "two more polls")
        assert run.metric(QUEUED) == 4
        assert sandbox.posts == []
        set_webhook()
        run.reload()
        wait_for(lambda: len(sandbox.posts) == 4, "the queue to drain")
        assert run.metric(FATAL) == 0
        assert run.get("/healthz").status_code == 200
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) >= polls + 2, "two more polls")
    assert texts(sandbox) == titles(first + later)
    assert bare.records() == dict.fromkeys([p.guid for p in first + later], SENT)


def test_a_rate_limit_pauses_the_channel_and_the_item_is_posted_later_once(
    project: Project,
    feeds: Feeds,
    sandbox: Sandbox,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In service the channel first backs off 5 s; a shorter base pauses the same way.
    base = timedelta(seconds=1)
    monkeypatch.setattr(outbox, "CHANNEL_BACKOFF_BASE", base)
    posts = feeds.publish("news", 1, 2)
    project.write(project.table("news"))
    sandbox.inject("rate_limit")
    with running(project):
        wait_for(lambda: len(sandbox.posts) == 2, "the posts after the pause", timeout=15)
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) >= polls + 2, "two more polls")
    [pause] = [r for r in caplog.records if "event=destination-paused" in r.getMessage()]
    # From the pause being logged to the channel taking the next post, measured on both sides
    # rather than when the test happens to look; the post's "ts" is in whole milliseconds.
    paused = int(sandbox.posts[0]["ts"]) / 1000 - pause.created
    # No Retry-After came with status 12, so the channel backs off the base, jittered by ±20 %.
    assert paused >= 0.8 * base.total_seconds() - 0.001
    assert texts(sandbox) == titles(posts)
    assert project.records() == dict.fromkeys(["news-1", "news-2"], SENT)
    assert "status 12" in pause.getMessage() or "Too many requests" in pause.getMessage()


def test_a_failing_feed_backs_off_is_disabled_and_comes_back_without_delaying_others(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    news = feeds.publish("news", 1)
    feeds.fail("gone", 503, {"Retry-After": "1"})
    project.write(project.table("news"), project.table("gone"), daemon="disable_after = 3\n")
    with running(project) as run:
        store = run.daemon.store
        first = state_when(store, "gone", lambda s: s.consecutive_failures == 1)
        assert first.last_failure is not None and first.next_attempt is not None
        # Retry-After (RFC 9110 §10.2.3) is honoured up to backoff_max, jittered over it.
        assert BACKOFF_MAX < 1
        cap = timedelta(seconds=BACKOFF_MAX)
        assert cap <= first.next_attempt - first.last_failure <= 1.2 * cap
        assert first.last_error is not None and "HTTP 503" in first.last_error
        feeds.fail("gone", 500, delay=0.5)
        # The good feed keeps being read and posted while the bad one fails (slowly).
        news += feeds.publish("news", 2)
        wait_for(lambda: len(sandbox.posts) == 2, "news' new item", timeout=3)
        assert store.feed_state("gone").disabled is None
        second = state_when(store, "gone", lambda s: s.consecutive_failures == 2)
        assert second.last_failure is not None and second.next_attempt is not None
        assert second.last_failure - first.last_failure >= timedelta(seconds=1)
        wait = second.next_attempt - second.last_failure
        cap = timedelta(seconds=BACKOFF_MAX)
        assert 0.8 * cap <= wait <= 1.2 * cap
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


def test_a_gone_feed_is_disabled_at_the_first_410_and_comes_back_if_the_server_relents(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    feeds.fail("gone", 410)
    project.write(project.table("gone"))
    with running(project) as run:
        store = run.daemon.store
        disabled = state_when(store, "gone", lambda s: s.disabled is not None)
        assert (disabled.disabled, disabled.consecutive_failures) == (GONE_REASON, 1)
        back = feeds.publish("gone", 1)
        state_when(store, "gone", lambda s: s.disabled is None)
        wait_for(lambda: texts(sandbox) == titles(back), "the re-enabled feed's item")
    logged = [r.getMessage() for r in caplog.records]
    assert sum("event=feed-disabled feed=gone" in line for line in logged) == 1


def test_a_lost_answer_is_never_posted_again_until_an_operator_retries_it(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    first = feeds.publish("news", 1, 2, 3)
    project.write(project.table("news"))
    sandbox.inject("drop")
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 3, "every item to reach the channel")
        wait_for(lambda: len(run.daemon.store.deliveries(states=[SENT])) == 2, "two sent")
        assert (
            run.daemon.metrics.get("poster_posts_total", outcome=UNCERTAIN, destination="viber")
            == 1
        )
    assert project.records() == {"news-1": UNCERTAIN, "news-2": SENT, "news-3": SENT}
    with running(project) as run:
        later = feeds.publish("news", 4)
        wait_for(lambda: len(sandbox.posts) == 4, "the item published after the restart")
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) >= polls + 2, "two more polls")
        assert texts(sandbox) == titles(first + later)
        # A slow feed keeps a conditional read under way while the request is applied; its
        # 304 must not hide the released item from the next read.
        feeds.slow("news", 0.8)
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
    first = _news_1_left_uncertain(project, feeds, sandbox)
    with running(project):
        wait_for(lambda: len(sandbox.posts) == 3, "the uncertain item to be sent again")
    # At least once: the item whose answer was lost arrives a second time, as configured.
    assert texts(sandbox) == titles(first + first[:1])
    assert project.records() == {"news-1": SENT, "news-2": SENT}
    logged = [r.getMessage() for r in caplog.records]
    assert "event=resend-uncertain feed=news items=1" in logged


def test_a_resend_feed_added_by_a_reload_sends_its_uncertain_items_again(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    first = _news_1_left_uncertain(project, feeds, sandbox)
    blog = feeds.publish("blog", 3)
    project.write(project.table("blog"))
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 3, "blog's item")
        project.write(project.table("blog"), project.table("news", extra='uncertain = "resend"\n'))
        run.reload()
        wait_for(lambda: len(sandbox.posts) == 4, "news' uncertain item to be sent again")
    assert texts(sandbox) == titles(first + blog + first[:1])
    assert project.records() == {"news-1": SENT, "news-2": SENT, "blog-3": SENT}
    logged = [r.getMessage() for r in caplog.records]
    assert "event=resend-uncertain feed=news items=1" in logged


def _news_1_left_uncertain(project: Project, feeds: Feeds, sandbox: Sandbox) -> list[Post]:
    """Run a resend feed whose first post's answer is lost; return both its items."""
    first = feeds.publish("news", 1, 2)
    project.write(project.table("news", extra='uncertain = "resend"\n'))
    sandbox.inject("drop")
    with running(project) as run:
        wait_for(lambda: len(sandbox.posts) == 2, "both items to reach the channel")
        wait_for(lambda: len(run.daemon.store.deliveries(states=[SENT])) == 1, "news-2 sent")
    assert project.records() == {"news-1": UNCERTAIN, "news-2": SENT}
    return first


def test_a_stop_during_a_read_lets_it_end_quietly_without_counting_a_failure(
    project: Project, feeds: Feeds, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    feeds.publish("news", 1)
    # Reads come a second apart, so the slow one is never overlapped by the next, which the
    # scheduler would skip with a warning of its own.
    project.write(project.table("news", interval="1s"))
    with running(project):
        wait_for(lambda: len(sandbox.posts) == 1, "the first item")
        feeds.publish("news", 2)
        feeds.slow("news", 0.5)
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) > polls, "a read under way")
        asked = time.monotonic()
    # Give a read that outlived the daemon the time to come back and hit a closed state.
    time.sleep(max(0.0, asked + 0.8 - time.monotonic()))
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

        # The job fires five times a second; every read before the hour is up is put off.
        wait_for(lambda: put_off() >= 2, "two reads put off")
        now[0] = start + hour - timedelta(minutes=1)
        seen = put_off()
        wait_for(lambda: put_off() >= seen + 2, "two more reads put off a minute before")
        assert len(feeds.requests("news")) == 1
        now[0] = start + hour
        wait_for(lambda: len(feeds.requests("news")) == 2, "a read once max-age=3600 ran out")
    assert texts(sandbox) == titles(first)


def test_a_304_without_cache_control_keeps_the_lifetime_the_200_gave(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    now = [start]
    first = feeds.publish("news", 1)
    headers = {"Content-Type": RSS, "Cache-Control": "max-age=3600"}
    feeds.server.routes["/news.xml"] = (200, headers, feeds.body("news"))
    project.write(project.table("news"))
    hour = timedelta(hours=1)
    with running(project, clock=lambda: now[0]) as run:
        store = run.daemon.store
        wait_for(lambda: texts(sandbox) == titles(first), "the first item")
        state_when(store, "news", lambda s: s.next_poll is not None)
        now[0] = start + hour
        wait_for(lambda: len(feeds.requests("news")) == 2, "a read once max-age=3600 ran out")
        # The feed server answers the conditional read 304 with only ETag and Last-Modified;
        # the stored response's max-age still holds (RFC 9111 §4.3.4).
        later = state_when(store, "news", lambda s: s.last_success == start + hour)
        assert later.next_poll == NextPoll(start + 2 * hour, "Cache-Control max-age=3600", True)
    assert feeds.requests("news")[1].get("if-none-match")


def test_a_huge_max_age_is_capped_and_the_read_recorded(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    first = feeds.publish("news", 1)
    headers = {"Content-Type": RSS, "Cache-Control": "max-age=99999999999999"}
    feeds.server.routes["/news.xml"] = (200, headers, feeds.body("news"))
    project.write(project.table("news"))
    with running(project, clock=lambda: start) as run:
        wait_for(lambda: texts(sandbox) == titles(first), "the first item")
        state = state_when(run.daemon.store, "news", lambda s: s.next_poll is not None)
        why = "Cache-Control max-age=2147483648 (capped at 1d)"
        assert state.next_poll == NextPoll(start + timedelta(days=1), why, True)
        assert (state.consecutive_failures, state.last_success) == (0, start)
        wait_for(
            lambda: run.daemon.metrics.get("poster_reads_put_off_total", feed="news") >= 2,
            "two reads put off",
        )
    assert len(feeds.requests("news")) == 1


def next_run(run: Running, name: str) -> datetime:
    job = run.daemon.scheduler.get_job(name)
    assert job is not None and job.next_run_time is not None
    moment: datetime = job.next_run_time
    return moment


def at_its_slot(run: Running, name: str) -> bool:
    """Tell whether the feed's next poll is its slot in the coming hour."""
    config = run.daemon.config.feed(name)
    assert config is not None
    moment = next_run(run, name)
    now = datetime.now(UTC)
    return now < moment <= now + HOUR and slot(config, moment - HOUR) == moment


def test_a_feed_read_before_is_polled_at_its_slot_and_a_new_one_at_once_then_at_its_slot(
    project: Project,
) -> None:
    project.feeds.publish("news", 1)
    project.feeds.publish("blog", 2)
    with Store(project.state) as store:
        store.record_fetch_ok("news", datetime.now(UTC) - timedelta(minutes=5))
    project.write(project.table("news", interval="1h"), project.table("blog", interval="1h"))
    with running(project) as run:
        wait_for(lambda: len(project.feeds.requests("blog")) == 1, "the new feed read at once")
        wait_for(lambda: at_its_slot(run, "blog"), "the new feed moved to its slot")
        assert at_its_slot(run, "news")
        time.sleep(0.3)
        assert project.feeds.requests("news") == []
        assert len(project.feeds.requests("blog")) == 1
