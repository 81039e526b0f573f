"""Publishers' hints on how often to poll: HTTP freshness, RSS ttl/skipHours/skipDays, sy:."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from poster.config import Config, FeedConfig, Schedule, load_config
from poster.daemon.nextread import may_read, next_poll, schedule_name
from poster.fetch.headers import parse_freshness
from poster.models import FeedHints, FetchResult, Freshness, NextPoll, Validators
from poster.ops.status import format_status, status_view
from poster.ops.statusjson import status_json
from poster.parse.fastxml import parse_fast
from poster.parse.xmlfeed import parse_xml
from poster.store import Store

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
CAP = timedelta(hours=24)
EVERY_15 = NOW + timedelta(minutes=15)


def at(hours: float = 0, minutes: float = 0) -> datetime:
    """Return NOW plus a span."""
    return NOW + timedelta(hours=hours, minutes=minutes)


# The pure decision: schedule, hints, now -> next poll and why

NEXT_POLL_CASES = [
    pytest.param(None, FeedHints(), EVERY_15, NextPoll(EVERY_15, "every 15min"), id="no-hints"),
    pytest.param(
        Freshness(1800, "Cache-Control max-age=1800"),
        FeedHints(),
        EVERY_15,
        NextPoll(at(minutes=30), "Cache-Control max-age=1800", hinted=True),
        id="max-age-beyond-schedule",
    ),
    pytest.param(
        Freshness(300, "Cache-Control max-age=300"),
        FeedHints(),
        EVERY_15,
        NextPoll(EVERY_15, "every 15min"),
        id="max-age-within-schedule",
    ),
    pytest.param(
        Freshness(900.5, "Cache-Control max-age=900"),
        FeedHints(),
        EVERY_15,
        NextPoll(EVERY_15, "every 15min"),
        id="hint-as-long-as-interval-keeps-schedule",
    ),
    pytest.param(
        None,
        FeedHints(ttl=60),
        EVERY_15,
        NextPoll(at(hours=1), "ttl 60 min", hinted=True),
        id="ttl",
    ),
    pytest.param(
        Freshness(1800, "Cache-Control max-age=1800"),
        FeedHints(ttl=60),
        EVERY_15,
        NextPoll(at(hours=1), "ttl 60 min", hinted=True),
        id="the-latest-hint-wins",
    ),
    pytest.param(
        None,
        FeedHints(ttl=60 * 24 * 7),
        EVERY_15,
        NextPoll(at(hours=24), "ttl 10080 min (capped at 1d)", hinted=True),
        id="a-week-is-capped",
    ),
    pytest.param(
        None,
        FeedHints(update_period="hourly", update_frequency=2),
        EVERY_15,
        NextPoll(at(minutes=30), "sy:updatePeriod hourly, sy:updateFrequency 2", hinted=True),
        id="sy-period-and-frequency",
    ),
    pytest.param(
        None,
        FeedHints(update_period="daily", update_base=datetime(2000, 1, 1, 17, 0, tzinfo=UTC)),
        EVERY_15,
        NextPoll(at(hours=9), "sy:updatePeriod daily from 2000-01-01 17:00 UTC", hinted=True),
        id="sy-base",
    ),
    pytest.param(
        None,
        FeedHints(skip_hours=frozenset(range(8, 12))),
        EVERY_15,
        NextPoll(at(hours=4), "skipHours 8–11 GMT", hinted=True),
        id="skip-hours",
    ),
    pytest.param(
        None,
        FeedHints(skip_hours=frozenset(range(24))),
        EVERY_15,
        NextPoll(EVERY_15, "every 15min"),
        id="skipping-every-hour-is-ignored",
    ),
    pytest.param(
        None,
        FeedHints(skip_days=frozenset({0})),
        EVERY_15,
        NextPoll(at(hours=16), "skipDays Monday", hinted=True),
        id="skip-days",
    ),
    pytest.param(
        None,
        FeedHints(skip_days=frozenset({0, 1}), skip_hours=frozenset({0, 1, 23})),
        EVERY_15,
        NextPoll(
            at(hours=24),
            "skipDays Monday, Tuesday; skipHours 0–1, 23 GMT (capped at 1d)",
            hinted=True,
        ),
        id="skip-days-capped",
    ),
    pytest.param(
        None,
        FeedHints(ttl=60 * 20, skip_hours=frozenset({4, 5})),
        EVERY_15,
        NextPoll(at(hours=22), "skipHours 4–5 GMT", hinted=True),
        id="ttl-then-skip-hours",
    ),
    pytest.param(
        Freshness(7200, "Cache-Control max-age=7200"),
        FeedHints(),
        at(hours=3),
        NextPoll(at(hours=3), "cron '0 11 * * *'"),
        id="cron-later-than-hint",
    ),
]


@pytest.mark.parametrize(("freshness", "hints", "scheduled", "expected"), NEXT_POLL_CASES)
def test_next_poll_is_the_schedule_or_the_latest_hint_capped(
    freshness: Freshness | None, hints: FeedHints, scheduled: datetime, expected: NextPoll
) -> None:
    name = "cron '0 11 * * *'" if "cron" in expected.why else "every 15min"
    assert next_poll(scheduled, NOW, freshness, hints, cap=CAP, schedule=name) == expected


@pytest.mark.parametrize(
    ("poll", "now", "allowed"),
    [
        (None, NOW, True),
        (NextPoll(at(hours=1), "every 1h"), NOW, True),
        (NextPoll(at(hours=1), "ttl 60 min", hinted=True), at(minutes=59), False),
        (NextPoll(at(hours=1), "ttl 60 min", hinted=True), at(minutes=59.6), True),
        (NextPoll(at(hours=1), "ttl 60 min", hinted=True), at(hours=2), True),
    ],
    ids=["none", "schedule", "before", "within-slack", "after"],
)
def test_may_read_only_once_a_hinted_time_is_reached(
    poll: NextPoll | None, now: datetime, allowed: bool
) -> None:
    assert may_read(poll, now) is allowed


def test_schedule_name_says_interval_or_cron() -> None:
    assert schedule_name(Schedule(interval=timedelta(hours=1))) == "every 1h"
    assert schedule_name(Schedule(interval=None, cron="*/5 * * * *")) == "cron '*/5 * * * *'"


# HTTP freshness (RFC 9111 §4.2)

DATE = "Mon, 02 Mar 2026 08:00:00 GMT"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"cache-control": "max-age=1800"}, Freshness(1800, "Cache-Control max-age=1800")),
        (
            {"cache-control": 'public, MAX-AGE="600", s-maxage=9999'},
            Freshness(600, 'Cache-Control max-age=600'),
        ),
        ({"cache-control": "s-maxage=3600"}, None),
        ({"cache-control": "no-cache, max-age=3600"}, None),
        ({"cache-control": "no-store"}, None),
        ({"cache-control": "max-age=soon"}, None),
        ({"cache-control": "max-age=0"}, None),
        (
            {"cache-control": "max-age=3600", "age": "600"},
            Freshness(3000, "Cache-Control max-age=3600, Age 600"),
        ),
        (
            {"expires": "Mon, 02 Mar 2026 09:00:00 GMT", "date": DATE},
            Freshness(3600, "Expires Mon, 02 Mar 2026 09:00:00 GMT"),
        ),
        (
            {"expires": "Mon, 02 Mar 2026 09:00:00 GMT", "cache-control": "max-age=60"},
            Freshness(60, "Cache-Control max-age=60"),
        ),
        ({"expires": "0", "date": DATE}, None),
        ({"expires": "Mon, 02 Mar 2026 07:00:00 GMT", "date": DATE}, None),
    ],
    ids=[
        "none", "max-age", "quoted-with-others", "s-maxage-only", "no-cache", "no-store",
        "invalid", "zero", "age", "expires", "max-age-beats-expires", "expires-invalid",
        "expired",
    ],
)  # fmt: skip
def test_parse_freshness(headers: dict[str, str], expected: Freshness | None) -> None:
    assert parse_freshness(headers, now=NOW) == expected


LONGEST = Freshness(2**31, "Cache-Control max-age=2147483648")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"cache-control": "max-age=99999999999999"}, LONGEST),
        ({"cache-control": "max-age=" + "9" * 5000}, LONGEST),
        (
            {"expires": "Fri, 31 Dec 9999 23:59:59 GMT", "date": DATE},
            Freshness(2**31, "Expires Fri, 31 Dec 9999 23:59:59 GMT"),
        ),
        ({"cache-control": "max-age=60", "age": "9" * 5000}, None),
    ],
    ids=["max-age", "max-age-past-int-digits", "expires-year-9999", "huge-age"],
)  # fmt: skip
def test_a_huge_lifetime_is_read_as_two_to_the_31_seconds(
    headers: dict[str, str], expected: Freshness | None
) -> None:
    # RFC 9111 §1.2.2: a cache takes delta-seconds past 2^31 as 2^31.
    assert parse_freshness(headers, now=NOW) == expected


@pytest.mark.parametrize(
    ("freshness", "hints"),
    [
        (Freshness(1e300, "Cache-Control max-age=1e300"), FeedHints()),
        (None, FeedHints(ttl=10**400)),
        (None, FeedHints(update_period="hourly", update_frequency=10**400, update_base=NOW)),
        (
            None,
            FeedHints(
                update_period="yearly",
                update_base=datetime(9999, 12, 31, 23, tzinfo=UTC),
                skip_hours=frozenset({23}),
            ),
        ),
    ],
    ids=["freshness", "ttl", "update-frequency", "update-base-year-9999"],
)
def test_a_huge_hint_is_capped_and_never_overflows(
    freshness: Freshness | None, hints: FeedHints
) -> None:
    poll = next_poll(EVERY_15, NOW, freshness, hints, cap=CAP)
    assert EVERY_15 <= poll.at <= NOW + CAP


def test_expires_without_date_counts_from_now() -> None:
    found = parse_freshness({"expires": "Mon, 02 Mar 2026 08:30:00 GMT"}, now=NOW)
    assert found is not None and found.seconds == 1800


# Feed document hints, on both XML paths

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
<channel><title>News</title><link>https://example.org/</link><description>d</description>
{extra}
<item><title>One</title><guid>1</guid><description>x</description></item>
</channel></rss>
"""


