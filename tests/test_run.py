"""Run `poster run --once` end to end against a sandbox channel served over real HTTP.

Each test writes a feeds.toml whose ``[viber] api_url`` points at a ``Sandbox`` started in the
test, reads local fixture feeds from ``tests/data/run``, and checks what the sandbox received,
what the state directory holds, and the exit code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from feedserver import FeedServer, Route

from poster.cli import EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_OK, main
from poster.daemon.listener import WebhookReceiver
from poster.destinations.viber.api import ViberChannel
from poster.destinations.viber.sandbox import Sandbox
from poster.errors import StateError
from poster.store import DeliveryRecord, Store

DATA = Path(__file__).parent / "data" / "run"
TOKEN = "run-Tk7q-9fZx2-never-shown-44"
"""A token distinctive enough that finding it in any output cannot be a coincidence."""

NEWS = ["Bridge reopens", "Council meets", "Market opens"]
BLOG = ["Regatta results", "Winter training"]
DAILY = [f"Daily note {n}" for n in range(1, 6)]


@dataclass(frozen=True)
class Result:
    """What one command printed and returned."""

    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Project:
    """A scratch folder with a feeds.toml, its templates and feeds, and a state directory."""

    root: Path
    api_url: str

    @property
    def config(self) -> Path:
        return self.root / "feeds.toml"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def write(self, feeds: str, viber: str = "") -> Path:
        """Write feeds.toml with the sandbox's api_url, no gap between posts, and ``feeds``."""
        head = f'templates = "templates"\n\n[viber]\napi_url = "{self.api_url}"\nmin_gap = "0s"\n'
        self.config.write_text(head + viber + "\n" + feeds, encoding="utf-8")
        return self.config

    def use_feed(self, fixture: str, as_name: str) -> None:
        """Put a fixture feed (or a newer version of it) where feeds.toml reads it."""
        shutil.copy(DATA / fixture, self.root / "feeds" / as_name)

    def records(self, state: str | None = None) -> list[DeliveryRecord]:
        """Return the delivery records to the channel, optionally only those in ``state``."""
        with Store(self.state, read_only=True) as store:
            found = store.deliveries(states=None if state is None else [state])
        return [r for r in found if r.destination == "viber"]


def feed(name: str, file: str, backlog: int | str = "all") -> str:
    """Return one ``[[feeds]]`` table reading ``feeds/<file>``."""
    return f'[[feeds]]\nname = "{name}"\nurl = "feeds/{file}"\nbacklog = {json.dumps(backlog)}\n'


NEWS_AND_BLOG = feed("news", "news.xml") + feed("blog", "blog.atom")


@pytest.fixture
def channel_token() -> str:
    return TOKEN


