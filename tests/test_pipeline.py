from __future__ import annotations

import itertools
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from support.clock import SleepingClock

from poster.config import FeedConfig
from poster.destinations import Receipt
from poster.destinations.recording import RecordingDestination
from poster.destinations.viber.kind import KIND
from poster.destinations.viber.messages import Message, TextMessage
from poster.errors import (
    DeliveryError,
    DeliveryUncertain,
    DestinationFatal,
    MessageRejected,
    RenderError,
    RetryLater,
    StateError,
)
from poster.fetch.client import FeedClient
from poster.fetch.feed import make_client
from poster.models import Item
from poster.ops.preview import render_text
from poster.pipeline import DEFERRED, Batch, Deps, FeedReport, collect, run_feed, run_pass
from poster.pipeline.pacing import Pacer
from poster.pipeline.passes import in_threads
from poster.pipeline.runner import RenderAhead
from poster.pipeline.waitlist import keep_waiting, waiting_items
from poster.render import Renderer
from poster.select import HELD
from poster.store.ledger import FAILED, SENT, UNCERTAIN, MemoryLedger, ReadOnlyLedger

ROOT = Path(__file__).resolve().parents[1]
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>First</title><guid>g1</guid><pubDate>Mon, 23 Nov 2026 07:00:00 +0000</pubDate>
<description>one</description></item>
<item><title>Second</title><guid>g2</guid><pubDate>Tue, 24 Nov 2026 07:00:00 +0000</pubDate>
<description>two</description></item>
<item><title>Third</title><guid>g3</guid><pubDate>Wed, 25 Nov 2026 07:00:00 +0000</pubDate>
<description>three</description></item>
</channel></rss>"""
FEED = FeedConfig(name="news", url="https://feeds.example.org/rss", backlog=None)


class ScriptedDestination:
    """Accept or refuse messages in the order a test scripts."""

    name = "viber"
    kind = KIND

    def __init__(self, *answers: Exception | None) -> None:
        self.answers = list(answers)
        self.sent: list[Message] = []

    def send(self, message: Message) -> Receipt:
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        self.sent.append(message)
        return Receipt(self.name, str(len(self.sent)), datetime.now(UTC))


@pytest.fixture
def client() -> Iterator[FeedClient]:
    def serve(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"'})
        return httpx.Response(200, text=RSS, headers={"ETag": '"v1"'})

    with make_client(transport=httpx.MockTransport(serve)) as http:
        yield http


def deps(client: FeedClient, destination: object, ledger: object, **extra: object) -> Deps:
    return Deps(client, Renderer(ROOT / "templates"), destination, ledger, **extra)  # type: ignore[arg-type]


def test_posts_new_items_oldest_first_and_records_them(client: FeedClient) -> None:
    destination, ledger = ScriptedDestination(), MemoryLedger()
    report = run_feed(FEED, deps(client, destination, ledger))
    assert report.ok
    assert [o.decision.item.key for o in report.outcomes] == ["g1", "g2", "g3"]
    assert [m.text.split("\n")[0] for m in destination.sent] == ["*First*", "*Second*", "*Third*"]
    assert {k: d.state for (_, k, _), d in ledger.deliveries.items()} == {
        "g1": SENT,
        "g2": SENT,
        "g3": SENT,
    }


def test_an_id_a_document_repeats_is_posted_once_as_the_item_above() -> None:
    repeated = RSS.replace("<guid>g1</guid>", "<guid>g3</guid>").replace(
        "<title>First</title>", "<title>Again</title>"
    )
    served = httpx.MockTransport(lambda request: httpx.Response(200, text=repeated))
    destination, ledger = ScriptedDestination(), MemoryLedger()
    with make_client(transport=served) as http:
        report = run_feed(FEED, deps(http, destination, ledger))
    assert [m.text.split("\n")[0] for m in destination.sent] == ["*Again*", "*Second*"]
    outcomes = [(o.decision.item.title, o.decision.action) for o in report.outcomes]
    assert outcomes == [("Again", "post"), ("Second", "post"), ("Third", "repeated")]
    assert "the same id as an item before it in the feed" in report.outcomes[2].decision.reason
    from poster.ops.preview import decision_label

    assert decision_label(report.outcomes[2]) == "repeated in the feed"


@pytest.mark.parametrize("itemize", [True, False])
def test_a_known_item_waiting_for_an_operator_is_counted_by_its_state_not_as_posted(
    itemize: bool,
) -> None:
    reads = itertools.count()  # a body changed each read, read again
    served = httpx.MockTransport(lambda _: httpx.Response(200, text=RSS + " " * next(reads)))
    ledger = MemoryLedger()
    with make_client(transport=served) as http:
        run_feed(FEED, deps(http, ScriptedDestination(), ledger))
        ledger.record_failed(FEED.name, "g1", "viber", "viber rejected the post: status 3")
        ledger.record_uncertain(FEED.name, "g2", "viber", "no answer in 10 s")
        report = run_feed(FEED, deps(http, ScriptedDestination(), ledger, itemize=itemize))
    want = {"g1": "failed earlier", "g2": "uncertain earlier", "g3": "already posted"}
    from poster.ops.preview import LABELS, decision_label

    if itemize:
        shown = {o.decision.item.key: decision_label(o) for o in report.outcomes}
        assert shown == want
        reasons = [o.decision.reason for o in report.outcomes]
        assert reasons[0].startswith("failed at viber: viber rejected the post: status 3")
        assert "it may have been posted; `poster retry` sends it again" in reasons[1]
    else:
        assert report.outcomes == ()
        assert [(LABELS[fate], count) for fate, count in report.skipped] == [
            ("failed earlier", 1), ("uncertain earlier", 1), ("already posted", 1)
        ]  # fmt: skip


def test_the_preview_shows_each_of_two_items_of_one_id_in_its_own_block() -> None:
    twins = (
        '<rss version="2.0"><channel><title>T</title><item><title>One</title><guid>g</guid>'
        "</item><item><title>Two</title><guid>g</guid></item></channel></rss>"
    )
    served = httpx.MockTransport(lambda request: httpx.Response(200, text=twins))
    with make_client(transport=served) as http:
        report = run_feed(FEED, deps(http, ScriptedDestination(), ReadOnlyLedger(MemoryLedger())))
    shown = render_text([report])
    assert "] One\n" in shown and "] Two\n" in shown


def test_second_pass_is_conditional_and_posts_nothing(client: FeedClient) -> None:
    destination, ledger = ScriptedDestination(), MemoryLedger()
    run_feed(FEED, deps(client, destination, ledger))
    report = run_feed(FEED, deps(client, destination, ledger))
    assert report.fetch is not None and report.fetch.status == 304
    assert report.outcomes == () and len(destination.sent) == 3


def test_known_items_are_skipped_when_the_feed_changes(client: FeedClient) -> None:
    destination, ledger = ScriptedDestination(), MemoryLedger()
    ledger.record_pending("news", "g1", "viber")
    report = run_feed(FEED, deps(client, destination, ledger, conditional=False))
    assert [o.decision.action for o in report.outcomes] == ["seen", "post", "post"]
    assert len(destination.sent) == 2


def test_rejected_post_is_recorded_with_reason_and_others_go_on(client: FeedClient) -> None:
    rejected = MessageRejected("viber refused: 3 badData", status=3, status_message="badData")
    destination, ledger = ScriptedDestination(None, rejected), MemoryLedger()
    report = run_feed(FEED, deps(client, destination, ledger))
    assert [o.delivery for o in report.outcomes] == [SENT, FAILED, SENT]
    failed = ledger.deliveries[("news", "g2", "viber")]
    assert failed.state == FAILED and "badData" in (failed.error or "")
    assert not report.ok


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(RetryLater("rate limited", 12, "tooManyRequests"), id="retry-later"),
        pytest.param(DestinationFatal("token invalid", 2, "invalidAuthToken"), id="fatal"),
    ],
)
def test_deferral_keeps_the_rest_for_the_next_pass(client: FeedClient, error: Exception) -> None:
    destination, ledger = ScriptedDestination(None, error), MemoryLedger()
    report = run_feed(FEED, deps(client, destination, ledger))
    assert [o.delivery for o in report.outcomes] == [SENT, DEFERRED, DEFERRED]
    assert ledger.validators("news") is None, "validators saved: next pass would get 304"
    assert (report.fatal is not None) == isinstance(error, DestinationFatal)
    again = run_feed(FEED, deps(client, ScriptedDestination(), ledger))
    assert [o.delivery for o in again.outcomes] == [None, SENT, SENT]


class Unreadable(DeliveryUncertain):
    """A destination's own lost-answer error, as a kind may define one."""


