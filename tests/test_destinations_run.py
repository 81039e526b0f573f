"""Run two Viber channels and a recording destination side by side, one of them refusing posts.

Each channel is a sandbox of its own with its own token; feeds are routed with ``to``. The
news channel's token is revoked in its sandbox: news stops, sports and the archive go on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from feedserver import FeedServer
from support.daemon import BACKOFF_MAX, POLL, Feeds, Project, free_port, new_project, running
from support.wait import wait_for

from poster.cli import EXIT_FAILED, main
from poster.daemon.listener import WebhookReceiver
from poster.destinations.viber.api import ViberChannel
from poster.destinations.viber.sandbox import Sandbox

NEWS_TOKEN = "news-Qx7m-2vLp9-never-shown-55"
SPORTS_TOKEN = "sports-Zr4k-8wHt3-never-shown-66"


def channel(token: str) -> Iterator[Sandbox]:
    """Run a sandbox channel for ``token`` with its webhook set."""
    with Sandbox(token=token, port=0) as sandbox, WebhookReceiver(token, port=0) as receiver:
        with httpx.Client() as client:
            result = ViberChannel(client, token, api_url=sandbox.api_url).set_webhook(receiver.url)
        assert result.ok, result.explanation
        yield sandbox


@pytest.fixture
def news() -> Iterator[Sandbox]:
    yield from channel(NEWS_TOKEN)


@pytest.fixture
def sports() -> Iterator[Sandbox]:
    yield from channel(SPORTS_TOKEN)


@pytest.fixture
def project(
    tmp_path: Path,
    news: Sandbox,
    sports: Sandbox,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Project:
    """Return a project posting city news to news, matches to sports, and both to the archive."""
    monkeypatch.setenv("POSTER_NEWS_TOKEN", NEWS_TOKEN)
    monkeypatch.setenv("POSTER_SPORTS_TOKEN", SPORTS_TOKEN)
    monkeypatch.delenv("POSTER_VIBER_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    project = new_project(tmp_path, news, Feeds(feed_server))
    project.listen = free_port()
    feeds = project.feeds
    project.config.write_text(
        'templates = "templates"\n\n'
        f'[destinations.news]\nkind = "viber"\napi_url = "{news.api_url}"\nmin_gap = "0s"\n\n'
        f'[destinations.sports]\nkind = "viber"\napi_url = "{sports.api_url}"\nmin_gap = "0s"\n\n'
        '[destinations.archive]\nkind = "recording"\nmin_gap = "0s"\n\n'
        f'[webhook]\nlisten = "127.0.0.1:{project.listen}"\n\n'
        f'[daemon]\nbackoff_max = "{BACKOFF_MAX}s"\n\n'
        f'[[feeds]]\nname = "city"\nurl = "{feeds.url("city")}"\ninterval = "{POLL}"\n'
        'backlog = "all"\nto = ["news", "archive"]\n\n'
        f'[[feeds]]\nname = "match"\nurl = "{feeds.url("match")}"\ninterval = "{POLL}"\n'
        'backlog = "all"\nto = ["sports", "archive"]\n',
        encoding="utf-8",
    )
    return project


def texts(sandbox: Sandbox) -> list[str]:
    return [str(post["text"]) for post in sandbox.posts]


def archived(project: Project) -> list[str]:
    path = project.state / "archive.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [json.loads(line)["text"] for line in lines]


def test_one_revoked_channel_stops_alone_while_the_others_post_on(
    project: Project, news: Sandbox, sports: Sandbox
) -> None:
    feeds = project.feeds
    feeds.publish("city", 1)
    feeds.publish("match", 2)
    with running(project) as run:
        wait_for(lambda: len(news.posts) == 1 and len(sports.posts) == 1, "a post on each")
        wait_for(lambda: len(archived(project)) == 2, "both items in the archive")
        news.channel.set_revoked(True)
        feeds.publish("city", 3)
        feeds.publish("match", 4)
        wait_for(lambda: len(sports.posts) == 2, "sports to post on")
        wait_for(lambda: run.metric('poster_channel_fatal{destination="news"}') == 1, "news fatal")
        wait_for(lambda: len(archived(project)) == 4, "the archive to take both new items")
        health = run.get("/healthz")
        assert health.status_code == 503
        assert "refusing posts: news" in health.text
        assert "destination sports: ok" in health.text and "destination archive: ok" in health.text
        assert "destination news: " in health.text and "status 2" in health.text
        assert run.metric('poster_channel_fatal{destination="sports"}') == 0
        assert run.metric('poster_queue_length{destination="news"}') == 1
        assert run.metric('poster_queue_length{destination="sports"}') == 0
        page = run.get("/metrics").text
        assert 'poster_posts_total{destination="sports",outcome="sent"} 2' in page
        assert 'poster_posts_total{destination="archive",outcome="sent"} 4' in page
    assert texts(news) == ["City story 1"]
    assert texts(sports) == ["Match story 2", "Match story 4"]
    assert sorted(archived(project)) == sorted(
        ["City story 1", "Match story 2", "City story 3", "Match story 4"]
    )
    for token in (NEWS_TOKEN, SPORTS_TOKEN):
        assert token not in (project.state / "archive.jsonl").read_text(encoding="utf-8")


def test_a_run_once_posts_to_every_destination_but_the_refusing_one(
    project: Project, news: Sandbox, sports: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    feeds = project.feeds
    feeds.publish("city", 1, 3)
    feeds.publish("match", 2)
    news.channel.set_revoked(True)
    args = ["-c", str(project.config), "run", "--once", "--state-dir", str(project.state)]
    assert main(args) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "refuses posts" in err and "news" in err and "status 2" in err
    assert "set it in POSTER_NEWS_TOKEN, [destinations.news] token_file, or the systemd " in err
    assert "POSTER_VIBER_TOKEN" not in err
    status = ["-c", str(project.config), "status", "--state-dir", str(project.state)]
    main(status)
    shown = capsys.readouterr().out
    assert shown.split("Recent deliveries")[1].split()[:6] == [
        "(newest",
        "first)",
        "STATE",
        "DESTINATION",
        "FEED",
        "KEY",
    ]
    assert any(line.split()[:3] == ["sent", "sports", "match"] for line in shown.splitlines())
    assert news.posts == []
    assert texts(sports) == ["Match story 2"]
    assert sorted(archived(project)) == ["City story 1", "City story 3", "Match story 2"]
    # Once news takes posts again, only what it has not had is sent, and nowhere else again.
    news.channel.set_revoked(False)  # the admin restores the token
    assert main(args) == 0
    assert texts(news) == ["City story 1", "City story 3"]
    assert texts(sports) == ["Match story 2"] and len(archived(project)) == 3


def set_webhook(sandbox: Sandbox, token: str, url: str) -> None:
    """Point a channel's webhook at ``url``; its sandbox signs the check call with ``token``."""
    with httpx.Client() as client:
        result = ViberChannel(client, token, api_url=sandbox.api_url).set_webhook(url)
    assert result.ok, result.explanation
    assert sandbox.webhook == url