@pytest.fixture
def bare(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Project:
    """Return a project pointed at a sandbox whose webhook is not set yet."""
    monkeypatch.setenv("POSTER_VIBER_TOKEN", TOKEN)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    shutil.copytree(DATA / "templates", tmp_path / "templates")
    (tmp_path / "feeds").mkdir()
    for name in ("news.xml", "blog.atom", "five.xml"):
        shutil.copy(DATA / name, tmp_path / "feeds" / name)
    return Project(tmp_path, sandbox.api_url)


@pytest.fixture
def project(bare: Project, set_webhook: Callable[[], None]) -> Project:
    """Return a project pointed at a sandbox channel ready to take posts."""
    set_webhook()
    return bare


def run(capsys: pytest.CaptureFixture[str], project: Project) -> Result:
    """Run one pass in this process and check the token stayed out of the output."""
    code = main(["-c", str(project.config), "run", "--once", "--state-dir", str(project.state)])
    out, err = capsys.readouterr()
    assert TOKEN not in out and TOKEN not in err
    return Result(code, out, err)


def texts(sandbox: Sandbox) -> list[str]:
    """Return the text of every post the sandbox accepted, oldest first."""
    return [post["text"] for post in sandbox.posts]


def superadmin(sandbox: Sandbox) -> str:
    """Return the sender id the channel itself names, through get_account_info."""
    with httpx.Client() as client:
        info = ViberChannel(client, TOKEN, api_url=sandbox.api_url).account_info()
    [admin] = info.superadmins()
    return admin.id


def test_a_pass_posts_every_item_oldest_first_across_feeds(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(NEWS_AND_BLOG)
    result = run(capsys, project)
    assert result.code == EXIT_OK, result.err
    posts = sandbox.posts
    assert texts(sandbox) == [NEWS[0], BLOG[0], NEWS[1], BLOG[1], NEWS[2]]
    assert [p["type"] for p in posts] == ["picture", "text", "text", "text", "text"]
    assert posts[0]["media"] == "https://news.example.org/img/bridge.jpg"
    assert {p["from"] for p in posts} == {superadmin(sandbox)}
    assert all("auth_token" not in p for p in posts)
    assert "  news: 3 sent\n  blog: 2 sent\n" in result.out
    assert "2 feeds read (0 failed); posts: 5 sent, 0 failed, 0 waiting, 0 uncertain" in result.out
    sent = {r.key: r for r in project.records("sent")}
    assert sorted(sent) == sorted(["news-1", "news-2", "news-3", *BLOG_KEYS])
    assert sent["news-1"].message_token == str(posts[0]["message_token"])


BLOG_KEYS = ["urn:example:rowing:1", "urn:example:rowing:2"]


def test_the_report_of_a_pass_is_written_in_one_piece(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(NEWS_AND_BLOG)
    writes: list[str] = []

    class Counted:
        """Stand for stdout, keeping each write apart as an unbuffered stream would."""

        def write(self, text: str) -> int:
            writes.append(text)
            return len(text)

        def flush(self) -> None:
            """Have nothing to flush."""

    monkeypatch.setattr(sys, "stdout", Counted())
    code = main(["-c", str(project.config), "run", "--once", "--state-dir", str(project.state)])
    assert code == EXIT_OK
    [report] = writes
    assert report.startswith("  news: 3 sent\n  blog: 2 sent\n2 feeds read (0 failed)")
    assert report.endswith("0 uncertain\n")


def test_preview_with_the_state_says_what_was_already_posted(
    capsys: pytest.CaptureFixture[str], project: Project
) -> None:
    project.write(feed("news", "news.xml"))
    assert run(capsys, project).code == EXIT_OK
    project.use_feed("news-updated.xml", "news.xml")
    args = ["-c", str(project.config), "preview", "--json", "--state-dir", str(project.state)]
    assert main(args) == EXIT_OK
    [news] = json.loads(capsys.readouterr().out)["feeds"]
    decisions = {item["key"]: item["decision"] for item in news["items"]}
    assert decisions == {
        "news-1": "already posted",
        "news-2": "already posted",
        "news-3": "already posted",
        "news-4": "would post",
    }


def test_a_second_pass_posts_only_what_is_new(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(NEWS_AND_BLOG)
    assert run(capsys, project).code == EXIT_OK
    again = run(capsys, project)
    assert again.code == EXIT_OK
    assert len(sandbox.posts) == 5
    assert "  news: not modified\n  blog: not modified\n" in again.out
    project.use_feed("news-updated.xml", "news.xml")
    third = run(capsys, project)
    assert third.code == EXIT_OK
    assert texts(sandbox)[5:] == ["Tram depot opens"]
    assert len(sandbox.posts) == 6
    assert "  news: 1 sent, 3 already posted\n" in third.out


def test_a_channel_given_another_token_looks_its_own_sender_up(
    capsys: pytest.CaptureFixture[str],
    project: Project,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project.write(NEWS_AND_BLOG)
    assert run(capsys, project).code == EXIT_OK  # the sender is looked up and remembered
    other_token = "other-Wb3n-5yQp8-never-shown-77"
    superadmin = {"id": "other-superadmin=", "name": "Other Admin", "role": "superadmin"}
    number = sandbox.channels.add(other_token, members=[superadmin])
    other = sandbox.channels.all[number - 1]
    with WebhookReceiver(other_token, port=0) as hook, httpx.Client() as client:
        channel = ViberChannel(client, other_token, api_url=sandbox.api_url)
        assert channel.set_webhook(hook.url).ok
    monkeypatch.setenv("POSTER_VIBER_TOKEN", other_token)
    project.use_feed("news-updated.xml", "news.xml")
    code = main(["-c", str(project.config), "run", "--once", "--state-dir", str(project.state)])
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    assert other_token not in out + err
    assert [post["text"] for post in other.posts] == ["Tram depot opens"]
    assert [post["from"] for post in other.posts] == ["other-superadmin="]
    assert len(sandbox.posts) == 5, "the first channel got nothing more"


def test_an_edited_rule_applies_at_the_next_pass_of_an_unchanged_feed(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("news", "news.xml", backlog=0))
    assert run(capsys, project).code == EXIT_OK and sandbox.posts == []
    project.use_feed("news-updated.xml", "news.xml")
    project.write(feed("news", "news.xml", backlog=0) + 'exclude = ["tram"]\n')
    assert run(capsys, project).code == EXIT_OK and sandbox.posts == []
    project.write(feed("news", "news.xml", backlog=0))
    preview = main(["-c", str(project.config), "preview", "--state-dir", str(project.state)])
    assert preview == EXIT_OK and "[would post] Tram depot opens" in capsys.readouterr().out
    again = run(capsys, project)
    assert again.code == EXIT_OK
    assert "news: not modified" not in again.out, "the feed is read as the new rules say"
    assert texts(sandbox) == ["Tram depot opens"]
    assert "  news: not modified\n" in run(capsys, project).out and len(sandbox.posts) == 1


def test_what_a_first_read_filters_out_is_never_posted_when_the_rule_is_relaxed(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("news", "news.xml", backlog="all") + 'include = ["bridge"]\n')
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == ["Bridge reopens"]
    project.write(feed("news", "news.xml", backlog="all"))
    result = run(capsys, project)
    assert result.code == EXIT_OK
    assert "news: 1 already posted, 2 held back on first read" in result.out
    assert texts(sandbox) == ["Bridge reopens"]


def test_a_sandbox_pass_over_the_state_hides_nothing_from_the_channel(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(NEWS_AND_BLOG)
    state = str(project.state)
    argv = ["-c", str(project.config), "run", "--once", "--sandbox", "--port", "0"]
    assert main([*argv, "--state-dir", state]) == EXIT_OK
    capsys.readouterr()
    assert sandbox.posts == [], "the sandbox pass posts to its own channel"
    result = run(capsys, project)
    assert result.code == EXIT_OK
    assert sorted(texts(sandbox)) == sorted(NEWS + BLOG)


def test_a_feed_moved_to_another_url_holds_back_what_the_new_one_lists_and_posts_what_comes(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox, feed_server: FeedServer
) -> None:
    # Two sources whose validators look alike: the new one would answer the old ones "304".
    same = {"ETag": '"v1"', "Last-Modified": "Tue, 06 Jan 2026 05:00:00 GMT"}
    five = (DATA / "five.xml").read_text(encoding="utf-8")
    feed_server.routes["/old.xml"] = Route(200, same, (DATA / "news.xml").read_bytes())
    feed_server.routes["/new.xml"] = Route(200, same, five.encode())
    project.write(f'[[feeds]]\nname = "daily"\nurl = "{feed_server.url("/old.xml")}"\n')
    assert run(capsys, project).code == EXIT_OK  # backlog 0: the old source's items are held
    project.write(f'[[feeds]]\nname = "daily"\nurl = "{feed_server.url("/new.xml")}"\n')
    result = run(capsys, project)
    assert result.code == EXIT_OK
    [asked] = [r for r in feed_server.requests if r.path == "/new.xml"]
    assert "if-none-match" not in asked.headers and "if-modified-since" not in asked.headers
    # The new address may list the same items under other ids: backlog decides, as at first.
    assert sandbox.posts == [] and "daily: 5 held back on first read" in result.out
    item = "<item><title>Daily note 6</title><guid>daily-6</guid>"
    item += "<pubDate>Tue, 06 Jan 2026 06:00:00 +0000</pubDate></item>"
    sixth = five.replace("<item>", item + "<item>", 1).encode()
    feed_server.routes["/new.xml"] = Route(200, {"ETag": '"v2"'}, sixth)
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == ["Daily note 6"]


def test_keying_a_feed_in_use_by_link_posts_nothing_again(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("news", "news.xml", backlog=1))  # one posted, two held back
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == ["Market opens"]
    project.write(feed("news", "news.xml", backlog=1) + 'key = "link"\n')
    preview = main(["-c", str(project.config), "preview", "--state-dir", str(project.state)])
    assert preview == EXIT_OK and "would post" not in capsys.readouterr().out
    again = run(capsys, project)
    assert again.code == EXIT_OK
    assert "news: 2 held back on first read, 1 already posted" in again.out
    project.use_feed("news-updated.xml", "news.xml")
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == ["Market opens", "Tram depot opens"]


def test_a_renamed_feed_posts_nothing_again_and_goes_on_with_what_is_new(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("news", "news.xml", backlog=2))  # two posted, one held back
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == NEWS[1:]
    project.write(feed("city-news", "news.xml", backlog=2))
    preview = main(["-c", str(project.config), "preview", "--state-dir", str(project.state)])
    shown = capsys.readouterr().out
    assert preview == EXIT_OK and "would post" not in shown
    assert shown.count("why: posted or held back as feed 'news', which feeds.toml no") == 3
    again = run(capsys, project)
    assert again.code == EXIT_OK, again.err
    assert texts(sandbox) == NEWS[1:], "what the old name posted or held back stays so"
    assert "city-news: 3 already posted" in again.out
    project.use_feed("news-updated.xml", "news.xml")
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == [*NEWS[1:], "Tram depot opens"]


def test_an_item_new_since_a_rename_is_posted_by_the_first_read_under_the_new_name(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("news", "news.xml"))
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == NEWS
    project.write(feed("city-news", "news.xml", backlog=0))
    project.use_feed("news-updated.xml", "news.xml")  # a new item, before the renamed read
    again = run(capsys, project)
    assert again.code == EXIT_OK, again.err
    assert texts(sandbox) == [*NEWS, "Tram depot opens"], "new since the old name's last read"
    assert "city-news: 1 sent, 3 already posted" in again.out


def test_items_left_waiting_are_posted_after_the_feed_rolled_them_off(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("daily", "five.xml"), viber="max_per_pass = 2\n")
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == DAILY[:2]  # notes 3, 4 and 5 wait for the next passes
    five = (DATA / "five.xml").read_text(encoding="utf-8")
    rolled = re.sub(r"<item>\s*<title>Daily note [34]</title>.*?</item>", "", five, flags=re.S)
    (project.root / "feeds" / "five.xml").write_text(rolled, encoding="utf-8")
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == DAILY[:4], "notes 3 and 4 were kept while they waited"
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == DAILY
    assert "  daily: not modified\n" in run(capsys, project).out


def test_a_pass_with_nothing_to_post_reads_no_certificates(
    capsys: pytest.CaptureFixture[str],
    project: Project,
    sandbox: Sandbox,
    tls_contexts_built: list[dict[str, object]],
) -> None:
    project.write(NEWS_AND_BLOG)
    contexts = tls_contexts_built
    assert run(capsys, project).code == EXIT_OK
    assert len(sandbox.posts) == 5 and contexts == [], "the sandbox's API is http: no TLS"
    assert run(capsys, project).code == EXIT_OK
    assert len(sandbox.posts) == 5 and contexts == [], "none when nothing is new"


def test_each_pacing_wait_comes_after_the_posts_before_it_are_recorded_on_disk(
    tmp_path: Path, project: Project, sandbox: Sandbox
) -> None:
    from poster.app import build
    from poster.config import load_config
    from poster.pipeline.runner import run_once

    config = project.write(NEWS_AND_BLOG)
    config.write_text(config.read_text().replace('min_gap = "0s"', 'min_gap = "5s"'))
    on_disk: list[list[str]] = []

    def crash_now_and_look(seconds: float) -> None:
        # What a crash during the wait would leave: the files as they are, read back.
        copy = tmp_path / f"crash-{len(on_disk)}"
        copy.mkdir()
        for name in ("poster.json", "poster.journal"):
            shutil.copy(project.state / name, copy / name)
        with Store(copy, read_only=True) as store:
            on_disk.append([r.state for r in store.deliveries() if r.destination == "viber"])

    loaded = load_config(config)
    with build(loaded, project.state) as app:
        run_once(app, loaded.feeds, clock=lambda: 0.0, sleep=crash_now_and_look)
    assert len(sandbox.posts) == 5
    assert on_disk == [["sent"] * posts for posts in range(1, 5)]


@pytest.mark.parametrize(
    ("backlog", "first"),
    [(0, []), (2, NEWS[1:]), (3, NEWS), ("all", NEWS)],
    ids=["none", "newest-two", "exactly-all", "all"],
)
def test_backlog_limits_the_first_read_to_the_newest_items(
    capsys: pytest.CaptureFixture[str],
    project: Project,
    sandbox: Sandbox,
    backlog: int | str,
    first: list[str],
) -> None:
    project.write(feed("news", "news.xml", backlog))
    result = run(capsys, project)
    assert result.code == EXIT_OK, result.err
    assert texts(sandbox) == first
    held = len(NEWS) - len(first)
    if held:
        assert f"{held} held back on first read" in result.out
    project.use_feed("news-updated.xml", "news.xml")
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == [*first, "Tram depot opens"]


def undated(*numbers: int) -> str:
    """Return an RSS document of undated items, newest (highest number) first."""
    items = "".join(
        f"<item><title>Undated {n}</title><guid>u{n}</guid></item>" for n in sorted(numbers)[::-1]
    )
    return f'<rss version="2.0"><channel><title>U</title>{items}</channel></rss>'


def test_undated_items_kept_waiting_go_out_oldest_first_after_the_feed_rolled_them_off(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    (project.root / "feeds" / "undated.xml").write_text(undated(1, 2, 3, 4), encoding="utf-8")
    project.write(feed("u", "undated.xml"), viber="max_per_pass = 1\n")
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == ["Undated 1"]
    (project.root / "feeds" / "undated.xml").write_text(undated(5), encoding="utf-8")
    for _ in range(4):
        assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == [f"Undated {n}" for n in range(1, 6)]


def test_max_per_pass_spreads_a_busy_feed_over_passes_in_order(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("daily", "five.xml"), viber="max_per_pass = 2\n")
    counts = []
    for expected_waiting in (3, 1, 0):
        result = run(capsys, project)
        assert result.code == EXIT_OK, result.err
        assert f"{expected_waiting} waiting" in result.out
        counts.append(len(sandbox.posts))
    assert counts == [2, 4, 5]
    assert texts(sandbox) == DAILY
    assert run(capsys, project).code == EXIT_OK
    assert len(sandbox.posts) == 5


@pytest.mark.parametrize("fault", ["rate_limit", "http500"], ids=["status-12", "http-500"])
def test_a_transient_refusal_leaves_the_items_for_the_next_pass(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox, fault: str
) -> None:
    project.write(feed("news", "news.xml"))
    sandbox.inject(fault)
    first = run(capsys, project)
    assert first.code == EXIT_OK, first.err
    assert sandbox.posts == []
    assert "0 sent, 0 failed, 3 waiting, 0 uncertain" in first.out
    main(["-c", str(project.config), "status", "--json", "--state-dir", str(project.state)])
    [viber] = json.loads(capsys.readouterr().out)["destinations"]
    assert viber["waiting"] == 3, "released and kept waiting both, each counts once"
    second = run(capsys, project)
    assert second.code == EXIT_OK, second.err
    assert texts(sandbox) == NEWS
    assert {r.key: r.state for r in project.records()} == dict.fromkeys(
        ["news-1", "news-2", "news-3"], "sent"
    )
    assert sandbox.channel.pending_faults == []


def test_a_template_poster_may_not_read_leaves_the_items_waiting_not_failed(
    capsys: pytest.CaptureFixture[str],
    project: Project,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from poster.render.engine import CappedLoader

    def refuse(_loader: object, _env: object, name: str) -> None:
        raise PermissionError(13, "Permission denied", name)

    project.write(feed("news", "news.xml"))
    with monkeypatch.context() as patched:
        patched.setattr(CappedLoader, "get_source", refuse)
        first = run(capsys, project)
    assert sandbox.posts == []
    assert "0 sent, 0 failed, 3 waiting, 0 uncertain" in first.out
    assert "make the templates readable by the user poster runs as" in first.err
    assert "Traceback" not in first.err
    assert all(record.state != "failed" for record in project.records())
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == NEWS


def test_a_template_with_a_syntax_error_leaves_the_items_waiting_for_its_mending(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("news", "news.xml"))
    template = project.root / "templates" / "default.j2"
    good = template.read_text(encoding="utf-8")
    template.write_text(good + "{% if %}\n", encoding="utf-8")
    first = run(capsys, project)
    assert sandbox.posts == []
    assert "0 sent, 0 failed, 3 waiting, 0 uncertain" in first.out
    assert "syntax error" in first.err
    assert all(record.state != "failed" for record in project.records())
    template.write_text(good, encoding="utf-8")
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == NEWS


def test_a_feed_whose_template_cannot_be_used_holds_up_no_other_feed(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    (project.root / "templates" / "broken.j2").write_text("{% if %}\n", encoding="utf-8")
    broken = feed("blog", "blog.atom") + 'template = "broken.j2"\n'
    project.write(feed("news", "news.xml") + broken)
    result = run(capsys, project)
    assert texts(sandbox) == NEWS
    assert "news: 3 sent" in result.out


def test_a_pass_that_cannot_record_its_posts_sends_none_and_exits_3(
    capsys: pytest.CaptureFixture[str],
    project: Project,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project.write(feed("news", "news.xml"))

    def full(*_: object) -> None:
        raise StateError(project.state, "cannot be written: the disk holding it is full")

    monkeypatch.setattr(Store, "record_pending", full)
    first = run(capsys, project)
    assert first.code == EXIT_ENVIRONMENT
    assert sandbox.posts == []
    assert "0 sent, 0 failed, 3 waiting, 0 uncertain" in first.out
    assert "poster: posts wait, as the state could not record them: state file" in first.err
    monkeypatch.undo()
    monkeypatch.setenv("POSTER_VIBER_TOKEN", TOKEN)
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == NEWS


def test_a_lost_answer_is_uncertain_and_never_posted_twice(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("news", "news.xml"))
    sandbox.inject("drop")
    first = run(capsys, project)
    assert first.code == EXIT_FAILED
    # The sandbox kept the post; only its answer was lost.
    assert texts(sandbox) == NEWS[:1]
    assert "1 uncertain" in first.out and "2 waiting" in first.out
    [uncertain] = project.records("uncertain")
    assert uncertain.key == "news-1"
    assert uncertain.last_error is not None and "not repeated automatically" in uncertain.last_error
    second = run(capsys, project)
    assert second.code == EXIT_OK, second.err
    assert texts(sandbox) == NEWS
    assert [r.key for r in project.records("uncertain")] == ["news-1"]


def test_a_feed_that_prefers_at_least_once_sends_a_lost_answer_again(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("news", "news.xml") + 'uncertain = "resend"\n')
    sandbox.inject("drop")
    assert run(capsys, project).code == EXIT_FAILED
    second = run(capsys, project)
    assert second.code == EXIT_OK, second.err
    # At least once: the post whose answer was lost is sent a second time.
    assert texts(sandbox) == [NEWS[0], *NEWS]
    assert project.records("uncertain") == []


def test_a_rejected_post_is_recorded_failed_with_the_api_message(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("blog", "blog.atom"), viber='from = "stranger="\n')
    result = run(capsys, project)
    assert result.code == EXIT_FAILED
    assert sandbox.posts == []
    assert "posts: 0 sent, 2 failed" in result.out
    failed = project.records("failed")
    assert sorted(r.key for r in failed) == BLOG_KEYS
    for record in failed:
        assert record.last_error is not None
        assert "status 3" in record.last_error
        assert "'stranger=' is not a member of this channel" in record.last_error
    # A refused item is not offered again as it is; `poster retry` is the way back.
    again = run(capsys, project)
    assert again.code == EXIT_OK, again.err
    assert sandbox.posts == []


@pytest.mark.parametrize("change", ["name", "key"])
def test_a_post_rejected_before_a_rename_stays_listed_and_is_retried_by_its_new_name(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox, change: str
) -> None:
    project.write(feed("blog", "blog.atom"), viber='from = "stranger="\n')
    assert run(capsys, project).code == EXIT_FAILED
    links = ["https://club.example.org/regatta", "https://club.example.org/training"]
    renamed = {"name": ("journal", BLOG_KEYS), "key": ("blog", links)}
    name, keys = renamed[change]
    table = feed(name, "blog.atom") + ('key = "link"\n' if change == "key" else "")
    project.write(table)  # with the sender mended
    assert run(capsys, project).code == EXIT_OK
    assert sandbox.posts == []
    failed = project.records("failed")
    assert sorted((r.feed, r.key) for r in failed) == [(name, key) for key in keys]
    assert "'stranger=' is not a member of this channel" in str(failed[0].last_error)
    status = main(["-c", str(project.config), "status", "--state-dir", str(project.state)])
    shown = capsys.readouterr().out
    assert status == EXIT_FAILED and "Needs attention: 2 failed items" in shown
    for key in keys:
        retry = ["-c", str(project.config), "retry", name, key]
        assert main([*retry, "--state-dir", str(project.state)]) == EXIT_OK
    assert run(capsys, project).code == EXIT_OK
    assert texts(sandbox) == BLOG


def test_the_preview_says_a_known_item_failed_and_how_to_send_it_not_that_it_was_posted(
    capsys: pytest.CaptureFixture[str], project: Project
) -> None:
    project.write(feed("blog", "blog.atom"), viber='from = "stranger="\n')
    assert run(capsys, project).code == EXIT_FAILED
    preview = main(["-c", str(project.config), "preview", "--state-dir", str(project.state)])
    shown = capsys.readouterr().out
    assert preview == EXIT_OK and "already posted" not in shown
    assert "== blog (Rowing club): 2 failed earlier\n" in shown
    assert shown.count("[failed earlier] ") == 2
    assert shown.count("why: failed at viber: viber rejected the post: status 3") == 2
    assert shown.count("(`poster retry` sends it again)") == 2
    as_json = ["-c", str(project.config), "preview", "--json", "--state-dir", str(project.state)]
    assert main(as_json) == EXIT_OK
    items = json.loads(capsys.readouterr().out)["feeds"][0]["items"]
    assert [(i["decision"], i["action"]) for i in items] == [("failed earlier", "seen")] * 2


def test_a_run_counts_a_known_item_that_failed_as_failed_earlier_not_as_posted(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.write(feed("blog", "blog.atom"), viber='from = "stranger="\n')
    first = run(capsys, project)
    assert first.code == EXIT_FAILED and "  blog: 2 failed\n" in first.out
    atom = project.root / "feeds" / "blog.atom"
    entry = (
        "<entry><title>Boat launch</title><id>urn:example:rowing:3</id>"
        "<updated>2026-01-06T09:00:00Z</updated></entry>"
    )
    atom.write_text(atom.read_text().replace("</feed>", f"{entry}</feed>"))
    project.write(feed("blog", "blog.atom"))  # with the sender mended
    again = run(capsys, project)
    assert again.code == EXIT_OK and "  blog: 1 sent, 2 failed earlier\n" in again.out
    atom.write_text(atom.read_text() + "\n")  # read again, not "not modified"
    third = run(capsys, project)
    assert "  blog: 2 failed earlier, 1 already posted\n" in third.out, third.out
    assert texts(sandbox) == ["Boat launch"]


def test_a_preview_of_disabled_feeds_alone_says_so_and_shows_one_named(
    capsys: pytest.CaptureFixture[str], project: Project
) -> None:
    project.write(feed("blog", "blog.atom") + "enabled = false\n")
    base = ["-c", str(project.config), "preview", "--state-dir", str(project.state)]
    assert main(base) == EXIT_OK
    assert "is enabled (each has enabled = false); `poster preview --feed NAME`" in (
        capsys.readouterr().out
    )
    assert main([*base, "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out) == {"feeds": []}
    assert main([*base, "--feed", "blog"]) == EXIT_OK
    assert "== blog (Rowing club): 2 would post" in capsys.readouterr().out


def test_the_preview_of_a_renamed_feed_says_what_its_old_name_left_failed(
    capsys: pytest.CaptureFixture[str], project: Project
) -> None:
    project.write(feed("blog", "blog.atom"), viber='from = "stranger="\n')
    assert run(capsys, project).code == EXIT_FAILED
    project.write(feed("journal", "blog.atom"))
    preview = main(["-c", str(project.config), "preview", "--state-dir", str(project.state)])
    shown = capsys.readouterr().out
    assert preview == EXIT_OK and shown.count("[failed earlier] ") == 2
    assert shown.count("why: failed as feed 'blog', which feeds.toml") == 2


def test_posting_without_a_webhook_stops_the_pass_until_one_is_set(
    capsys: pytest.CaptureFixture[str],
    bare: Project,
    sandbox: Sandbox,
    set_webhook: Callable[[], None],
) -> None:
    bare.write(NEWS_AND_BLOG)
    result = run(capsys, bare)
    assert result.code == EXIT_FAILED
    assert sandbox.posts == []
    assert "webhook" in result.err and "poster webhook set" in result.err
    assert "0 sent, 0 failed, 5 waiting" in result.out
    assert bare.records("failed") == [] and bare.records("uncertain") == []
    set_webhook()
    after = run(capsys, bare)
    assert after.code == EXIT_OK, after.err
    assert texts(sandbox) == [NEWS[0], BLOG[0], NEWS[1], BLOG[1], NEWS[2]]


def test_a_wrong_token_stops_the_run_without_showing_it(
    capsys: pytest.CaptureFixture[str], project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(feed("news", "news.xml"))
    monkeypatch.setenv("POSTER_VIBER_TOKEN", TOKEN[::-1])
    result = run(capsys, project)
    assert result.code == EXIT_FAILED
    assert "status 2" in result.err and "POSTER_VIBER_TOKEN" in result.err
    assert TOKEN[::-1] not in result.out + result.err


def test_the_real_process_posts_and_never_logs_the_token(
    project: Project, sandbox: Sandbox
) -> None:
    config = project.write(NEWS_AND_BLOG)
    argv = ["-c", str(config), "--log-level", "debug", "run", "--once"]
    argv += ["--state-dir", str(project.state)]
    env = {**os.environ, "POSTER_VIBER_TOKEN": TOKEN}
    done = subprocess.run(
        [sys.executable, "-m", "poster", *argv],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert len(sandbox.posts) == 5
    assert "posts: 5 sent" in done.stdout
    assert "event=sender-resolved" in done.stderr
    assert TOKEN not in done.stdout and TOKEN not in done.stderr


def test_a_feed_that_cannot_be_read_fails_the_run_but_not_the_others(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    project.use_feed("not-a-feed.txt", "gone.xml")
    project.write(feed("gone", "gone.xml") + feed("blog", "blog.atom"))
    result = run(capsys, project)
    assert result.code == EXIT_FAILED
    assert texts(sandbox) == BLOG
    assert "2 feeds read (1 failed); posts: 2 sent" in result.out
    [gone] = [line for line in result.out.splitlines() if line.startswith("  gone: ")]
    assert "not a feed" in gone
    assert (result.out + result.err).count("not a feed") == 1, "the failure is reported twice"
    with Store(project.state, read_only=True) as store:
        failing, fine = store.feed_state("gone"), store.feed_state("blog")
    assert failing.consecutive_failures == 1 and "not a feed" in (failing.last_error or "")
    assert fine.consecutive_failures == 0 and fine.last_success is not None


SLOW_RULE = '\ninclude = ["/(a|aa)+$/"]\n'


def test_a_rule_that_backtracks_without_end_fails_its_feed_only_and_loses_nothing(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    slow = (DATA / "news.xml").read_text(encoding="utf-8")
    slow = slow.replace("Bridge reopens", "Bridge reopens " + "a" * 60 + "!", 1)
    (project.root / "feeds" / "news.xml").write_text(slow, encoding="utf-8")
    project.write(feed("news", "news.xml").rstrip("\n") + SLOW_RULE + feed("blog", "blog.atom"))
    result = run(capsys, project)
    assert result.code == EXIT_FAILED
    assert texts(sandbox) == BLOG
    [news] = [line for line in result.out.splitlines() if line.startswith("  news: ")]
    assert "rule '/(a|aa)+$/' (include[0]) took over 0.25 s on item" in news
    with Store(project.state, read_only=True) as store:
        assert store.feed_state("news").consecutive_failures == 1
        assert not store.has_history("news")
    # Rewritten, the rule lets the feed's items through, none of them lost.
    project.write(feed("news", "news.xml") + feed("blog", "blog.atom"))
    assert run(capsys, project).code == EXIT_OK
    posted = texts(sandbox)
    assert posted[: len(BLOG)] == BLOG and len(posted) == len(BLOG) + len(NEWS)
    assert sorted(text.split(" a")[0] for text in posted[len(BLOG) :]) == sorted(NEWS)


RULES = {
    "no-rules": "",
    "include": 'include = ["regatta"]\n',
    "exclude": 'exclude = ["sponsored"]\n',
}


def preview_decisions(capsys: pytest.CaptureFixture[str], project: Project) -> dict[str, str]:
    """Preview the project's one feed on its state; return each item's decision."""
    args = ["-c", str(project.config), "preview", "--json", "--state-dir", str(project.state)]
    assert main(args) == EXIT_OK
    [only] = json.loads(capsys.readouterr().out)["feeds"]
    return {item["key"]: item["decision"] for item in only["items"]}


def held_keys(project: Project) -> set[str]:
    """Return the keys the state holds back (a first read's backlog and what it filtered)."""
    if not project.state.exists():
        return set()
    with Store(project.state, read_only=True) as store:
        return {r.key for r in store.deliveries(states=["seen"])}


def run_decisions(
    capsys: pytest.CaptureFixture[str],
    project: Project,
    sandbox: Sandbox,
    previewed: dict[str, str],
) -> tuple[dict[str, str], dict[str, int]]:
    """Run one pass; return what became of each item, told from the channel and the state.

    A first read holds back what it filters out as well as the backlog: the state tells the
    two apart only by the preview's word, which the pass's counts then confirm.
    """
    before = {r.key for r in project.records("sent")}
    held_before = held_keys(project)
    posts = len(sandbox.posts)
    result = run(capsys, project)
    assert result.code == EXIT_OK, result.err
    posted = {str(post["text"]) for post in sandbox.posts[posts:]}
    held = held_keys(project)
    found = {}
    for key in previewed:
        if key in held - held_before and previewed[key] == "filtered out":
            found[key] = "filtered out"
        elif key in held:
            found[key] = "held back on first read"
        elif key in before:
            found[key] = "already posted"
        elif key in {r.key for r in project.records("sent")}:
            found[key] = "would post"
        else:
            found[key] = "filtered out"
    assert len(posted) == sum(d == "would post" for d in found.values())
    [line] = [line for line in result.out.splitlines() if line.startswith("  club: ")]
    counts = dict(part.split(" ", 1)[::-1] for part in line.removeprefix("  club: ").split(", "))
    return found, {label: int(n) for label, n in counts.items()}


@pytest.mark.parametrize("rules", RULES)
@pytest.mark.parametrize("backlog", [0, 2, "all"], ids=["backlog-0", "backlog-2", "backlog-all"])
def test_the_preview_decides_every_item_as_the_run_that_follows(
    capsys: pytest.CaptureFixture[str],
    project: Project,
    sandbox: Sandbox,
    backlog: int | str,
    rules: str,
) -> None:
    project.use_feed("club.xml", "club.xml")
    project.write(feed("club", "club.xml", backlog) + RULES[rules])
    for fixture in ("club.xml", "club-updated.xml"):
        project.use_feed(fixture, "club.xml")
        previewed = preview_decisions(capsys, project)
        ran, counts = run_decisions(capsys, project, sandbox, previewed)
        assert previewed == ran
        said = dict(Counter(previewed.values()))
        if "would post" in said:
            said["sent"] = said.pop("would post")
        assert said == counts
    assert "would post" in previewed.values(), "the new items were not offered"


def test_a_preview_never_logs_a_delivery(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, project: Project
) -> None:
    project.write(feed("news", "news.xml"))
    args = ["-c", str(project.config), "--log-level", "debug", "preview"]
    assert main([*args, "--state-dir", str(project.state)]) == EXIT_OK
    assert "3 would post" in capsys.readouterr().out
    items = [r.getMessage() for r in caplog.records if "item=" in r.getMessage()]
    assert len(items) == 3 and all("status=would-post" in line for line in items)
    assert "status=sent" not in caplog.text


PRIVATE_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Members</title><link>/</link><description>d</description>
<item><title>Members only</title><link>/item/1</link><guid>m-1</guid><description>x</description>
</item></channel></rss>
"""
PASSWORD = "s3cret-Pw-never-shown"
QUERY_TOKEN = "qT0ken-never-shown-58"


def test_credentials_in_feed_urls_reach_the_server_and_nothing_else(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox, feed_server: FeedServer
) -> None:
    feed_server.routes["/members.xml"] = Route(200, {}, PRIVATE_RSS, basic=("reader", PASSWORD))
    feed_server.routes[f"/gone.xml?token={QUERY_TOKEN}"] = (410, {}, b"gone\n")
    members = feed_server.url("/members.xml").replace("://", f"://reader:{PASSWORD}@")
    gone = feed_server.url(f"/gone.xml?token={QUERY_TOKEN}").replace("://", f"://u:{PASSWORD}@")
    (project.root / "templates" / "linked.j2").write_text("{{ item.link }} in {{ feed.url }}")
    project.write(
        f'[[feeds]]\nname = "members"\nurl = "{members}"\ntemplate = "linked.j2"\nbacklog = "all"\n'
        f'[[feeds]]\nname = "gone"\nurl = "{gone}"\n'
    )
    result = run(capsys, project)
    assert result.code == EXIT_FAILED
    # The relative link resolves against the feed's URL without its user info.
    assert texts(sandbox) == [f"{feed_server.url('/item/1')} in {feed_server.url('/members.xml')}"]
    [line] = [line for line in result.out.splitlines() if line.startswith("  gone: ")]
    assert line == (
        "  gone: feed 'gone': the server says the feed is gone"
        f" (HTTP 410 from {feed_server.url('/gone.xml')}?token=***);"
        " fix or remove its url in feeds.toml"
    )
    code = main(["-c", str(project.config), "status", "--state-dir", str(project.state)])
    status = capsys.readouterr()
    assert code == EXIT_FAILED
    assert "token=***" in status.out
    shown = result.out + result.err + status.out + status.err + json.dumps(sandbox.posts)
    assert PASSWORD not in shown and QUERY_TOKEN not in shown


def test_the_gap_holds_from_the_last_post_of_an_earlier_process(
    capsys: pytest.CaptureFixture[str], project: Project, sandbox: Sandbox
) -> None:
    from support.clock import SleepingClock

    from poster.app import build
    from poster.config import load_config
    from poster.pipeline.runner import lanes

    config = project.write(feed("news", "news.xml"))
    assert run(capsys, project).code == EXIT_OK  # its last post was just now
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('min_gap = "0s"', 'min_gap = "10s"'), encoding="utf-8")
    clock = SleepingClock()
    with build(load_config(project.config), project.state) as app:
        [lane] = lanes(app, clock=clock, sleep=clock.sleep).values()
        assert lane.pacer.admit()
    [waited] = clock.slept
    assert 8.0 < waited <= 10.0, "the next post waits out the rest of the gap"