@pytest.mark.parametrize(
    ("error", "delivery", "stored"),
    [
        pytest.param(DeliveryUncertain("answer lost"), UNCERTAIN, UNCERTAIN, id="uncertain"),
        pytest.param(Unreadable("no JSON status"), UNCERTAIN, UNCERTAIN, id="uncertain-subclass"),
        pytest.param(MessageRejected("badData", 3), FAILED, FAILED, id="rejected"),
        pytest.param(RetryLater("busy", retry_after=5), DEFERRED, None, id="retry-later"),
        pytest.param(DestinationFatal("blocked", 7), DEFERRED, None, id="fatal"),
    ],
)
def test_each_refusal_is_recorded_by_what_it_means(
    client: FeedClient, error: DeliveryError, delivery: str, stored: str | None
) -> None:
    ledger = MemoryLedger()
    report = run_feed(FEED, deps(client, ScriptedDestination(error), ledger))
    assert report.outcomes[0].delivery == delivery
    record = ledger.deliveries.get(("news", "g1", "viber"))
    assert (record.state if record else None) == stored


def test_an_uncertain_post_is_not_caught_as_one_to_retry() -> None:
    # Code that retries on RetryLater must never re-send a post that may have arrived.
    with pytest.raises(DeliveryUncertain):
        try:
            raise DeliveryUncertain("answer lost")
        except RetryLater:
            pytest.fail("DeliveryUncertain was handled as RetryLater")


