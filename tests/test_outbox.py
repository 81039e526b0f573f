"""Send through the outbox: a lane per destination, routing, pacing and one render per kind."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.clock import SleepingClock
from support.wait import wait_for

from poster.config import FeedConfig
from poster.daemon.health import health_page
from poster.daemon.metrics import Metrics
from poster.daemon.worker import LaneWorker
from poster.destinations import Kind, Receipt
from poster.destinations.recording import KIND as RECORDING
from poster.destinations.viber.kind import KIND as VIBER
from poster.destinations.viber.messages import Message
from poster.errors import DestinationFatal, RetryLater, StateError
from poster.fetch.client import FeedClient
from poster.fetch.feed import make_client
from poster.pipeline import DEFERRED, UNCERTAIN, Batch, Deps, collect, run_pass
from poster.pipeline.outbox import Lane, Outbox
from poster.pipeline.pacing import Pacer
from poster.render import Renderer
from poster.store import Store
from poster.store.ledger import SENT, MemoryLedger, fatal_key

ROOT = Path(__file__).resolve().parents[1]
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>First</title><guid>g1</guid><pubDate>Mon, 23 Nov 2026 07:00:00 +0000</pubDate></item>
<item><title>Second</title><guid>g2</guid><pubDate>Tue, 24 Nov 2026 07:00:00 +0000</pubDate></item>
<item><title>Third</title><guid>g3</guid><pubDate>Wed, 25 Nov 2026 07:00:00 +0000</pubDate></item>
</channel></rss>"""
FEED = FeedConfig(name="news", url="https://feeds.example.org/rss", backlog=None)


class Scripted:
    """Accept or refuse messages in the order a test scripts."""

    def __init__(self, name: str, *answers: Exception | None, kind: Kind = VIBER) -> None:
        self.name = name
        self.kind = kind
        self.answers = list(answers)
        self.sent: list[Message] = []

    def send(self, message: Any) -> Receipt:
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        self.sent.append(message)
        return Receipt(self.name, str(len(self.sent)), datetime.now(UTC))


class CountingRenderer(Renderer):
    """Count renders by kind."""

    def __init__(self) -> None:
        super().__init__(ROOT / "templates")
        self.counts: dict[str, int] = {}

    def render(self, *args: Any, **kwargs: Any) -> Any:
        kind = args[3]
        self.counts[kind.name] = self.counts.get(kind.name, 0) + 1
        return super().render(*args, **kwargs)


@pytest.fixture
def client() -> Iterator[FeedClient]:
    with make_client(transport=httpx.MockTransport(lambda _: httpx.Response(200, text=RSS))) as h:
        yield h


def deps_for(
    client: FeedClient, ledger: MemoryLedger, routes: tuple[str, ...], renderer: Renderer
) -> Deps:
    return Deps(client, renderer, None, ledger, route=lambda _feed: routes)


def lanes(*destinations: Scripted, pacer: Pacer | None = None) -> dict[str, Lane]:
    return {d.name: Lane(d, pacer) for d in destinations}


def test_a_fatal_destination_stops_only_its_own_lane(client: FeedClient) -> None:
    news = Scripted("news", DestinationFatal("news: token revoked", 2, "invalidAuthToken"))
    sports = Scripted("sports")
    ledger = MemoryLedger()
    deps = deps_for(client, ledger, ("news", "sports"), Renderer(ROOT / "templates"))
    [report] = run_pass([FEED], deps, lanes(news, sports))
    by_destination = {(o.destination, o.decision.item.key): o.delivery for o in report.outcomes}
    assert by_destination == {
        **{("news", key): DEFERRED for key in ("g1", "g2", "g3")},
        **{("sports", key): SENT for key in ("g1", "g2", "g3")},
    }
    assert report.fatal is not None and "news" in str(report.fatal)
    assert len(sports.sent) == 3 and news.sent == []
    assert ledger.validators("news") is None  # items wait for news: the next read offers them


def test_an_item_goes_only_to_destinations_that_do_not_know_it(client: FeedClient) -> None:
    news, archive = Scripted("news"), Scripted("archive", kind=RECORDING)
    ledger = MemoryLedger()
    ledger.record_sent("news", "g1", Receipt("news", "1", datetime.now(UTC)))
    renderer = CountingRenderer()
    [report] = run_pass(
        [FEED], deps_for(client, ledger, ("news", "archive"), renderer), lanes(news, archive)
    )
    assert report.ok
    assert len(news.sent) == 2 and len(archive.sent) == 3
    # Rendered once per item and kind: archive's three, news' two.
    assert renderer.counts == {"recording": 3, "viber": 2}