def parse_both(extra: str) -> tuple[FeedHints, FeedHints]:
    """Return the hints the fast path and the feedparser path read from an RSS channel."""
    body = RSS.format(extra=extra).encode()
    result = FetchResult("news", "https://example.org/rss", 200, body, Validators())
    feed = FeedConfig("news", "https://example.org/rss")
    fast = parse_fast(result, feed)
    assert fast is not None, "the fast path must read this document"
    return fast.hints, parse_xml(result, feed).hints


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("", FeedHints()),
        ("<ttl>60</ttl>", FeedHints(ttl=60)),
        ("<ttl>soon</ttl>", FeedHints()),
        (
            "<skipHours><hour>0</hour><hour>1</hour>\n<hour>6</hour><hour>24</hour>"
            "<hour>99</hour></skipHours>",
            FeedHints(skip_hours=frozenset({0, 1, 6})),
        ),
        (
            "<skipDays><day>Saturday</day><day> Sunday </day><day>Caturday</day></skipDays>",
            FeedHints(skip_days=frozenset({5, 6})),
        ),
        (
            "<sy:updatePeriod>Daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>"
            "<sy:updateBase>2000-01-01T12:00+00:00</sy:updateBase>",
            FeedHints(
                update_period="daily",
                update_frequency=4,
                update_base=datetime(2000, 1, 1, 12, 0, tzinfo=UTC),
            ),
        ),
        ("<sy:updatePeriod>fortnightly</sy:updatePeriod>", FeedHints()),
        ("<ttl>" + "9" * 5000 + "</ttl>", FeedHints(ttl=10**9)),
        ("<ttl>0060</ttl>", FeedHints(ttl=60)),
    ],
    ids=[
        "none",
        "ttl",
        "ttl-invalid",
        "skip-hours",
        "skip-days",
        "sy",
        "sy-unknown-period",
        "ttl-past-int-digits",
        "ttl-leading-zeros",
    ],
)
def test_both_parse_paths_read_the_same_hints(extra: str, expected: FeedHints) -> None:
    fast, slow = parse_both(extra)
    assert fast == slow == expected