def test_feed_error_is_reported_not_raised() -> None:
    failing = httpx.MockTransport(
        lambda request: httpx.Response(503, headers={"Retry-After": "60"})
    )
    with make_client(transport=failing) as http:
        report = run_feed(FEED, deps(http, ScriptedDestination(), MemoryLedger()))
    assert report.error is not None and "503" in str(report.error)
    assert not report.ok


def test_preview_ledger_writes_nothing(client: FeedClient) -> None:
    source = MemoryLedger()
    recording = RecordingDestination("viber", KIND, "sender-id")
    report = run_feed(FEED, deps(client, recording, ReadOnlyLedger(source)))
    assert [r.body["from"] for r in recording.sent] == ["sender-id"] * 3
    assert {r.body["auth_token"] for r in recording.sent} == {"***"}
    assert source.deliveries == {} and source.validators("news") is None
    assert report.ok


def test_a_recording_file_that_can_never_be_written_stops_its_destination_saying_what_to_do(
    client: FeedClient, tmp_path: Path
) -> None:
    folder = tmp_path / "archive.jsonl"
    folder.mkdir()  # where the file would be
    recording = RecordingDestination("archive", KIND, path=folder)
    report = run_feed(FEED, deps(client, recording, MemoryLedger()))
    assert isinstance(report.fatal, DestinationFatal) and not report.ok
    assert f"archive: cannot write {folder}: Is a directory; make it a file" in str(report.fatal)


def test_a_recording_file_on_a_full_disk_is_written_again_later() -> None:
    full = RecordingDestination("archive", KIND, path=Path("/dev/full"))
    with pytest.raises(RetryLater, match="No space left on device; will retry later"):
        full.send(TextMessage("Hello"))


@pytest.mark.parametrize("backlog", [0, 1, None], ids=["zero", "one", "all"])
def test_a_preview_without_state_holds_back_what_a_fresh_run_holds_back(
    client: FeedClient, backlog: int | None
) -> None:
    feed = FeedConfig(name="news", url=FEED.url, backlog=backlog)
    preview = run_feed(feed, deps(client, RecordingDestination("viber", KIND), ReadOnlyLedger()))
    run = run_feed(feed, deps(client, ScriptedDestination(), MemoryLedger()))
    decisions = [(o.decision.item.key, o.decision.action) for o in preview.outcomes]
    assert decisions == [(o.decision.item.key, o.decision.action) for o in run.outcomes]
    assert sum(action == HELD for _, action in decisions) == {0: 3, 1: 2, None: 0}[backlog]


def test_limit_keeps_the_newest_items(client: FeedClient) -> None:
    report = run_feed(FEED, deps(client, ScriptedDestination(), MemoryLedger(), limit=2))
    assert [o.decision.item.key for o in report.outcomes] == ["g2", "g3"]


@pytest.mark.parametrize(
    ("backlog", "posted"),
    [
        pytest.param(0, [], id="zero-marks-all-seen"),
        pytest.param(2, ["g2", "g3"], id="newest-two"),
        pytest.param(None, ["g1", "g2", "g3"], id="all"),
    ],
)
def test_first_read_backlog(client: FeedClient, backlog: int | None, posted: list[str]) -> None:
    destination, ledger = ScriptedDestination(), MemoryLedger()
    feed = FeedConfig(name="news", url=FEED.url, backlog=backlog)
    report = run_feed(feed, deps(client, destination, ledger))
    assert [o.decision.item.key for o in report.outcomes if o.delivery == SENT] == posted
    assert all(ledger.is_known("news", key) for key in ("g1", "g2", "g3"))
    held = [o.decision for o in report.outcomes if o.decision.action == HELD]
    assert len(held) == 3 - len(posted)
    assert all(d.reason == f"first read of the feed: backlog = {backlog}" for d in held)