def test_two_destinations_of_one_kind_share_each_render(client: FeedClient) -> None:
    news, sports = Scripted("news"), Scripted("sports")
    renderer = CountingRenderer()
    deps = deps_for(client, MemoryLedger(), ("news", "sports"), renderer)
    run_pass([FEED], deps, lanes(news, sports))
    assert renderer.counts == {"viber": 3}
    assert [m.text for m in news.sent] == [m.text for m in sports.sent]


def test_a_feed_posts_only_to_its_routes(client: FeedClient) -> None:
    news, sports = Scripted("news"), Scripted("sports")
    deps = deps_for(client, MemoryLedger(), ("sports",), Renderer(ROOT / "templates"))
    run_pass([FEED], deps, lanes(news, sports))
    assert news.sent == [] and len(sports.sent) == 3


def test_each_lane_is_paced_and_capped_on_its_own(client: FeedClient) -> None:
    clock = SleepingClock()
    news, sports = Scripted("news"), Scripted("sports")
    paced = {
        "news": Lane(news, Pacer(30.0, 2, clock=clock, sleep=clock.sleep), clock=clock),
        "sports": Lane(sports, Pacer(0.0, 10, clock=clock, sleep=clock.sleep), clock=clock),
    }
    deps = deps_for(client, MemoryLedger(), ("news", "sports"), Renderer(ROOT / "templates"))
    [report] = run_pass([FEED], deps, paced)
    assert len(news.sent) == 2 and len(sports.sent) == 3
    assert clock.slept == [30.0]
    waiting = [o for o in report.outcomes if o.delivery == DEFERRED]
    assert [(o.destination, o.decision.item.key) for o in waiting] == [("news", "g3")]
    assert "max_per_pass=2" in (waiting[0].error or "")


def one_lane(
    client: FeedClient, news: Scripted, ledger: MemoryLedger, pacer: Pacer, clock: SleepingClock
) -> tuple[Outbox, Lane]:
    """Return an outbox of one lane for ``news``, paced by ``pacer``, holding FEED's items."""
    lane = Lane(news, pacer, clock=clock)
    deps = deps_for(client, ledger, ("news",), Renderer(ROOT / "templates"))
    outbox = Outbox({"news": lane}, lambda: deps)
    batch = collect(FEED, deps)
    assert isinstance(batch, Batch)
    outbox.put(batch)
    return outbox, lane


def test_a_retry_later_requeues_the_item_and_pauses_the_lane(client: FeedClient) -> None:
    clock = SleepingClock()
    news = Scripted("news", RetryLater("busy", 12, "tooManyRequests", retry_after=7.0))
    ledger = MemoryLedger()
    pacer = Pacer(0.0, 10, clock=clock, sleep=clock.sleep)
    outbox, lane = one_lane(client, news, ledger, pacer, clock)
    first = outbox.step(lane, 0.0)
    assert first is not None and first.delivery == DEFERRED
    assert lane.pause_until == pytest.approx(107.0) and len(lane) == 3
    assert outbox.step(lane, 0.0) is None  # paused: nothing is sent before the time
    clock.now = 107.0
    sent = [outbox.step(lane, 0.0) for _ in range(3)]
    assert [o.decision.item.key for o in sent if o is not None] == ["g1", "g2", "g3"]
    assert outbox.busy("news") == frozenset() and len(outbox) == 0
    assert ledger.deliveries[("news", "g1", "news")].state == SENT


def stored_worker(client: FeedClient, lane: Lane, store: Store) -> LaneWorker:
    """Return a worker, not started, for ``lane`` with FEED's items queued over ``store``."""
    deps = Deps(client, Renderer(ROOT / "templates"), None, store, route=lambda _: ("news",))
    outbox = Outbox({"news": lane}, lambda: deps)
    batch = collect(FEED, deps)
    assert isinstance(batch, Batch)
    outbox.put(batch)
    return LaneWorker(outbox, lane, store, Metrics(), tick=0.01)


