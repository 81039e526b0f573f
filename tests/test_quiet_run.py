"""Quiet hours end to end: the daemon in process and run --once, on an injected clock.

A sandbox channel and a feed server on 127.0.0.1 stand in for Viber and the publisher; the
clock the daemon and the run are given says whether it is night.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer
from support.daemon import TOKEN, Feeds, Post, Project, new_project, running, texts, titles
from support.wait import wait_for

from poster.app import build
from poster.config import Config, load_config
from poster.destinations.viber.sandbox import Sandbox
from poster.fetch.feed import make_client
from poster.ops.preview import preview, render_text
from poster.ops.status import format_status, status_view
from poster.ops.statusjson import status_json
from poster.pipeline.runner import run_once
from poster.pipeline.waitlist import waiting_items
from poster.store import RELEASED, Store
from poster.store.ledger import SKIPPED

NIGHT = datetime(2026, 11, 25, 20, 30, tzinfo=UTC)  # 23:30 in Minsk
MORNING = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # 07:00 in Minsk
WAIT = "waits for quiet hours to end at 07:00 Europe/Minsk"


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
    monkeypatch: pytest.MonkeyPatch,
    set_webhook: Callable[[], None],
) -> Project:
    monkeypatch.setenv("POSTER_VIBER_TOKEN", TOKEN)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    set_webhook()
    return new_project(tmp_path, sandbox, feeds)


def write_quiet(project: Project, quiet: str, zone: str) -> None:
    """Write feeds.toml polling feed ``news``, the channel quiet in ``quiet`` of ``zone``."""
    project.write(project.table("news"))
    text = project.config.read_text(encoding="utf-8")
    gate = f'min_gap = "0s"\nquiet = "{quiet}"\ntimezone = "{zone}"\n'
    project.config.write_text(text.replace('min_gap = "0s"\n', gate, 1), encoding="utf-8")


def quiet_around_now(project: Project) -> datetime:
    """Make the channel quiet from an hour ago to an hour from now (UTC); return now.

    Real times keep the scheduler's own times real; the daemon's clock is the test's.
    """
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    window = f"{start - timedelta(hours=1):%H:%M}-{start + timedelta(hours=1):%H:%M}"
    write_quiet(project, window, "UTC")
    return start


def test_the_daemon_posts_nothing_in_quiet_hours_and_everything_in_order_after(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    start = quiet_around_now(project)
    posts = feeds.publish("news", 1, 2, 3)
    now = [start]
    with running(project, clock=lambda: now[0]) as run:
        lane = run.daemon.outbox.lanes["viber"]
        wait_for(lambda: len(lane) == 3, "three posts waiting in the lane")
        polls = len(feeds.requests("news"))
        wait_for(lambda: len(feeds.requests("news")) >= polls + 2, "two more reads")
        assert sandbox.posts == []
        now[0] = start + timedelta(hours=1, minutes=1)
        wait_for(lambda: len(sandbox.posts) == 3, "the three posts after quiet hours")
    assert texts(sandbox) == titles(posts)


def test_run_once_holds_posts_at_night_says_until_when_and_posts_them_in_the_morning(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    write_quiet(project, "23:00-07:00", "Europe/Minsk")
    posts = feeds.publish("news", 1, 2, 3)
    config = load_config(project.config)
    with build(config, project.state) as app:
        [report] = run_once(app, config.feeds, now=lambda: NIGHT)
    assert sandbox.posts == []
    assert [o.error for o in report.outcomes] == [WAIT] * 3
    with Store(project.state, read_only=True) as store:
        view = status_view(config, store, NIGHT + timedelta(minutes=10))
        with make_client() as client:
            shown = preview(
                config, config.feeds, client, ledger=store, meta=store, now=lambda: NIGHT
            )
    text = format_status(view)
    assert "Posts held by quiet hours or a daily cap (3, oldest first)" in text
    assert text.count(f"      {WAIT}\n") == 3
    held = status_json(view)["held"]
    assert [(h["key"], h["expected"]) for h in held] == [
        (post.guid, MORNING.isoformat()) for post in posts
    ]
    assert render_text(shown).count("[waiting]") == 3
    assert render_text(shown).count(f"    why: {WAIT}\n") == 3

    with build(config, project.state) as app:
        run_once(app, config.feeds, now=lambda: MORNING)
    assert texts(sandbox) == titles(posts)
    with Store(project.state, read_only=True) as store:
        assert "Posts held" not in format_status(status_view(config, store, MORNING))


def test_status_holds_nothing_for_a_feed_no_longer_configured(
    project: Project, feeds: Feeds
) -> None:
    write_quiet(project, "23:00-07:00", "Europe/Minsk")
    feeds.publish("news", 1, 2)
    config = load_config(project.config)
    with build(config, project.state) as app:
        run_once(app, config.feeds, now=lambda: NIGHT)
    with Store(project.state, read_only=True) as store:
        assert len(status_view(config, store, NIGHT).held) == 2
    text = project.config.read_text(encoding="utf-8")
    project.config.write_text(text.replace('name = "news"', 'name = "other"'), encoding="utf-8")
    config = load_config(project.config)
    with Store(project.state, read_only=True) as store:
        assert status_view(config, store, NIGHT).held == (), "news goes nowhere any more"


def test_a_skipped_post_shows_in_status_and_a_retry_releases_it(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.record_skipped("news", "g1", "viber", "skipped: held since ..., longer than max_wait")
        assert store.is_known("news", "g1", "viber")
        [record] = store.deliveries(states=[SKIPPED])
        assert record.last_error is not None and "max_wait" in record.last_error
        text = format_status(status_view(Config(tmp_path / "feeds.toml", tmp_path), store, NIGHT))
        assert "Failed, uncertain and skipped items (1, oldest first)" in text
        assert "  skipped    held longer than max_wait, so not posted stale" in text
        assert text.endswith("\nAll good.\n")
        assert store.retry("news", "g1")
        assert [r.state for r in store.deliveries(feed="news")] == [RELEASED]
        assert not store.is_known("news", "g1", "viber")


def test_status_holds_nothing_once_the_quiet_hours_are_gone_and_the_posts_went(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    write_quiet(project, "23:00-07:00", "Europe/Minsk")
    posts = feeds.publish("news", 1, 2)
    config = load_config(project.config)
    with build(config, project.state) as app:
        run_once(app, config.feeds, now=lambda: NIGHT)
    with Store(project.state, read_only=True) as store:
        assert len(status_view(config, store, NIGHT).held) == 2
    project.write(project.table("news"))  # the quiet hours are taken off
    config = load_config(project.config)
    with build(config, project.state) as app:
        run_once(app, config.feeds, now=lambda: NIGHT)
    assert texts(sandbox) == titles(posts)
    write_quiet(project, "23:00-07:00", "Europe/Minsk")  # and put back: nothing is held
    config = load_config(project.config)
    with Store(project.state, read_only=True) as store:
        assert "Posts held" not in format_status(status_view(config, store, NIGHT))


def stopped_with_two_waiting(project: Project, feeds: Feeds, *, reads: int = 0) -> list[Post]:
    """Run the daemon in quiet hours until two posts wait in its lane, after ``reads`` more
    reads of the feed, and stop it; return the two."""
    start = quiet_around_now(project)
    posts = feeds.publish("news", 1, 2)
    with running(project, clock=lambda: start) as run:
        lane = run.daemon.outbox.lanes["viber"]
        wait_for(lambda: len(lane) == 2, "two posts waiting in the lane")
        read = len(feeds.server.requests)
        wait_for(lambda: len(feeds.server.requests) >= read + reads, "more reads of the feed")
    return posts


def test_what_waits_in_the_daemon_at_its_stop_is_posted_after_the_feed_rolled_it_off(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    posts = stopped_with_two_waiting(project, feeds)
    feeds.published["news"] = []  # the feed rolls both off while poster is stopped
    feeds.publish("news", 3)
    project.write(project.table("news"))  # and the quiet hours are over
    config = load_config(project.config)
    with build(config, project.state) as app:
        run_once(app, config.feeds)
    assert texts(sandbox) == [*titles(posts), "News story 3"]


def test_what_waits_in_the_daemon_at_its_stop_is_posted_by_a_pass_of_the_unchanged_feed(
    project: Project, feeds: Feeds, sandbox: Sandbox
) -> None:
    # Read again while they wait: that read finds nothing new and keeps its validators.
    posts = stopped_with_two_waiting(project, feeds, reads=2)
    start = datetime.now(UTC)
    project.write(project.table("news"))  # the quiet hours are over; the feed is as it was
    config = load_config(project.config)
    with Store(project.state, read_only=True) as store:
        [viber] = status_view(config, store, start).destinations
    assert viber.waiting == 2, "status counts what the stopped daemon left waiting"
    with build(config, project.state) as app:
        run_once(app, config.feeds)
    assert texts(sandbox) == titles(posts), "a 'not modified' must not leave them waiting"
    with Store(project.state, read_only=True) as store:
        [viber] = status_view(config, store, start).destinations
    assert viber.waiting == 0


def kept_on_disk(state: Path) -> list[str]:
    """Return the keys of the waiting items the state on disk holds for feed ``news``."""
    with Store(state, read_only=True) as store:
        return sorted(item.key for item in waiting_items(store, "news", ()))


def test_what_the_lanes_hold_is_in_the_state_before_any_stop_so_a_killed_daemon_loses_none(
    project: Project, feeds: Feeds, sandbox: Sandbox, tmp_path: Path
) -> None:
    start = quiet_around_now(project)
    posts = feeds.publish("news", 1, 2)
    now = [start]
    crashed = tmp_path / "state-as-killed"
    with running(project, clock=lambda: now[0]) as run:
        lane = run.daemon.outbox.lanes["viber"]
        wait_for(lambda: len(lane) == 2, "two posts waiting in the lane")
        posts += feeds.publish("news", 3)  # read again while the first two wait: a second batch
        wait_for(lambda: len(lane) == 3, "three posts waiting in the lane")
        guids = sorted(p.guid for p in posts)
        wait_for(lambda: kept_on_disk(project.state) == guids, "the three kept on disk")
        shutil.copytree(project.state, crashed)  # the daemon killed here keeps this much
        now[0] = start + timedelta(hours=1, minutes=1)
        wait_for(lambda: len(sandbox.posts) == 3, "the three posts after quiet hours")
        wait_for(lambda: kept_on_disk(project.state) == [], "nothing kept once all is posted")
    assert texts(sandbox) == titles(posts)

    # Restarted from the killed daemon's state after the feed rolled all three off.
    shutil.rmtree(project.state)
    shutil.copytree(crashed, project.state)
    (project.state / "poster.holder").unlink(missing_ok=True)
    feeds.published["news"] = []
    feeds.publish("news", 4)
    project.write(project.table("news"))  # and the quiet hours are over
    config = load_config(project.config)
    with build(config, project.state) as app:
        run_once(app, config.feeds)
    assert texts(sandbox)[3:] == [*titles(posts), "News story 4"]


def test_what_a_reload_takes_from_the_lanes_is_kept_with_the_waiting_items(
    project: Project, feeds: Feeds
) -> None:
    start = quiet_around_now(project)
    feeds.publish("news", 1, 2)
    with running(project, clock=lambda: start) as run:
        lane = run.daemon.outbox.lanes["viber"]
        wait_for(lambda: len(lane) == 2, "two posts waiting in the lane")
        text = project.config.read_text(encoding="utf-8")
        project.config.write_text(text.replace("[[feeds]]\n", "[[feeds]]\nfallback = 'url'\n"))
        run.reload()
        kept = waiting_items(run.daemon.store, "news", ())
        assert sorted(item.key for item in kept) == sorted(p.guid for p in feeds.published["news"])