def test_backlog_applies_only_to_the_first_read(client: FeedClient) -> None:
    ledger = MemoryLedger()
    ledger.record_sent("news", "g1", Receipt("viber", "1", datetime.now(UTC)))
    feed = FeedConfig(name="news", url=FEED.url, backlog=0)
    report = run_feed(feed, deps(client, ScriptedDestination(), ledger))
    assert [o.delivery for o in report.outcomes] == [None, SENT, SENT]


def test_a_first_read_that_finds_no_item_leaves_the_backlog_to_the_next_read() -> None:
    empty = RSS.split("<item>")[0] + "</channel></rss>"
    pages = [empty, RSS]
    headers = {"ETag": '"v1"'}
    served = httpx.MockTransport(lambda _: httpx.Response(200, text=pages[0], headers=headers))
    destination, ledger = ScriptedDestination(), MemoryLedger()
    feed = FeedConfig(name="news", url=FEED.url, backlog=0)
    with make_client(transport=served) as http:
        assert run_feed(feed, deps(http, destination, ledger)).outcomes == ()
        assert ledger.validators("news") is None
        pages.pop(0)
        again = run_feed(feed, deps(http, destination, ledger))
    assert destination.sent == []
    assert [o.decision.action for o in again.outcomes] == [HELD, HELD, HELD]
    assert ledger.validators("news") is not None


def test_pacing_spaces_posts_and_caps_a_pass(client: FeedClient) -> None:
    clock = SleepingClock()
    pacer = Pacer(30.0, 2, clock=clock, sleep=clock.sleep)
    destination, ledger = ScriptedDestination(), MemoryLedger()
    report = run_feed(FEED, deps(client, destination, ledger, pacer=pacer))
    assert [o.delivery for o in report.outcomes] == [SENT, SENT, DEFERRED]
    assert clock.slept == [30.0]
    assert "max_per_pass=2" in (report.outcomes[2].error or "")
    assert ledger.validators("news") is None
    again = run_feed(FEED, deps(client, destination, ledger, pacer=pacer))
    assert [o.delivery for o in again.outcomes] == [None, None, SENT]


def test_a_pass_posts_oldest_first_across_feeds() -> None:
    other = RSS.replace("g1", "h1").replace("g2", "h2").replace("g3", "h3")
    other = other.replace("23 Nov", "22 Nov").replace("25 Nov", "26 Nov")

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=other if request.url.path == "/other" else RSS)

    feeds = [FEED, FeedConfig(name="other", url="https://feeds.example.org/other", backlog=None)]
    destination = ScriptedDestination()
    with make_client(transport=httpx.MockTransport(serve)) as http:
        reports = run_pass(feeds, deps(http, destination, MemoryLedger()))
    assert all(report.ok for report in reports)
    firsts = [m.text.split("\n")[0] for m in destination.sent]
    assert firsts == ["*First*", "*First*", "*Second*", "*Second*", "*Third*", "*Third*"]
    order = [o.receipt.message_token for r in reports for o in r.outcomes if o.receipt]
    assert order == ["2", "3", "5", "1", "4", "6"]


def test_an_error_no_stage_expects_fails_only_its_feed_and_keeps_the_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import poster.parse

    real = poster.parse.parse

    def parse(result: Any, feed: FeedConfig) -> Any:
        if feed.name == "other":
            raise RuntimeError("a case no stage thought of")
        return real(result, feed)

    monkeypatch.setattr(poster.parse, "parse", parse)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    feeds = [FEED, FeedConfig(name="other", url="https://feeds.example.org/other", backlog=None)]
    destination = ScriptedDestination()
    with make_client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, text=RSS))
    ) as http:
        reports = run_pass(feeds, deps(http, destination, MemoryLedger()))
    assert [report.ok for report in reports] == [True, False]
    assert len(destination.sent) == 3
    error = str(reports[1].error)
    assert error.startswith("feed 'other': unexpected error, a bug in poster: RuntimeError: a case")
    [kept] = tmp_path.glob("poster-bug-*.txt")
    assert "a case no stage thought of" in kept.read_text()