def test_the_daemon_answers_the_signed_check_call_of_each_channel(
    project: Project, news: Sandbox, sports: Sandbox
) -> None:
    url = f"http://127.0.0.1:{project.listen}/viber/webhook"
    with running(project):
        set_webhook(news, NEWS_TOKEN, url)
        set_webhook(sports, SPORTS_TOKEN, url)


def test_a_channel_added_by_a_reload_has_its_check_call_answered(
    project: Project, sports: Sandbox
) -> None:
    both = project.config.read_text(encoding="utf-8")
    sports_table = both[both.index("[destinations.sports]") : both.index("[destinations.archive]")]
    news_only = both[: both.index('[[feeds]]\nname = "match"')].replace(sports_table, "")
    project.config.write_text(news_only, encoding="utf-8")
    url = f"http://127.0.0.1:{project.listen}/viber/webhook"
    with running(project) as run:
        with httpx.Client() as client:
            refused = ViberChannel(client, SPORTS_TOKEN, api_url=sports.api_url).set_webhook(url)
        assert (refused.ok, refused.status) == (False, 1), "no channel of the daemon signs so"
        project.config.write_text(both, encoding="utf-8")
        run.reload()
        set_webhook(sports, SPORTS_TOKEN, url)


def test_a_wrong_api_url_stops_the_channel_and_its_items_wait_for_the_right_one(
    project: Project, news: Sandbox, sports: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    project.feeds.publish("city", 1)
    project.feeds.publish("match", 2)
    args = ["-c", str(project.config), "run", "--once", "--state-dir", str(project.state)]
    assert main(args) == 0  # the sender is looked up and remembered
    project.feeds.publish("city", 1, 3)
    written = project.config.read_text(encoding="utf-8")
    wrong = f'api_url = "{news.api_url}/nowhere"'
    project.config.write_text(written.replace(f'api_url = "{news.api_url}"', wrong), "utf-8")
    capsys.readouterr()
    assert main(args) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "refuses posts" in err and "HTTP 404" in err and "/nowhere/post" in err
    assert texts(news) == ["City story 1"]
    # Nothing was rejected: once the address is right, the item goes out.
    project.config.write_text(written, "utf-8")
    assert main(args) == 0
    assert texts(news) == ["City story 1", "City story 3"]


def test_a_destination_joining_a_feed_gets_what_is_new_not_the_whole_feed(
    project: Project, news: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    routed = project.config.read_text(encoding="utf-8").replace('backlog = "all"\n', "")
    project.config.write_text(routed.replace('to = ["news", "archive"]', 'to = ["news"]'), "utf-8")
    args = ["-c", str(project.config), "run", "--once", "--feed", "city"]
    args += ["--state-dir", str(project.state)]
    project.feeds.publish("city", 1, 2, 3)
    assert main(args) == 0  # the first read holds its three items back
    project.feeds.publish("city", 4)
    assert main(args) == 0
    assert texts(news) == ["City story 4"] and archived(project) == []
    project.config.write_text(routed, "utf-8")  # the archive joins the city feed
    project.feeds.publish("city", 5)
    preview = ["-c", str(project.config), "preview", "--feed", "city"]
    capsys.readouterr()
    assert main([*preview, "--state-dir", str(project.state)]) == 0
    # Story 4 went to news: the archive is not given it; story 5 goes to both (one item).
    shown = capsys.readouterr().out
    assert "3 held back on first read, 1 already posted, 1 would post\n" in shown
    assert shown.count("    to: ") == 2  # story 5, to news and to the archive
    assert main(args) == 0
    assert texts(news) == ["City story 4", "City story 5"]
    assert archived(project) == ["City story 5"], "the archive starts from what is new"
    project.feeds.publish("city", 6)
    assert main(args) == 0
    assert archived(project) == ["City story 5", "City story 6"]
    news_only = routed.replace('to = ["news", "archive"]', 'to = ["news"]')
    project.config.write_text(news_only, "utf-8")  # the archive is taken off
    project.feeds.publish("city", 7)
    assert main(args) == 0
    project.config.write_text(routed, "utf-8")  # and comes back: it joins anew
    project.feeds.publish("city", 8)
    assert main(args) == 0
    assert texts(news)[-2:] == ["City story 7", "City story 8"]
    assert archived(project) == ["City story 5", "City story 6", "City story 8"]


def test_a_destination_joining_a_feed_is_not_given_what_waits_for_the_others(
    project: Project, news: Sandbox
) -> None:
    routed = project.config.read_text(encoding="utf-8")
    news_only = routed.replace('to = ["news", "archive"]', 'to = ["news"]').replace(
        '[destinations.news]\nkind = "viber"\n',
        '[destinations.news]\nkind = "viber"\nmax_per_pass = 1\n',
    )
    project.config.write_text(news_only, "utf-8")
    args = ["-c", str(project.config), "run", "--once", "--feed", "city"]
    args += ["--state-dir", str(project.state)]
    project.feeds.publish("city", 1, 2, 3)
    assert main(args) == 0
    assert texts(news) == ["City story 1"], "stories 2 and 3 wait for the next passes"
    project.config.write_text(news_only.replace('to = ["news"]', 'to = ["news", "archive"]', 1))
    project.feeds.publish("city", 4)
    assert main(args) == 0
    assert main(args) == 0
    assert main(args) == 0
    assert texts(news) == ["City story 1", "City story 2", "City story 3", "City story 4"]
    assert archived(project) == ["City story 4"], "the archive starts from what is new"


def test_a_reload_that_takes_a_destination_off_a_feed_drops_what_waits_for_it(
    project: Project, news: Sandbox
) -> None:
    routed = project.config.read_text(encoding="utf-8")
    recording = 'kind = "recording"\nmin_gap = '
    slow = routed.replace(f'{recording}"0s"', f'{recording}"1h"')
    project.config.write_text(slow, "utf-8")
    project.feeds.publish("city", 1, 2, 3)
    with running(project) as run:
        wait_for(lambda: len(news.posts) == 3, "the city stories on news")
        wait_for(lambda: len(archived(project)) == 1, "one story in the archive, two waiting")
        waiting = 'poster_queue_length{destination="archive"}'
        wait_for(lambda: run.metric(waiting) == 2, "two stories to wait for the archive")
        off = slow.replace('to = ["news", "archive"]', 'to = ["news"]', 1)
        project.config.write_text(off, "utf-8")
        run.reload()
        wait_for(lambda: run.metric(waiting) == 0, "the archive to wait for nothing")
    assert archived(project) == ["City story 1"] and len(news.posts) == 3


def test_status_shows_a_destination_a_run_found_refusing_until_a_post_goes(
    project: Project, news: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["-c", str(project.config), "run", "--once", "--feed", "city"]
    status = ["-c", str(project.config), "status", "--state-dir", str(project.state)]
    args += ["--state-dir", str(project.state)]
    project.feeds.publish("city", 1)
    news.channel.set_revoked(True)
    assert main(args) == EXIT_FAILED
    capsys.readouterr()
    assert main(status) == EXIT_FAILED
    shown = capsys.readouterr().out
    assert "news" in shown and "REFUSED" in shown and "status 2" in shown
    news.channel.set_revoked(False)
    assert main(args) == 0
    capsys.readouterr()
    assert main(status) == 0
    assert "REFUSED" not in capsys.readouterr().out
    assert texts(news) == ["City story 1"]


def test_the_preview_names_each_destinations_fate_when_they_differ(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    text = project.config.read_text(encoding="utf-8")
    now = datetime.now(UTC)
    window = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"
    quiet = f'[destinations.news]\nkind = "viber"\nquiet = "{window}"\ntimezone = "UTC"\n'
    project.config.write_text(text.replace('[destinations.news]\nkind = "viber"\n', quiet))
    project.feeds.publish("city", 1)
    args = ["-c", str(project.config), "preview", "--feed", "city"]
    assert main([*args, "--state-dir", str(project.state)]) == 0
    shown = capsys.readouterr().out
    assert "[waiting at news; would post at archive] City story 1" in shown


def test_a_channel_stopped_for_want_of_a_webhook_posts_once_one_is_set(
    project: Project, news: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poster.daemon import core

    monkeypatch.setattr(core, "WEBHOOK_SETTLE", 0.05)
    with httpx.Client() as client:
        assert ViberChannel(client, NEWS_TOKEN, api_url=news.api_url).remove_webhook().ok
    project.feeds.publish("city", 1)
    with running(project) as run:
        lane = run.daemon.workers["news"].lane
        wait_for(lambda: lane.fatal is not None, "news to refuse for want of a webhook")
        assert "No webhook was set" in (lane.fatal or "")
        set_webhook(news, NEWS_TOKEN, f"http://127.0.0.1:{project.listen}/viber/webhook")
        wait_for(lambda: texts(news) == ["City story 1"], "the post once the webhook is set")
        assert lane.fatal is None