# Configuration and status


def config_of(folder: Path, text: str) -> Config:
    """Load a feeds.toml of ``text`` beside a template folder with default.j2."""
    (folder / "templates").mkdir()
    (folder / "templates" / "default.j2").write_text("{{ item.title }}")
    (folder / "feeds.toml").write_text(text)
    return load_config(folder / "feeds.toml")


def test_hints_key_and_cap_are_read_from_feeds_toml(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        '[daemon]\nhints_max = "6h"\n\n'
        '[[feeds]]\nname = "a"\nurl = "https://example.org/a"\n\n'
        '[[feeds]]\nname = "b"\nurl = "https://example.org/b"\nhints = false\n',
    )
    assert config.daemon.hints_max == timedelta(hours=6)
    assert [feed.hints for feed in config.feeds] == [True, False]


def test_status_shows_the_next_read_and_why(tmp_path: Path) -> None:
    feeds = ("news", "blog")
    tables = (f'[[feeds]]\nname = "{n}"\nurl = "https://e.org/{n}"\n' for n in feeds)
    config = config_of(tmp_path, "".join(tables))
    with Store(tmp_path / "state", clock=lambda: NOW) as store:
        store.record_fetch_ok("news", NOW, NextPoll(at(hours=1), "ttl 60 min", hinted=True))
        store.record_fetch_ok("blog", NOW, NextPoll(EVERY_15, "every 15min"))
    with Store(tmp_path / "state", read_only=True) as store:
        view = status_view(config, store, NOW)
    text = format_status(view)
    assert "2026-03-02 09:00 UTC (in 1h)" in text
    assert "next read put off by the publisher: ttl 60 min" in text
    assert "2026-03-02 08:15 UTC (in 15min)" in text
    assert text.count("put off by the publisher") == 1
    news, blog = status_json(view)["feeds"]
    assert (news["next_poll"], news["next_poll_why"], news["next_poll_hinted"]) == (
        "2026-03-02T09:00:00+00:00",
        "ttl 60 min",
        True,
    )
    assert (blog["next_poll_why"], blog["next_poll_hinted"]) == ("every 15min", False)