def test_a_state_error_met_reading_a_feed_still_reaches_the_caller(
    client: FeedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = MemoryLedger()

    def full(*_: object) -> None:
        raise StateError(Path("poster.json"), "cannot be written (No space left on device)")

    monkeypatch.setattr(ledger, "recall", full)
    with pytest.raises(StateError, match="No space left"):
        run_feed(FEED, deps(client, ScriptedDestination(), ledger))


def test_items_already_waiting_are_not_offered_again(client: FeedClient) -> None:
    deps_ = deps(client, ScriptedDestination(), MemoryLedger())
    batch = collect(FEED, deps_, busy=frozenset({"g2"}))
    assert isinstance(batch, Batch)
    assert [d.item.key for d in batch.wanted()] == ["g1", "g3"]
    [waiting] = [d for d in batch.decisions if d.item.key == "g2"]
    assert (waiting.action, waiting.reason) == ("seen", "waiting to be posted")


class CountingLedger:
    """Forward every call to a ledger, counting them."""

    def __init__(self, ledger: MemoryLedger) -> None:
        self._ledger = ledger
        self.calls = 0

    def __getattr__(self, name: str) -> Callable[..., object]:
        method = getattr(self._ledger, name)

        def counted(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return method(*args, **kwargs)

        return counted


def rss_of(count: int) -> str:
    items = "".join(
        f"<item><title>Item {n}</title><guid>k{n}</guid>"
        f"<pubDate>Mon, 23 Nov 2026 07:{n:02d}:00 +0000</pubDate></item>"
        for n in range(count)
    )
    channel = f"<channel><title>T</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


@pytest.mark.parametrize("history", [False, True], ids=["first-read", "later-read"])
def test_a_read_asks_the_ledger_as_often_whatever_its_item_count(history: bool) -> None:
    """The reading threads share the ledger's lock: a read must not take it once per item."""
    calls = []
    for count in (3, 30):
        ledger = MemoryLedger()
        if history:
            ledger.record_sent("news", "k1", Receipt("viber", "1", datetime.now(UTC)))
        counting = CountingLedger(ledger)
        serve = httpx.MockTransport(lambda _, count=count: httpx.Response(200, text=rss_of(count)))
        with make_client(transport=serve) as http:
            batch = collect(FEED, deps(http, ScriptedDestination(), counting))
        assert isinstance(batch, Batch) and len(batch.decisions) == count
        calls.append(counting.calls)
    assert calls[0] == calls[1] <= 8  # a few questions a read, whatever its item count


def test_a_run_keeps_only_the_items_to_post_and_counts_the_rest(client: FeedClient) -> None:
    ledger = MemoryLedger()
    ledger.record_sent("news", "g1", Receipt("viber", "1", datetime.now(UTC)))
    feed = FeedConfig(name="news", url=FEED.url, backlog=1)
    itemized = collect(feed, deps(client, ScriptedDestination(), ledger))
    counted = collect(feed, deps(client, ScriptedDestination(), ledger, itemize=False))
    assert isinstance(itemized, Batch) and isinstance(counted, Batch)
    assert [d.action for d in itemized.decisions] == ["seen", "post", "post"]
    assert counted.decisions == itemized.decisions[1:]
    assert counted.skipped == (("seen", 1),) and itemized.skipped == ()
    report = run_feed(feed, deps(client, ScriptedDestination(), ledger, itemize=False))
    assert [o.delivery for o in report.outcomes] == [SENT, SENT]
    assert report.skipped == (("seen", 1),)


def test_items_posted_elsewhere_are_offered_to_a_stand_in(client: FeedClient) -> None:
    ledger = MemoryLedger()
    feed = FeedConfig(name="news", url=FEED.url, backlog=1)
    first = run_feed(feed, deps(client, ScriptedDestination(), ledger))
    assert [o.delivery for o in first.outcomes] == [None, None, SENT]  # g1, g2 held back

    sandbox = ScriptedDestination()
    sandbox.name = "sandbox"
    again = run_feed(feed, deps(client, sandbox, ledger, conditional=False, own_routes=False))

    assert [(o.decision.item.key, o.delivery) for o in again.outcomes] == [
        ("g1", None),
        ("g2", None),
        ("g3", SENT),
    ]
    assert [o.decision.action for o in again.outcomes][:2] == [HELD, HELD]
    assert ledger.routes("news") == {"viber"}, "a stand-in leaves the feed's routes as they were"


def test_a_destination_that_joins_a_feed_is_given_only_what_is_new(client: FeedClient) -> None:
    ledger = MemoryLedger()
    feed = FeedConfig(name="news", url=FEED.url, backlog=1)
    run_feed(feed, deps(client, ScriptedDestination(), ledger))  # g3 is posted to viber
    joined = ScriptedDestination()
    joined.name = "archive"
    again = run_feed(feed, deps(client, joined, ledger, conditional=False))
    assert joined.sent == [] and [o.delivery for o in again.outcomes] == [None, None, None]
    assert ledger.deliveries[("news", "g3", "archive")].state == "seen"
    assert ledger.routes("news") == {"archive"}, "viber, taken off, would join again"


@pytest.mark.parametrize("carried", [True, False], ids=["renamed", "no-former-feeds"])
def test_a_renamed_feed_posts_nothing_its_old_name_gave_or_held_back(
    client: FeedClient, carried: bool
) -> None:
    ledger = MemoryLedger()
    old = FeedConfig(name="news", url=FEED.url, backlog=1)
    run_feed(old, deps(client, ScriptedDestination(), ledger))  # g3 posted, g1 and g2 held back
    renamed = FeedConfig(name="city-news", url=FEED.url, backlog=1)
    former = frozenset({"news", "gone"} if carried else {"gone"})
    destination = ScriptedDestination()
    again = run_feed(renamed, deps(client, destination, ledger, former=lambda: former))
    if not carried:  # a feed of its own: its first read posts the newest, as backlog says
        assert [m.text.split("\n")[0] for m in destination.sent] == ["*Third*"]
        return
    assert destination.sent == []
    assert [o.decision.action for o in again.outcomes] == ["seen", "seen", "seen"]
    assert {o.decision.reason for o in again.outcomes} == {
        "posted or held back as feed 'news', which feeds.toml no longer names"
    }
    assert {k: d.state for (f, k, _), d in ledger.deliveries.items() if f == "city-news"} == {
        "g1": "seen",
        "g2": "seen",
        "g3": "seen",
    }
    assert run_feed(renamed, deps(client, destination, ledger, conditional=False)).ok
    assert destination.sent == [], "the next read is no first read, and knows them all"


def test_an_item_the_old_name_kept_waiting_is_posted_once_by_the_renamed_feed(
    client: FeedClient,
) -> None:
    ledger = MemoryLedger()
    run_feed(
        FeedConfig(name="news", url=FEED.url, backlog=1),
        deps(client, ScriptedDestination(), ledger),
    )
    fourth = Item(key="g4", title="Fourth", published=datetime(2026, 11, 26, 7, tzinfo=UTC))
    keep_waiting(ledger, "news", [fourth])  # a quiet night, then the rename
    item = "<item><title>Fourth</title><guid>g4</guid><pubDate>Thu, 26 Nov 2026 07:00:00 +0000"
    served = RSS.replace("<title>T</title>", f"<title>T</title>{item}</pubDate></item>")
    with make_client(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, text=served))
    ) as http:
        destination = ScriptedDestination()
        renamed = FeedConfig(name="city-news", url=FEED.url, backlog=0)
        run_feed(renamed, deps(http, destination, ledger, former=lambda: frozenset({"news"})))
    assert [m.text.split("\n")[0] for m in destination.sent] == ["*Fourth*"]
    assert waiting_items(ledger, "news", ()) == [], "putting the old name back posts it no more"