def test_an_unforeseen_error_stops_the_lane_and_says_why_and_its_worker_lives_on(
    client: FeedClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    news = Scripted("news", RuntimeError("boom"))
    lane = Lane(news)
    with Store(tmp_path / "state") as store:
        worker = stored_worker(client, lane, store)
        with caplog.at_level(logging.ERROR):
            worker.start()
            why = wait_for(lambda: lane.fatal, "the lane to stop")
        try:
            assert worker.alive
            assert "news/g1" in why and "RuntimeError: boom" in why
            assert store.get_meta(fatal_key("news")) == why
            assert "feed=news item=g1 destination=news status=uncertain" in caplog.text
            [record] = store.deliveries(states=(UNCERTAIN,))
            assert (record.key, record.destination) == ("g1", "news")
            worker.resume()  # the operator reloads
            wait_for(lambda: len(news.sent) == 2, "the other items to be sent")
        finally:
            worker.stop()


class FaultyOutbox(Outbox):
    """An outbox whose step fails outside any send (a gate's file that cannot be written)."""

    def step(self, lane: Lane, tick: float) -> None:
        raise OSError("gate file cannot be written")


def test_a_fault_outside_a_send_stops_the_lane_and_its_worker_lives_on(tmp_path: Path) -> None:
    lane = Lane(Scripted("news"))
    with Store(tmp_path / "state") as store:
        outbox = FaultyOutbox({"news": lane}, lambda: None)  # type: ignore[arg-type, return-value]
        worker = LaneWorker(outbox, lane, store, Metrics())
        worker.start()
        try:
            why = wait_for(lambda: lane.fatal, "the lane to stop")
            assert worker.alive and "OSError: gate file cannot be written" in why
            assert store.get_meta(fatal_key("news")) == why
        finally:
            worker.stop()


class FullLedger(MemoryLedger):
    """A ledger on a full disk: recording an intent fails, until room is made."""

    full = True

    def record_pending(self, feed: str, key: str, destination: str) -> None:
        if self.full:
            raise StateError(Path("state"), "the disk holding state is full; free space")
        super().record_pending(feed, key, destination)


def test_an_intent_that_cannot_be_recorded_waits_and_nothing_is_sent(client: FeedClient) -> None:
    clock = SleepingClock()
    news, ledger = Scripted("news"), FullLedger()
    pacer = Pacer(0.0, 10, clock=clock, sleep=clock.sleep)
    outbox, lane = one_lane(client, news, ledger, pacer, clock)
    first = outbox.step(lane, 0.0)
    assert first is not None and first.delivery == DEFERRED and "full" in str(first.error)
    assert news.sent == [] and len(lane) == 3 and lane.fatal is None
    ledger.full = False
    clock.now = lane.pause_until
    sent = [outbox.step(lane, 0.0) for _ in range(3)]
    assert [o.delivery for o in sent if o is not None] == [SENT, SENT, SENT]


def test_a_worker_whose_posts_cannot_be_recorded_says_so_until_one_is(
    client: FeedClient,
) -> None:
    clock = SleepingClock()
    news, ledger = Scripted("news"), FullLedger()
    pacer = Pacer(0.0, 10, clock=clock, sleep=clock.sleep)
    outbox, lane = one_lane(client, news, ledger, pacer, clock)
    worker = LaneWorker(outbox, lane, ledger, Metrics(), tick=0.01)  # type: ignore[arg-type]
    worker.start()
    try:
        why = wait_for(lambda: lane.unwritten, "the lane to say its posts cannot be recorded")
        assert "full" in why and news.sent == []
        code, _, body = health_page(True, {"news": None}, lane.unwritten)
        assert code == 503 and body.decode().startswith("posts wait: state file state: ")
        ledger.full = False
        clock.now = lane.pause_until
        wait_for(lambda: len(news.sent) == 3, "the three posts once there is room")
        assert lane.unwritten is None
    finally:
        worker.stop()


def test_an_item_whose_template_cannot_be_used_holds_up_no_other(
    client: FeedClient, tmp_path: Path
) -> None:
    (tmp_path / "default.j2").write_text("{{ item.title }}")
    (tmp_path / "broken.j2").write_text("{% if %}")
    clock = SleepingClock()
    news = Scripted("news")
    lane = Lane(news, Pacer(0.0, 10, clock=clock, sleep=clock.sleep), clock=clock)
    deps = deps_for(client, MemoryLedger(), ("news",), Renderer(tmp_path))
    outbox = Outbox({"news": lane}, lambda: deps)
    broken = replace(FEED, name="early", template="broken.j2")
    for feed in (broken, replace(FEED, name="later")):
        batch = collect(feed, deps)
        assert isinstance(batch, Batch)
        outbox.put(batch)
    outcomes = [outbox.step(lane, 0.0) for _ in range(6)]
    waited = [o for o in outcomes if o is not None and o.item_waits]
    assert len(waited) == 3 and all(o.delivery == DEFERRED for o in waited)
    assert [m.text for m in news.sent] == ["First", "Second", "Third"], "the other feed goes on"
    assert lane.pause_until == 0.0 and lane.failures == 0
    assert outbox.step(lane, 0.0) is None, "not tried again before its wait"
    assert len(lane) == 3


class UnwritableStore:
    """A state whose every write fails, as on a full disk."""

    def set_meta(self, name: str, value: str) -> None:
        raise StateError(Path("state"), "the disk holding state is full; free space")


class FullOutbox(Outbox):
    """An outbox whose step fails because the state cannot be written, twice."""

    failures = 2

    def step(self, lane: Lane, tick: float) -> None:
        if self.failures:
            self.failures -= 1
            raise StateError(Path("state"), "the disk holding state is full; free space")


def test_a_state_that_cannot_be_written_pauses_the_lane_and_its_worker_lives_on() -> None:
    clock = SleepingClock()
    lane = Lane(Scripted("news"), clock=clock)
    outbox = FullOutbox({"news": lane}, lambda: None)  # type: ignore[arg-type, return-value]
    worker = LaneWorker(outbox, lane, UnwritableStore(), Metrics(), tick=0.01)  # type: ignore[arg-type]
    worker.start()
    try:
        wait_for(lambda: lane.pause_until > 0, "the lane to pause")
        assert worker.alive and lane.fatal is None
        clock.now = lane.pause_until
        wait_for(lambda: outbox.failures == 0, "the lane to try again")
        worker._set_fatal(DestinationFatal("news: token revoked"))
        assert worker.alive and lane.fatal == "news: token revoked"
    finally:
        worker.stop()


class Halting(Scripted):
    """A destination told when poster stops, as a gateway is between two groups."""

    halted = False

    def halt(self) -> None:
        self.halted = True


def test_stopping_a_worker_halts_its_destination_before_waiting_for_it(tmp_path: Path) -> None:
    news = Halting("news")
    lane = Lane(news)
    with Store(tmp_path / "state") as store:
        worker = LaneWorker(Outbox({"news": lane}, lambda: None), lane, store, Metrics())  # type: ignore[arg-type, return-value]
        worker.start()
        worker.stop()
    assert news.halted and not worker.alive


def test_the_daemon_keeps_the_gap_between_posts_past_max_per_pass(client: FeedClient) -> None:
    clock = SleepingClock()
    news = Scripted("news")
    pacer = Pacer(5.0, 1, clock=clock, sleep=clock.sleep)
    outbox, lane = one_lane(client, news, MemoryLedger(), pacer, clock)
    sent = []
    for _ in range(3):
        assert outbox.step(lane, 0.0) is not None
        sent.append(clock.now)
        assert outbox.step(lane, 0.0) is None, "the gap holds, max_per_pass or not"
        assert len(lane) == 3 - len(sent), "what waits for the gap stays in the lane"
        clock.now += 5.0
    assert len(news.sent) == 3 and sent == [sent[0], sent[0] + 5.0, sent[0] + 10.0]


def test_a_post_that_goes_clears_a_refusal_kept_from_before(
    client: FeedClient, tmp_path: Path
) -> None:
    news = Scripted("news")
    lane = Lane(news)
    with Store(tmp_path / "state") as store:
        store.set_meta(fatal_key("news"), "news: refused by an earlier run --once")
        worker = stored_worker(client, lane, store)
        worker.start()
        try:
            wait_for(lambda: len(news.sent) == 3, "the items to be sent")
            wait_for(lambda: store.get_meta(fatal_key("news")) == "", "the refusal to clear")
        finally:
            worker.stop()


def test_a_feed_with_undated_items_is_posted_in_the_order_the_preview_shows() -> None:
    mixed = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Late</title><guid>a1</guid><pubDate>Tue, 24 Nov 2026 10:00:00 +0000</pubDate></item>
<item><title>Early</title><guid>42</guid><pubDate>Tue, 24 Nov 2026 08:00:00 +0000</pubDate></item>
<item><title>Undated</title><guid>v1</guid></item>
</channel></rss>"""
    served = httpx.MockTransport(lambda _: httpx.Response(200, text=mixed))
    news = Scripted("news")
    with make_client(transport=served) as http:
        deps = deps_for(http, MemoryLedger(), ("news",), Renderer(ROOT / "templates"))
        batch = collect(FEED, deps)
        shown = [decision.item.title for decision in batch.wanted()]
        run_pass(
            [FEED],
            deps_for(http, MemoryLedger(), ("news",), Renderer(ROOT / "templates")),
            lanes(news),
        )
    assert shown == ["Undated", "Early", "Late"]
    assert [m.text.split("\n")[0].strip("*") for m in news.sent] == shown
