from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from support.operate import REFUSED, START, fill_store

from poster.config import Config, load_config
from poster.destinations import Receipt
from poster.destinations.viber.kind import KIND
from poster.destinations.viber.messages import Message
from poster.errors import MessageRejected
from poster.fetch.feed import make_client
from poster.models import Validators
from poster.ops.commands import (
    OPERATOR_DISABLED,
    retry_item,
    retry_problem,
    retry_states,
    set_feed_disabled,
)
from poster.ops.status import (
    STATE_MEANINGS,
    STOPPED_PENDING,
    _clock,
    format_status,
    status_view,
)
from poster.ops.statusjson import status_json
from poster.pipeline import Deps, run_feed
from poster.render import Renderer
from poster.store import Store
from poster.store.ledger import FAILED, FATAL_META, SENT, UNCERTAIN, sender_key
from poster.store.store import CRASHED

DATA = Path(__file__).parent / "data" / "operate"
NOW = START + timedelta(minutes=30)


@pytest.fixture
def config() -> Config:
    return load_config(DATA / "feeds.toml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    fill_store(tmp_path)
    with Store(tmp_path) as opened:
        yield opened


def test_status_view_shows_feeds_channel_and_every_problem(config: Config, store: Store) -> None:
    view = status_view(config, store, NOW)
    assert [(f.name, f.condition) for f in view.feeds] == [
        ("news", "ok"),
        ("blog", "failing (1 in a row)"),
        ("archive", "off in feeds.toml"),
        ("gone", "not in feeds.toml"),
    ]
    blog = view.feeds[1].state
    assert (blog.last_error, blog.next_attempt) == (
        "HTTP 503 from blog",
        START + timedelta(hours=1),
    )
    [viber] = view.destinations
    assert (viber.name, viber.kind, viber.sender, viber.sender_from, viber.fatal) == (
        "viber",
        "viber",
        "admin-id=",
        "remembered",
        None,
    )
    assert [(r.feed, r.key, r.state, r.attempts, r.last_error) for r in view.problems] == [
        ("news", "n-failed", FAILED, 1, REFUSED),
        ("news", "n-lost", UNCERTAIN, 1, CRASHED),
    ]
    # Newest first, and the seen backlog of "blog" is not a delivery.
    assert [(r.key, r.state) for r in view.recent] == [
        ("n-lost", UNCERTAIN),
        ("g-1", SENT),
        ("n-failed", FAILED),
        ("n-sent", SENT),
    ]
    assert view.attention == (
        "1 failed item",
        "1 uncertain item",
        "feed 'blog' failing (1 in a row)",
    )


def test_status_of_an_empty_state_directory_says_poster_has_not_run(
    config: Config, tmp_path: Path
) -> None:
    with Store(tmp_path / "nothing", read_only=True) as empty:
        view = status_view(config, empty, NOW)
    assert [f.condition for f in view.feeds] == [
        "not read yet",
        "not read yet",
        "off in feeds.toml",
    ]
    assert view.attention == ("no state yet: poster has not run with this state directory",)
    assert not (tmp_path / "nothing").exists()


def _fatal(store: Store) -> None:
    store.set_meta(FATAL_META, "the token was revoked (status 2)")


def _fatal_cleared(store: Store) -> None:
    _fatal(store)
    store.set_meta(FATAL_META, "")


def _paused(store: Store) -> None:
    set_feed_disabled(store, "news", OPERATOR_DISABLED)


def _paused_while_off(store: Store) -> None:
    set_feed_disabled(store, "archive", OPERATOR_DISABLED)


def _paused_while_failing(store: Store) -> None:
    store.record_fetch_failed("news", NOW, "HTTP 503 from news", NOW)
    set_feed_disabled(store, "news", OPERATOR_DISABLED)


def _auto_disabled(store: Store) -> None:
    store.set_disabled("news", "10 reads in a row failed; tried again every 6h")


def _failed(store: Store) -> None:
    store.record_failed("news", "n-1", "viber", REFUSED)


@pytest.mark.parametrize(
    ("change", "attention"),
    [
        pytest.param(lambda store: None, (), id="all-well"),
        pytest.param(_fatal, ("destination 'viber' refuses posts",), id="channel-fatal"),
        pytest.param(_fatal_cleared, (), id="channel-fatal-cleared"),
        pytest.param(_paused, (), id="operator-paused"),
        pytest.param(_paused_while_failing, (), id="operator-paused-while-failing"),
        pytest.param(_auto_disabled, ("feed 'news' disabled",), id="auto-disabled"),
        pytest.param(_paused_while_off, (), id="paused-but-off-in-config"),
        pytest.param(_failed, ("1 failed item",), id="failed-item"),
    ],
)
def test_attention_names_what_needs_a_person(
    config: Config, tmp_path: Path, change: Callable[[Store], None], attention: tuple[str, ...]
) -> None:
    with Store(tmp_path) as store:
        change(store)
        assert status_view(config, store, NOW).attention == attention


def test_a_disk_too_full_to_record_posts_needs_attention(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(tmp_path) as store:
        store.mark_seen("news", ["n-1"])
        assert status_view(config, store, NOW).attention == ()
        real = os.statvfs(tmp_path)

        class Full:
            f_bavail, f_frsize = 100, real.f_frsize

        monkeypatch.setattr("poster.ops.status.os.statvfs", lambda _: Full)
        [said] = status_view(config, store, NOW).attention
    assert said.startswith(f"the disk holding the state has {100 * real.f_frsize // 1024} KiB free")
    assert said.endswith("free space")


@pytest.mark.parametrize("stopped", [False, True], ids=["poster-running", "poster-stopped"])
def test_a_post_pending_with_no_poster_running_needs_attention(
    config: Config, tmp_path: Path, stopped: bool
) -> None:
    with Store(tmp_path) as store:
        store.record_pending("news", "n-9", "viber")
        attention = status_view(config, store, NOW, stopped=stopped).attention
    expected = (
        "1 post left pending by a poster that stopped before the answer came (the next start "
        "makes them uncertain)",
    )
    assert attention == (expected if stopped else ())
    with Store(tmp_path, read_only=True) as store:
        text = format_status(status_view(config, store, NOW, stopped=stopped))
    meaning = STOPPED_PENDING if stopped else STATE_MEANINGS["pending"]
    assert f"  pending    {meaning}" in text


@pytest.mark.parametrize(
    ("configured", "remembered", "expected"),
    [
        pytest.param("from-config=", "remembered=", ("from-config=", "feeds.toml"), id="config"),
        pytest.param(None, "remembered=", ("remembered=", "remembered"), id="remembered"),
        pytest.param(None, None, (None, None), id="unknown"),
    ],
)
def test_sender_comes_from_config_before_the_remembered_one(
    config: Config,
    tmp_path: Path,
    configured: str | None,
    remembered: str | None,
    expected: tuple[str | None, str | None],
) -> None:
    # No destinations given: the [viber] shorthand's one is made again from the new sender.
    config = replace(config, viber=replace(config.viber, sender=configured), destinations=())
    with Store(tmp_path) as store:
        if remembered is not None:
            store.set_meta(sender_key("viber"), remembered)
        [channel] = status_view(config, store, NOW).destinations
    assert (channel.sender, channel.sender_from) == expected


def test_format_status_is_aligned_and_explains_the_states(config: Config, store: Store) -> None:
    set_feed_disabled(store, "news", "disabled after 10 failures in a row; last: HTTP 500")
    text = format_status(status_view(config, store, NOW))
    lines = text.splitlines()
    assert lines[0] == f"poster status at 2026-01-05 12:30 UTC; state {store.path}"
    destinations = lines.index("Destinations")
    header, row, sender = lines[destinations + 1 : destinations + 4]
    assert header.split() == ["DESTINATION", "KIND", "POSTING", "LAST", "POST", "WAITING"]
    assert row.split()[:3] == ["viber", "viber", "ok"]
    assert row.index("ok") == header.index("POSTING")
    assert row.rstrip().endswith(" 0")
    assert sender == "      sender admin-id= (looked up on the first post and remembered)"
    problems = lines.index("Failed and uncertain items (2, oldest first)")
    header, failed, error = lines[problems + 1 : problems + 4]
    assert header.split() == ["STATE", "FEED", "KEY", "TRIES", "SINCE"]
    assert failed.split()[:4] == ["failed", "news", "n-failed", "1"]
    assert failed.index("news") == header.index("FEED")
    assert failed.index("n-failed") == header.index("KEY")
    assert "2026-01-05 12:05 UTC (25min ago)" in failed
    assert error == f"      {REFUSED}"
    assert text.count(REFUSED) == 1, "recent deliveries do not repeat the errors"
    assert (
        "      why: disabled after 10 failures in a row; last: HTTP 500; poster tries it again "
        "now and then; `poster feed enable news` resumes it now"
    ) in lines
    assert "      last error 2026-01-05 12:00 UTC (30min ago): HTTP 503 from blog" in lines
    assert f"  failed     {STATE_MEANINGS[FAILED]}" in lines
    assert f"  uncertain  {STATE_MEANINGS[UNCERTAIN]}" in lines
    assert lines[-1] == (
        "Needs attention: 1 failed item; 1 uncertain item; feed 'news' disabled; "
        "feed 'blog' failing (1 in a row)"
    )


def test_a_paused_feed_shows_when_it_was_paused_and_is_all_good(
    config: Config, tmp_path: Path
) -> None:
    with Store(tmp_path) as store:
        set_feed_disabled(store, "news", OPERATOR_DISABLED, NOW - timedelta(hours=3))
        set_feed_disabled(store, "news", OPERATOR_DISABLED, NOW)  # pausing again changes nothing
        view = status_view(config, store, NOW)
    [news] = [feed for feed in view.feeds if feed.name == "news"]
    assert (news.condition, news.paused_at) == ("paused", NOW - timedelta(hours=3))
    lines = format_status(view).splitlines()
    [row] = [line for line in lines if line.startswith("  news ")]
    assert row.split()[:2] == ["news", "paused"]
    assert (
        "      paused by an operator since 2026-01-05 09:30 UTC (3h ago); "
        "`poster feed enable news` resumes it"
    ) in lines
    assert lines[-1] == "All good."
    feed_json = status_json(view)["feeds"][0]
    assert (feed_json["paused"], feed_json["paused_at"]) == (True, "2026-01-05T09:30:00+00:00")
    assert feed_json["needs_attention"] is False


def test_format_status_of_a_quiet_state(config: Config, tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        text = format_status(status_view(config, store, NOW))
    assert "Failed and uncertain" not in text
    assert "What the states mean" not in text
    assert "  none yet\n" in text
    assert "      sender not known yet (looked up on the first post)\n" in text
    assert text.endswith("\nAll good.\n")


def test_status_json_has_plain_values(config: Config, store: Store) -> None:
    view = status_view(config, store, NOW)
    data = json.loads(json.dumps(status_json(view)))
    newest_sent = next(record for record in view.recent if record.state == SENT)
    assert set(data) == {
        "generated",
        "state",
        "ok",
        "attention",
        "destinations",
        "feeds",
        "problems",
        "recent",
        "waiting",
        "daemon_running",
        "reload_rejected",
        "restored",
        "held",
        "subscribers",
    }
    assert data["subscribers"] == [] and data["reload_rejected"] is None
    assert (data["waiting"], data["daemon_running"], data["restored"]) == ([], False, None)
    assert data["ok"] is False
    assert data["destinations"] == [
        {
            "name": "viber",
            "kind": "viber",
            "sender": "admin-id=",
            "sender_from": "remembered",
            "fatal": None,
            "last_post": newest_sent.updated.isoformat(),
            "waiting": 0,
        }
    ]
    blog = data["feeds"][1]
    assert blog["name"] == "blog" and blog["needs_attention"] is True
    assert blog["consecutive_failures"] == 1
    assert blog["next_attempt"] == "2026-01-05T13:00:00+00:00"
    assert data["problems"][0] == {
        "feed": "news",
        "key": "n-failed",
        "destination": "viber",
        "state": "failed",
        "attempts": 1,
        "last_error": REFUSED,
        "message_token": None,
        "created": "2026-01-05T12:04:00+00:00",
        "updated": "2026-01-05T12:05:00+00:00",
    }
    assert [r["key"] for r in data["recent"]] == ["n-lost", "g-1", "n-failed", "n-sent"]


@pytest.mark.parametrize("key", ["n-failed", "n-lost"])
def test_retry_item_releases_it_and_reads_the_feed_in_full_next(store: Store, key: str) -> None:
    assert store.is_known("news", key)
    assert retry_item(store, "news", key) is True
    assert not store.is_known("news", key)
    assert store.validators("news") == Validators()
    assert store.has_history("news")
    assert retry_item(store, "news", key) is False


@pytest.mark.parametrize(
    ("feed", "key", "problem"),
    [
        pytest.param("news", "n-failed", None, id="failed"),
        pytest.param("news", "n-lost", None, id="uncertain"),
        pytest.param(
            "news",
            "nope",
            "feed 'news' has no item 'nope' on record; "
            "`poster status` lists the failed and uncertain items",
            id="unknown",
        ),
        pytest.param(
            "news",
            "n-sent",
            "item 'n-sent' of feed 'news' was sent; "
            "only failed, uncertain and skipped items can be retried",
            id="sent",
        ),
        pytest.param(
            "blog",
            "b-old",
            "item 'b-old' of feed 'blog' was held back on first read and never posted; "
            "only failed, uncertain and skipped items can be retried",
            id="seen",
        ),
    ],
)
def test_retry_problem_says_why_not(store: Store, feed: str, key: str, problem: str | None) -> None:
    assert retry_problem(store, feed, key) == problem


def test_retry_problem_of_an_item_already_released(store: Store) -> None:
    retry_item(store, "news", "n-failed")
    assert retry_problem(store, "news", "n-failed") == (
        "item 'n-failed' of feed 'news' is already waiting to be sent on the feed's next pass; "
        "only failed, uncertain and skipped items can be retried"
    )


@pytest.mark.parametrize(
    ("states", "feed", "count", "left"),
    [
        pytest.param([FAILED], None, 1, ["n-lost"], id="failed"),
        pytest.param([UNCERTAIN], None, 1, ["n-failed"], id="uncertain"),
        pytest.param([FAILED, UNCERTAIN], None, 2, [], id="both"),
        pytest.param([FAILED, UNCERTAIN], "news", 2, [], id="both-of-news"),
        pytest.param([FAILED, UNCERTAIN], "blog", 0, ["n-failed", "n-lost"], id="none-of-blog"),
    ],
)
def test_retry_states_releases_only_the_chosen(
    store: Store, states: list[str], feed: str | None, count: int, left: list[str]
) -> None:
    assert retry_states(store, states, feed) == count
    assert [r.key for r in store.deliveries(states=[FAILED, UNCERTAIN])] == left


@pytest.mark.parametrize("states", [[], [SENT], [FAILED, "released"]], ids=["none", "sent", "mix"])
def test_retry_states_refuses_other_states(store: Store, states: list[str]) -> None:
    with pytest.raises(ValueError, match="only failed, uncertain and skipped items can be retried"):
        retry_states(store, states)


def test_set_feed_disabled_returns_what_it_was(store: Store) -> None:
    assert set_feed_disabled(store, "news", OPERATOR_DISABLED) is None
    assert store.feed_state("news").disabled == OPERATOR_DISABLED
    assert set_feed_disabled(store, "news", None) == OPERATOR_DISABLED
    assert store.feed_state("news").disabled is None


def test_enabling_a_feed_disabled_after_failures_has_it_read_at_once(store: Store) -> None:
    for _ in range(4):
        store.record_fetch_failed("news", NOW, "HTTP 500", NOW + timedelta(minutes=30))
    set_feed_disabled(store, "news", "disabled after 4 failures in a row; last: HTTP 500")
    assert set_feed_disabled(store, "news", None) is not None
    state = store.feed_state("news")
    assert (state.disabled, state.next_attempt, state.consecutive_failures) == (None, None, 0)


class RefuseOnce:
    """Refuse the first message whose text has ``word``; accept everything else."""

    name = "viber"
    kind = KIND

    def __init__(self, word: str) -> None:
        self.word = word
        self.sent: list[str] = []

    def send(self, message: Message) -> Receipt:
        if self.word in message.text and self.word not in self.sent:
            self.sent.append(self.word)
            raise MessageRejected("refused once", 3, "badData")
        self.sent.append(message.text)
        return Receipt(self.name, f"t{len(self.sent)}", datetime.now(UTC))


def test_a_retried_item_is_sent_by_the_next_pass(tmp_path: Path) -> None:
    body = (DATA / "news.xml").read_bytes()

    def serve(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"'})
        return httpx.Response(200, content=body, headers={"ETag": '"v1"'})

    config = load_config(DATA / "feeds.toml")
    news = config.feed("news")
    assert news is not None
    feed = replace(news, backlog=None)
    destination = RefuseOnce("Council")
    with make_client(transport=httpx.MockTransport(serve)) as client, Store(tmp_path) as store:
        deps = Deps(client, Renderer(config.templates_dir), destination, store)
        first = run_feed(feed, deps)
        assert [o.delivery for o in first.outcomes] == [SENT, FAILED, SENT]
        assert run_feed(feed, deps).parsed is None  # 304: nothing offered without a retry
        assert retry_item(store, "news", "news-2")
        again = run_feed(feed, deps)
        assert [(o.decision.item.key, o.delivery) for o in again.outcomes if o.delivery] == [
            ("news-2", SENT)
        ]
        [record] = [r for r in store.deliveries(feed="news") if r.key == "news-2"]
    assert (record.state, record.attempts) == (SENT, 2)
    assert destination.sent == ["Bridge reopens", "Council", "Market opens", "Council meets"]


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 3, 2, 10, 5, 59, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=3))),
        datetime(1999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    ],
    ids=str,
)
def test_times_read_as_strftime_writes_them(when: datetime) -> None:
    assert _clock(when) == when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def test_a_feed_no_longer_configured_has_no_next_read(config: Config, store: Store) -> None:
    from poster.models import NextPoll
    from poster.ops.status import format_status
    from poster.ops.statusjson import status_json

    store.record_fetch_ok("gone", START, NextPoll(START + timedelta(hours=2), "every 2h"))
    view = status_view(config, store, NOW)
    [row] = [line for line in format_status(view).splitlines() if line.startswith("  gone ")]
    assert row.endswith(" -")
    [gone] = [feed for feed in status_json(view)["feeds"] if feed["name"] == "gone"]
    assert (gone["next_poll"], gone["next_attempt"]) == (None, None)


def test_a_paused_feed_has_no_next_read(config: Config, store: Store) -> None:
    from poster.models import NextPoll
    from poster.ops import inbox
    from poster.ops.status import format_status
    from poster.ops.statusjson import status_json

    store.record_fetch_ok("news", START, NextPoll(START + timedelta(hours=2), "every 2h"))
    inbox.apply(store, inbox.Request("feed-disable", "news"))
    view = status_view(config, store, NOW)
    [row] = [line for line in format_status(view).splitlines() if line.startswith("  news ")]
    assert "paused" in row and row.endswith(" -")
    [news] = [feed for feed in status_json(view)["feeds"] if feed["name"] == "news"]
    assert (news["next_poll"], news["next_attempt"]) == (None, None)