def test_what_the_old_name_kept_waiting_is_posted_whatever_the_backlog(
    client: FeedClient,
) -> None:
    ledger = MemoryLedger()
    run_feed(
        FeedConfig(name="news", url=FEED.url, backlog=None),
        deps(client, ScriptedDestination(), ledger),
    )
    # Refused until later, then rolled off the feed's page before the rename.
    zeroth = Item(key="g0", title="Zeroth", published=datetime(2026, 11, 22, 7, tzinfo=UTC))
    keep_waiting(ledger, "news", [zeroth])
    destination = ScriptedDestination()
    renamed = FeedConfig(name="city-news", url=FEED.url, backlog=0)
    again = run_feed(renamed, deps(client, destination, ledger, former=lambda: {"news"}))
    assert [m.text.split("\n")[0] for m in destination.sent] == ["*Zeroth*"]
    assert [o.decision.action for o in again.outcomes] == ["post", "seen", "seen", "seen"]
    assert waiting_items(ledger, "news", ()) == []


def test_an_item_waiting_when_the_key_changes_is_posted_once_under_its_new_key() -> None:
    linked = RSS
    for n in (1, 2, 3):
        linked = linked.replace(
            f"<guid>g{n}</guid>", f"<guid>g{n}</guid><link>https://e.org/{n}</link>"
        )
    ledger = MemoryLedger()
    served = httpx.MockTransport(lambda _: httpx.Response(200, text=linked))
    with make_client(transport=served) as http:
        later = RetryLater("the destination asks to wait", retry_after=60)
        run_feed(FEED, deps(http, ScriptedDestination(None, None, later), ledger))
        assert [item.key for item in waiting_items(ledger, "news", ())] == ["g3"]
        destination = ScriptedDestination()
        run_feed(FeedConfig(name="news", url=FEED.url, key="link"), deps(http, destination, ledger))
    assert [m.text.split("\n")[0] for m in destination.sent] == ["*Third*"]
    assert ledger.is_known("news", "https://e.org/3", "viber")


