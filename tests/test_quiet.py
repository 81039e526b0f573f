"""Hold posts in a destination's quiet hours and over its daily cap, and skip stale ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from support.clock import SleepingClock
from test_outbox import FEED, RSS, Scripted

from poster.config import load_config
from poster.config.settings import Gate, QuietHours
from poster.errors import ConfigError
from poster.fetch.client import FeedClient
from poster.fetch.feed import make_client
from poster.pipeline import DEFERRED, SENT, Deps, run_pass
from poster.pipeline.gate import expected as hold_for
from poster.pipeline.gatekeeper import Gatekeeper
from poster.pipeline.outbox import Lane
from poster.pipeline.pacing import Pacer
from poster.render import Renderer
from poster.store.ledger import SKIPPED, MemoryLedger

ROOT = Path(__file__).resolve().parents[1]
MINSK = "Europe/Minsk"  # UTC+3 all year
NIGHT = QuietHours(time(23), time(7))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Return a moment of November 2026, given in Minsk time, in UTC."""
    return (
        datetime(2026, 11, day, hour - 3, minute, tzinfo=UTC)
        if hour >= 3
        else datetime(2026, 11, day - 1, hour + 21, minute, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("gate", "now", "sent", "position", "expected"),
    [
        (Gate(), at(25, 23, 30), 0, 0, None),
        (Gate(NIGHT, MINSK), at(25, 12), 0, 0, None),
        (
            Gate(NIGHT, MINSK),
            at(25, 23, 30),
            0,
            0,
            "waits for quiet hours to end at 07:00 Europe/Minsk",
        ),
        (Gate(NIGHT, MINSK), at(26, 6, 59), 0, 0, "waits for quiet hours to end at 07:00"),
        (Gate(NIGHT, MINSK), at(26, 7), 0, 0, None),
        (
            Gate(QuietHours(time(12), time(14)), MINSK),
            at(25, 13),
            0,
            0,
            "waits for quiet hours to end at 14:00 Europe/Minsk",
        ),
        (Gate(None, MINSK, max_per_day=2), at(25, 12), 1, 0, None),
        (
            Gate(None, MINSK, max_per_day=2),
            at(25, 12),
            2,
            0,
            "waits for the daily cap (max_per_day=2) to reset at 00:00 Europe/Minsk",
        ),
        (
            Gate(NIGHT, MINSK, max_per_day=2),
            at(25, 12),
            2,
            0,
            "waits for quiet hours to end at 07:00 Europe/Minsk",
        ),
        (
            Gate(NIGHT, MINSK, max_per_day=2),
            at(25, 23, 30),
            0,
            3,
            "waits for quiet hours to end at 07:00 Europe/Minsk on 2026-11-27",
        ),
    ],
    ids=[
        "no-gate",
        "day",
        "night",
        "a-minute-before-the-end",
        "at-the-end",
        "same-day-window",
        "under-the-cap",
        "at-the-cap",
        "cap-resets-inside-quiet-hours",
        "fourth-in-line-goes-two-mornings-on",
    ],
)
def test_a_gate_says_when_a_post_may_go(
    gate: Gate, now: datetime, sent: int, position: int, expected: str | None
) -> None:
    hold = hold_for(gate, now, sent, position)
    if expected is None:
        assert hold is None
    else:
        assert hold is not None and str(hold).startswith(expected)


# Configuration


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    path = tmp_path / "feeds.toml"
    path.write_text(text + '\n[[feeds]]\nname = "a"\nurl = "https://example.org/a.xml"\n')
    return path


def test_the_gate_keys_are_read_for_a_destination_and_the_shorthand(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[destinations.news]\nkind = "viber"\nquiet = "23:00-07:00"\n'
            'timezone = "Europe/Minsk"\nmax_per_day = 20\nmax_wait = "12h"\n',
        )
    )
    assert config.destinations[0].gate == Gate(NIGHT, MINSK, 20, timedelta(hours=12))
    config = load_config(write(tmp_path, "[viber]\nmax_per_day = 5\n"))
    assert config.destinations[0].gate == Gate(max_per_day=5)


@pytest.mark.parametrize(
    ("section", "key", "fragment"),
    [
        ('quiet = "23:00"', "quiet", "'23:00' is not a window of hours"),
        ('quiet = "25:00-07:00"', "quiet", "25:00 is not a time of day"),
        ('quiet = "07:00-07:00"', "quiet", "starts and ends at the same time"),
        ("quiet = 23", "quiet", "expected a window"),
        ('quiet = "1-2"\ntimezone = "Europe/Minks"', "timezone", 'did you mean "Europe/Minsk"'),
        ("max_per_day = 0", "max_per_day", "must be a positive integer"),
        ('max_wait = "12h"', "max_wait", "only applies with quiet or max_per_day"),
        ('timezone = "UTC"', "timezone", "only applies with quiet or max_per_day"),
    ],
    ids=["no-end", "bad-hour", "empty", "not-text", "bad-zone", "zero-cap", "wait", "zone"],
)
def test_a_bad_gate_key_names_the_file_the_destination_and_the_key(
    tmp_path: Path, section: str, key: str, fragment: str
) -> None:
    path = write(tmp_path, f'[destinations.news]\nkind = "viber"\n{section}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = [p for p in caught.value.problems if p.key != "destinations.news.quiet"] or list(
        caught.value.problems
    )
    [problem] = problems
    assert problem.file == str(path) and problem.key == f"destinations.news.{key}"
    assert fragment in str(problem)