def test_what_a_first_read_left_waiting_is_not_held_back_by_the_next_first_read() -> None:
    ledger, served = MemoryLedger(), [RSS]
    feed = FeedConfig(name="news", url=FEED.url, backlog=3)
    with make_client(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, text=served[0]))
    ) as http:
        later = RetryLater("the destination asks to wait", retry_after=60)
        run_feed(feed, deps(http, ScriptedDestination(later), ledger))
        assert not ledger.has_history("news"), "all it wanted waits: the next read is a first"
        item = "<item><title>Fourth</title><guid>g4</guid><pubDate>Thu, 26 Nov 2026 07:00:00 +0000"
        served[0] = RSS.replace("<title>T</title>", f"<title>T</title>{item}</pubDate></item>")
        destination = ScriptedDestination()
        run_feed(feed, deps(http, destination, ledger))
    sent = [m.text.split("\n")[0] for m in destination.sent]
    assert sent == ["*First*", "*Second*", "*Third*", "*Fourth*"]


def test_a_feed_moved_to_another_url_posts_only_what_is_newer_than_all_it_had() -> None:
    ledger = MemoryLedger()
    item = "<item><title>Fourth</title><guid>g4</guid><pubDate>Thu, 26 Nov 2026 07:00:00 +0000"
    moved = RSS.replace("<title>T</title>", f"<title>T</title>{item}</pubDate></item>")
    pages = {"https://old.example.org/rss": RSS, "https://new.example.org/rss": moved}
    served = httpx.MockTransport(lambda r: httpx.Response(200, text=pages[str(r.url)]))
    with make_client(transport=served) as http:
        old = FeedConfig(name="news", url="https://old.example.org/rss", backlog=0)
        run_feed(old, deps(http, ScriptedDestination(), ledger))  # all three held back
        destination = ScriptedDestination()
        new = FeedConfig(name="news", url="https://new.example.org/rss", backlog=0)
        report = run_feed(new, deps(http, destination, ledger))
    assert [m.text.split("\n")[0] for m in destination.sent] == ["*Fourth*"]
    assert [o.decision.action for o in report.outcomes] == [*["held_back"] * 3, "post"]


def test_a_pass_tells_of_each_batch_to_post_before_it_posts(client: FeedClient) -> None:
    destination, ledger = ScriptedDestination(), MemoryLedger()
    told: list[tuple[str, int]] = []

    def ready(batch: Batch) -> None:
        told.append((batch.feed.name, len(destination.sent)))

    run_pass([FEED], deps(client, destination, ledger, workers=2), ready=ready)
    assert told == [("news", 0)]
    run_pass([FEED], deps(client, destination, ledger), ready=ready)  # a 304: nothing to post
    assert told == [("news", 0)]


class CheckedRenderer(Renderer):
    """Count renders, and fail them when told to."""

    def __init__(self, fault: Exception | None = None) -> None:
        super().__init__(ROOT / "templates")
        self.fault = fault
        self.rendered: list[str] = []
        self.done = threading.Event()

    def render(self, item: Any, feed: FeedConfig, meta: Any, kind: Any) -> Any:
        try:
            self.rendered.append(item.key)
            if self.fault is not None:
                raise self.fault
            return super().render(item, feed, meta, kind)
        finally:
            self.done.set()


@pytest.mark.parametrize(
    "fault", [None, RenderError("news", "g1", "broken.j2: line 1")], ids=["ok", "broken"]
)
def test_templates_are_built_once_in_the_background_and_faults_wait_for_the_render(
    client: FeedClient, fault: Exception | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="poster.pipeline.runner")
    renderer = CheckedRenderer(fault)
    app = SimpleNamespace(
        routes=lambda feed: ("viber",),
        destinations={"viber": ScriptedDestination()},
        renderer=renderer,
    )
    batch = collect(FEED, deps(client, ScriptedDestination(), MemoryLedger()))
    assert isinstance(batch, Batch)
    ahead = RenderAhead(app)  # type: ignore[arg-type]
    ahead(batch)
    ahead(batch)
    assert renderer.done.wait(5)
    assert renderer.rendered == ["g1"]
    deadline = time.monotonic() + 5
    caught = fault is None or "templates-not-ready" in caplog.text
    while not caught and time.monotonic() < deadline:
        time.sleep(0.01)
        caught = "templates-not-ready" in caplog.text
    assert caught  # the fault was logged for debugging, not raised in the thread


def test_reading_threads_read_each_feed_once_and_keep_the_feeds_order() -> None:
    feeds = [FeedConfig(name=f"f{n}", url=f"https://feeds.example.org/{n}") for n in range(50)]
    names: list[str] = []

    def read(feed: FeedConfig) -> FeedReport:
        names.append(feed.name)
        time.sleep(0.001 * (hash(feed.name) % 3))  # finish out of order
        return FeedReport(feed.name)

    reports = in_threads(read, feeds, 4)
    assert [r.feed for r in reports] == [f.name for f in feeds]
    assert sorted(names) == sorted(f.name for f in feeds)


def test_readers_that_wait_for_the_network_get_company_up_to_the_limit() -> None:
    feeds = [FeedConfig(name=f"f{n}", url=f"https://feeds.example.org/{n}") for n in range(40)]
    readers: set[str] = set()

    def read(feed: FeedConfig) -> FeedReport:
        readers.add(threading.current_thread().name)
        time.sleep(0.02)  # an answer on its way: no CPU spent
        return FeedReport(feed.name)

    reports = in_threads(read, feeds, 4, window=0.005)
    assert [r.feed for r in reports] == [f.name for f in feeds]
    assert readers == {f"poster-read_{n}" for n in range(4)}


def test_a_single_feed_or_a_reader_that_ends_at_once_starts_no_other_reader() -> None:
    readers: set[str] = set()

    def read(feed: FeedConfig) -> FeedReport:
        readers.add(threading.current_thread().name)
        return FeedReport(feed.name)

    feeds = [FeedConfig(name=f"f{n}", url=f"https://feeds.example.org/{n}") for n in range(3)]
    assert [r.feed for r in in_threads(read, feeds[:1], 4, window=5)] == ["f0"]
    assert [r.feed for r in in_threads(read, feeds, 4, window=5)] == ["f0", "f1", "f2"]
    assert readers == {"poster-read_0"}


def test_a_reading_thread_error_stops_the_reading_and_is_raised() -> None:
    feeds = [FeedConfig(name=f"f{n}", url=f"https://feeds.example.org/{n}") for n in range(200)]
    read_count = itertools.count()

    def read(feed: FeedConfig) -> FeedReport:
        next(read_count)
        if feed.name == "f3":
            raise OSError("disk gone")
        time.sleep(0.002)
        return FeedReport(feed.name)

    with pytest.raises(OSError, match="disk gone"):
        in_threads(read, feeds, 4)
    assert next(read_count) < 100


def test_a_read_is_marked_by_the_feed_s_settings_and_destinations_but_no_secret() -> None:
    from dataclasses import replace

    from poster.pipeline.stages import read_mark

    feed = FeedConfig(name="news", url="https://example.org/feed.xml")
    mark = read_mark(feed, ("viber",))
    assert (
        read_mark(FeedConfig(name="news", url="https://example.org/feed.xml"), ("viber",)) == mark
    )
    assert read_mark(feed, ("sandbox",)) != mark
    assert read_mark(replace(feed, url="https://example.org/other.xml"), ("viber",)) != mark
    assert read_mark(replace(feed, key="link"), ("viber",)) != mark
    # Header values and URL credentials may be secrets: changing them keeps the mark.
    signed = replace(feed, headers=(("Authorization", "Bearer one-secret"),))
    again = replace(feed, headers=(("Authorization", "Bearer another-secret"),))
    assert read_mark(signed, ("viber",)) == read_mark(again, ("viber",)) != mark
    user = replace(feed, url="https://reader:pw-one@example.org/feed.xml")
    other = replace(feed, url="https://reader:pw-two@example.org/feed.xml")
    assert read_mark(user, ("viber",)) == read_mark(other, ("viber",))


def test_the_preview_header_counts_an_item_once_for_each_fate_it_meets() -> None:
    from poster.items import Item
    from poster.pipeline import Outcome
    from poster.select import POST, Decision

    twice, once = (Decision(Item(key, key.upper(), None), POST) for key in ("a", "b"))
    outcomes = (
        Outcome(twice, destination="news"),
        Outcome(twice, destination="archive"),
        Outcome(once, destination="news"),
        Outcome(once, destination="archive", error="template 'x.j2' is not in templates"),
    )
    shown = render_text([FeedReport("city", outcomes=outcomes)])
    assert shown.startswith("== city: 2 would post, 1 error\n")


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_content_a_hub_pushes_compressed_is_read_as_a_poll_would(
    client: FeedClient, coding: str
) -> None:
    import gzip
    import zlib

    from poster.pipeline import Batch
    from poster.pipeline.stages import collect_pushed

    packed = gzip.compress(RSS.encode()) if coding == "gzip" else zlib.compress(RSS.encode())
    headers = (("Content-Type", "application/rss+xml"), ("Content-Encoding", coding))
    made = collect_pushed(
        FEED, deps(client, ScriptedDestination(), MemoryLedger()), packed, headers
    )
    assert isinstance(made, Batch)
    assert [d.item.key for d in made.decisions] == ["g1", "g2", "g3"]
    small = FeedConfig(name="news", url=FEED.url, max_bytes=100)
    over = collect_pushed(
        small, deps(client, ScriptedDestination(), MemoryLedger()), packed, headers
    )
    assert not isinstance(over, Batch) and "100" in str(over.error)
    broken = collect_pushed(
        FEED, deps(client, ScriptedDestination(), MemoryLedger()), b"x", headers
    )
    assert not isinstance(broken, Batch) and f"not valid {coding}" in str(broken.error)