# Lanes with a gate, on an injected clock


@pytest.fixture
def client() -> Iterator[FeedClient]:
    with make_client(transport=httpx.MockTransport(lambda _: httpx.Response(200, text=RSS))) as h:
        yield h


class Night:
    """A lane to ``news`` behind a gate, on a clock the test moves."""

    def __init__(self, client: FeedClient, gate: Gate, now: datetime) -> None:
        self.now = now
        self.ticks = SleepingClock()
        self.news = Scripted("news")
        self.ledger = MemoryLedger()
        self.gate = Gatekeeper("news", gate, now=lambda: self.now)
        pacer = Pacer(30.0, 10, clock=self.ticks, sleep=self.ticks.sleep)
        self.lane = Lane(self.news, pacer, clock=self.ticks, gate=self.gate)
        self.deps = Deps(
            client, Renderer(ROOT / "templates"), None, self.ledger, route=lambda _f: ("news",)
        )

    def run(self) -> dict[str, tuple[str | None, str | None]]:
        [report] = run_pass([FEED], self.deps, {"news": self.lane})
        return {
            o.decision.item.key: (o.delivery, o.error)
            for o in report.outcomes
            if o.delivery is not None
        }

    def sent(self) -> list[str]:
        return [message.text.split("\n")[0].strip("*") for message in self.news.sent]


def test_quiet_hours_hold_every_post_until_morning_then_all_go_in_order_paced(
    client: FeedClient,
) -> None:
    night = Night(client, Gate(NIGHT, MINSK), at(25, 23, 30))
    wait = "waits for quiet hours to end at 07:00 Europe/Minsk"
    assert night.run() == {key: (DEFERRED, wait) for key in ("g1", "g2", "g3")}
    night.now = at(26, 6, 59)
    assert set(night.run().values()) == {(DEFERRED, wait)}
    assert night.news.sent == []
    night.now = at(26, 7)
    assert night.run() == {key: (SENT, None) for key in ("g1", "g2", "g3")}
    assert night.sent() == ["First", "Second", "Third"]
    assert night.ticks.slept == [30.0, 30.0]


def test_the_daily_cap_holds_the_rest_for_the_next_day(client: FeedClient) -> None:
    night = Night(client, Gate(None, MINSK, max_per_day=2), at(25, 12))
    reset = "waits for the daily cap (max_per_day=2) to reset at 00:00 Europe/Minsk"
    assert night.run() == {"g1": (SENT, None), "g2": (SENT, None), "g3": (DEFERRED, reset)}
    night.now = at(25, 23, 59)
    assert night.run() == {"g3": (DEFERRED, reset)}
    night.now = at(26, 0)
    assert night.run() == {"g3": (SENT, None)}
    assert night.sent() == ["First", "Second", "Third"]


def test_a_post_held_longer_than_max_wait_is_skipped_and_recorded(client: FeedClient) -> None:
    gate = Gate(NIGHT, MINSK, max_wait=timedelta(hours=6))
    night = Night(client, gate, at(25, 23, 30))
    night.run()
    night.now = at(26, 7)
    outcomes = night.run()
    assert {key: state for key, (state, _) in outcomes.items()} == dict.fromkeys(
        ("g1", "g2", "g3"), SKIPPED
    )
    reason = outcomes["g1"][1] or ""
    assert "held since 2026-11-25 20:30 UTC, longer than max_wait=6:00:00" in reason
    assert night.ledger.deliveries[("news", "g1", "news")].state == SKIPPED
    assert night.news.sent == []


def test_a_post_held_less_than_max_wait_goes_out(client: FeedClient) -> None:
    gate = Gate(NIGHT, MINSK, max_wait=timedelta(hours=8))
    night = Night(client, gate, at(25, 23, 30))
    night.run()
    night.now = at(26, 7)
    assert {state for state, _ in night.run().values()} == {SENT}


def test_a_cap_set_during_the_day_counts_the_posts_of_that_day_made_before_it(
    tmp_path: Path,
) -> None:
    from poster.destinations import Receipt
    from poster.store import Store

    moment = [at(24, 23, 30)]
    with Store(tmp_path / "state", clock=lambda: moment[0]) as store:
        for key, when in (("y1", at(24, 23, 30)), ("t1", at(25, 0, 5)), ("t2", at(25, 11))):
            moment[0] = when
            store.record_pending("news", key, "news")
            store.record_sent("news", key, Receipt("news", key, when))
        moment[0] = at(25, 12)

        def gate(cap: int) -> Gatekeeper:
            return Gatekeeper(
                "news", Gate(None, MINSK, max_per_day=cap), store,
                now=lambda: moment[0], sent_since=store.sent_since,
            )  # fmt: skip

        assert gate(2).hold() is not None  # t1 and t2 went out today; y1 yesterday
        assert gate(3).hold() is None
