"""Check push's pure parts: discovery, the plan at given times, status lines and config keys."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.wait import wait_for

from poster.config import FeedConfig, load_config
from poster.errors import ConfigError
from poster.models import FetchResult, Validators
from poster.ops.status import format_status, status_view
from poster.ops.statusjson import status_json
from poster.parse import parse
from poster.push import plan, subscriptions
from poster.push.discover import Advert, discover, header_links
from poster.push.handoff import Handoff, Pushed
from poster.push.subscriptions import State, new_subscription
from poster.store import Store

URL = "https://news.example.org/feed"
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RSS = b"""<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>t</title>%s<item><guid>1</guid><title>one</title></item></channel></rss>"""
ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>%s
<id>urn:x</id><entry><id>urn:1</id><title>one</title><updated>2026-03-01T00:00:00Z</updated>
</entry></feed>"""
HUB_LINKS = (
    b'<atom:link rel="hub" href="https://hub.example/"/><atom:link rel="self" href="/self"/>'
)


def read(body: bytes, headers: tuple[tuple[str, str], ...] = ()) -> Advert | None:
    """Parse a body as poster reads feeds and return what it advertises."""
    result = FetchResult("news", URL, 200, body, Validators(), headers=headers)
    return discover(result, parse(result, FeedConfig("news", URL)))


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (RSS % HUB_LINKS, (), Advert("https://hub.example/", "https://news.example.org/self")),
        (
            ATOM % b'<link rel="hub" href="https://hub.example/a"/>',
            (),
            Advert("https://hub.example/a", None),
        ),
        (
            RSS % HUB_LINKS,
            (("Link", "<https://h2.example/>; rel=hub"),),
            Advert("https://h2.example/", None),
        ),
        (RSS % HUB_LINKS, (("Link", '<https://t.example/x>; rel="self"'),), None),
        (
            RSS % HUB_LINKS,
            (("link", '<https://h2.example/>; rel="hub", <https://t.example/x>; rel="self"'),),
            Advert("https://h2.example/", "https://t.example/x"),
        ),
        (
            RSS % b"",
            (("Link", "<https://h3.example/>; rel=hub"), ("Link", '</s>; rel="self next"')),
            Advert("https://h3.example/", "https://news.example.org/s"),
        ),
        (
            json.dumps(
                {
                    "version": "https://jsonfeed.org/version/1.1",
                    "feed_url": "https://news.example.org/feed.json",
                    "hubs": [
                        {"type": "rssCloud", "url": "https://c/"},
                        {"type": "WebSub", "url": "https://j/"},
                    ],
                    "items": [{"id": "1", "title": "one"}],
                }
            ).encode(),
            (),
            Advert("https://j/", "https://news.example.org/feed.json"),
        ),
        (RSS % b"", (("link", '<https://x/>; rel="alternate"'),), None),
        (RSS % b'<atom:link rel="hub" href="ftp://hub.example/"/>', (), None),
    ],
    ids=[
        "rss-atom-link",
        "atom-no-self",
        "header-hub-not-document-self",
        "header-self-not-document-hub",
        "headers-win",
        "headers-only",
        "jsonfeed",
        "none",
        "not-http",
    ],
)
def test_discovery_finds_the_hub_and_topic(
    body: bytes, headers: tuple[tuple[str, str], ...], expected: Advert | None
) -> None:
    assert read(body, headers) == expected


@pytest.mark.parametrize(
    ("values", "hubs", "selves"),
    [
        (['<https://ex.com/feed>; title="a, b"; rel="self"'], [], ["https://ex.com/feed"]),
        (['<https://h.example/>; title="x; rel=self"; rel="hub"'], ["https://h.example/"], []),
        (
            ['<https://ex.com/a,b;c>; rel=self, <https://h.example/>; title="<, >"; rel=hub'],
            ["https://h.example/"],
            ["https://ex.com/a,b;c"],
        ),
        (
            ['<https://h.example/>; title="say \\"hi\\", then"; rel=hub, </s>; rel=self'],
            ["https://h.example/"],
            ["https://news.example.org/s"],
        ),
        (
            ["<https://h.example/>;rel=hub", '</s> ; REL = "Alternate  SELF"'],
            ["https://h.example/"],
            ["https://news.example.org/s"],
        ),
        (['<https://h.example/>; rel="HUB self"'], ["https://h.example/"], ["https://h.example/"]),
        (["<https://h.example/>; rel=hub; rel=self"], ["https://h.example/"], []),
        (['<https://h.example/>; rel="hub'], ["https://h.example/"], []),
        (["https://h.example/; rel=hub", '<https://x/>; rel="next"'], [], []),
    ],
    ids=[
        "quoted-comma", "quoted-semicolon", "several-in-one", "escaped-quote",
        "several-headers", "several-rels", "first-rel-only", "unclosed-quote", "no-target",
    ],
)  # fmt: skip
def test_link_headers_are_read_as_rfc_8288_writes_them(
    values: list[str], hubs: list[str], selves: list[str]
) -> None:
    assert header_links(tuple(("Link", value) for value in values), URL) == (hubs, selves)


SUB = replace(
    new_subscription("news", "https://hub/", URL, NOW),
    state=State.ACTIVE, lease=1000, expires=NOW + timedelta(seconds=1000), requested=None,
)  # fmt: skip


@pytest.mark.parametrize(
    ("sub", "after", "wanted", "step"),
    [
        (SUB, 849, True, None),
        (SUB, 850, True, plan.Step.SUBSCRIBE),
        (SUB, 1000, True, plan.Step.SUBSCRIBE),
        (replace(SUB, lease=10, expires=NOW + timedelta(seconds=10)), 4, True, None),
        (replace(SUB, lease=10, expires=NOW + timedelta(seconds=10)), 5, True, plan.Step.SUBSCRIBE),
        (replace(SUB, requested=NOW), 299, True, None),
        (replace(SUB, requested=NOW), 300, True, plan.Step.SUBSCRIBE),
        (replace(SUB, requested=NOW), 1000, True, plan.Step.FAIL),
        (replace(SUB, state=State.PENDING, requested=NOW), 300, True, plan.Step.FAIL),
        (replace(SUB, state=State.FAILED), 3599, True, None),
        (replace(SUB, state=State.FAILED), 3600, True, plan.Step.SUBSCRIBE),
        (SUB, 0, False, plan.Step.UNSUBSCRIBE),
        (replace(SUB, state=State.FAILED), 0, False, plan.Step.DROP),
        (replace(SUB, state=State.DENIED), 86400 * 400, True, None),
        (replace(SUB, state=State.DENIED), 0, False, plan.Step.DROP),
        (replace(SUB, state=State.UNSUBSCRIBING, requested=NOW), 10, False, None),
        (replace(SUB, state=State.UNSUBSCRIBING, requested=NOW), 300, True, plan.Step.DROP),
    ],
    ids=[
        "before-renewal", "renewal", "lapsed", "short-lease-early", "short-lease-renewal",
        "verifying", "renewal-unverified", "renewal-unverified-lapsed", "unverified",
        "failed-waits",
        "failed-retried", "unwanted", "unwanted-failed", "denied-stays", "unwanted-denied",
        "unsubscribing", "unsubscribe-unverified",
    ],
)  # fmt: skip
def test_the_plan_says_what_is_due_when(
    sub: subscriptions.Subscription, after: int, wanted: bool, step: plan.Step | None
) -> None:
    action = plan.due(sub, NOW + timedelta(seconds=after), wanted)
    assert (action.step if action else None) == step


RENEWING = replace(SUB, requested=NOW)
"""An active subscription whose renewal the hub has yet to check."""


@pytest.mark.parametrize(
    ("sub", "status"),
    [(SUB, 404), (RENEWING, 200), (replace(SUB, state=State.PENDING, requested=NOW), 200)],
    ids=["active-nothing-asked", "renewal-asked", "first-request"],
)
def test_a_subscribe_check_is_confirmed_only_for_a_request_poster_made(
    sub: subscriptions.Subscription, status: int
) -> None:
    params = {"hub.challenge": "Q7zz", "hub.lease_seconds": "999999"}
    answer = plan.verify_intent(sub, "subscribe", sub.topic, params, NOW)
    assert answer.status == status
    if status == 404:  # a replayed check changes nothing: lease and expiry stay the hub's
        assert answer.after == sub and not answer.changed


@pytest.mark.parametrize(
    ("lease", "granted"),
    [
        ("3600", 3600),
        ("²", plan.DEFAULT_LEASE),
        ("٣", plan.DEFAULT_LEASE),
        ("9" * 5000, plan.MAX_LEASE),
    ],
    ids=["digits", "superscript", "arabic-indic", "huge"],
)
def test_a_verification_with_an_odd_lease_takes_a_sane_one(lease: str, granted: int) -> None:
    params = {"hub.challenge": "Q7zz", "hub.lease_seconds": lease}
    answer = plan.verify_intent(RENEWING, "subscribe", SUB.topic, params, NOW)
    assert (answer.status, answer.body) == (200, b"Q7zz")
    assert answer.after is not None and answer.after.lease == granted


@pytest.mark.parametrize(
    ("given", "asked", "same"),
    [
        ("https://ex.com/~user/feed", "https://ex.com/%7Euser/feed", True),
        ("https://ex.com/%7euser/feed", "https://ex.com/~user/feed", True),
        ("https://ex.com/a%2fb", "https://ex.com/a%2Fb", True),
        ("HTTPS://Ex.COM/feed", "https://ex.com/feed", True),
        ("https://ex.com:443/feed", "https://ex.com/feed", True),
        ("http://ex.com:80/feed", "http://ex.com/feed", True),
        ("http://[::1]:80/feed", "http://[::1]/feed", True),
        ("https://ex.com/%41?q=%2d", "https://ex.com/A?q=-", True),
        ("https://ex.com/a%2Fb", "https://ex.com/a/b", False),
        ("https://ex.com/Feed", "https://ex.com/feed", False),
        ("https://ex.com:8443/feed", "https://ex.com/feed", False),
        ("http://ex.com:443/feed", "http://ex.com/feed", False),
        ("https://ex.com/feed?x", "https://ex.com/feed", False),
    ],
    ids=[
        "tilde-decoded", "lower-hex", "reserved-hex-case", "scheme-host-case", "https-port",
        "http-port", "ipv6-port", "query-too", "reserved-slash", "path-case", "other-port",
        "other-scheme-port", "query",
    ],
)  # fmt: skip
def test_a_hubs_topic_is_the_one_asked_for_once_both_are_normalised(
    given: str, asked: str, same: bool
) -> None:
    sub = replace(RENEWING, topic=asked)
    answer = plan.verify_intent(sub, "subscribe", given, {"hub.challenge": "Q7zz"}, NOW)
    assert answer.status == (200 if same else 404)
    assert answer.after is not None and answer.after.topic == asked


def test_a_live_subscription_slows_polls_to_the_safety_interval() -> None:
    hour = timedelta(hours=1)
    assert not plan.poll_due(SUB, NOW + timedelta(minutes=10), NOW, hour)
    assert plan.poll_due(SUB, NOW + hour, NOW, hour)
    assert plan.poll_due(replace(SUB, state=State.FAILED), NOW + timedelta(minutes=1), NOW, hour)
    assert plan.poll_due(None, NOW, NOW, hour)


def test_status_shows_each_feeds_subscription_and_lease_but_never_its_secret(
    tmp_path: Path,
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    (tmp_path / "feeds.toml").write_text(
        '[webhook]\nlisten = "127.0.0.1:8080"\npublic_url = "https://poster.example.org"\n'
        f'[[feeds]]\nname = "news"\nurl = "{URL}"\n[[feeds]]\nname = "blog"\nurl = "{URL}2"\n'
        f'[[feeds]]\nname = "shop"\nurl = "{URL}3"\n[[feeds]]\nname = "misc"\nurl = "{URL}4"\n'
    )
    config = load_config(tmp_path / "feeds.toml")
    failed = replace(SUB, feed="blog", state=State.FAILED, error="denied by the hub: no")
    with Store(tmp_path / "state") as store:
        subscriptions.save(store, SUB)
        subscriptions.save(store, failed)
        subscriptions.save(store, replace(SUB, feed="shop", state=State.DENIED, error="not here"))
        view = status_view(config, store, NOW + timedelta(seconds=100))
    text = format_status(view)
    assert (
        "push: active until 2026-03-02 08:16 UTC (in 15min), lease 1000s, hub https://hub/" in text
    )
    assert "push: failed: denied by the hub: no; polled meanwhile, asked again" in text
    assert (
        "push: denied by hub https://hub/: not here; polled, not asked again until a reload" in text
    )
    assert "push: none (polled)" in text
    shown = json.dumps(status_json(view))
    assert SUB.secret not in text + shown and SUB.callback not in text + shown
    [news] = [feed for feed in status_json(view)["feeds"] if feed["name"] == "news"]
    assert news["push"]["state"] == "active" and news["push"]["lease_seconds"] == 1000
    [shop] = [feed for feed in status_json(view)["feeds"] if feed["name"] == "shop"]
    assert (shop["push"]["state"], shop["push"]["error"]) == ("denied", "not here")


def test_a_public_url_needs_a_listener(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "feeds.toml").write_text('[webhook]\npublic_url = "https://poster.example.org"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "feeds.toml")
    assert "webhook.public_url: needs [webhook] listen" in str(caught.value)


def test_damaged_subscription_records_are_dropped_not_fatal(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.set_meta(subscriptions.META, '{"news": {"feed": "news"}, "blog": 3}')
        assert subscriptions.load(store) == {}
        store.set_meta(subscriptions.META, "not json")
        assert subscriptions.load(store) == {}


def test_each_subscription_is_kept_in_its_own_document(tmp_path: Path) -> None:
    many = {
        f"feed-{i}": replace(SUB, feed=f"feed-{i}", callback=f"callback-{i}") for i in range(1000)
    }
    with Store(tmp_path) as store:
        for sub in many.values():
            subscriptions.save(store, sub)
        store.compact()
        journal = tmp_path / "poster.journal"
        before = journal.stat().st_size
        changed = replace(many["feed-500"], state=State.FAILED, error="denied by the hub: no")
        subscriptions.save(store, changed)
        subscriptions.forget(store, "feed-7")
        store.flush()
        # Two small journal lines, not the 1,000 subscriptions (400 KB) written again.
        assert 0 < journal.stat().st_size - before < 2_000
    with Store(tmp_path) as store:
        kept = subscriptions.load(store)
    assert kept == {**{n: s for n, s in many.items() if n != "feed-7"}, "feed-500": changed}


def test_the_one_document_of_earlier_releases_is_read_and_split(tmp_path: Path) -> None:
    failed = replace(SUB, feed="blog", state=State.FAILED, error="denied by the hub: no")
    earlier = {
        feed: {**subscriptions._to_json(sub)} for feed, sub in (("news", SUB), ("blog", failed))
    }
    with Store(tmp_path) as store:
        store.set_meta(subscriptions.META, json.dumps(earlier))
        found = subscriptions.load(store)
        assert found == {"news": SUB, "blog": failed}
        subscriptions.migrate(store, found)
        assert store.get_meta(subscriptions.META) is None
        assert set(store.metas(subscriptions.ENTRY)) == {"websub:news", "websub:blog"}
        subscriptions.forget(store, "blog")  # a dropped one stays dropped once split
        assert subscriptions.load(store) == {"news": SUB}
        subscriptions.migrate(store, {})  # nothing left to split: nothing written
        assert subscriptions.load(store) == {"news": SUB}


def test_a_subscription_kept_without_word_of_its_secret_reads_as_having_given_it(
    tmp_path: Path,
) -> None:
    earlier = subscriptions._to_json(SUB)
    del earlier["secret_given"]
    plain = replace(SUB, feed="blog", callback="other", secret_given=False)
    with Store(tmp_path) as store:
        store.set_meta(subscriptions.ENTRY + "news", json.dumps(earlier))
        subscriptions.save(store, plain)
    with Store(tmp_path) as store:
        assert subscriptions.load(store) == {"news": SUB, "blog": plain}
    assert SUB.secret_given


def test_a_damaged_subscription_document_drops_only_its_feed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(tmp_path) as store:
        subscriptions.save(store, SUB)
        store.set_meta(subscriptions.ENTRY + "blog", '{"feed": "blog"}')
        store.set_meta(subscriptions.ENTRY + "shop", "not json")
        assert subscriptions.load(store) == {"news": SUB}
    warned = [r.getMessage() for r in caplog.records]
    assert "event=websub-state-unreadable feed=blog action=subscribing-again" in warned
    assert "event=websub-state-unreadable feed=shop action=subscribing-again" in warned


def test_a_slow_feeds_content_holds_up_only_its_own_and_each_feed_keeps_its_order() -> None:
    release = threading.Event()
    delivered: list[tuple[str, bytes]] = []
    running: list[str] = []

    def deliver(feed: str, body: bytes, headers: tuple[tuple[str, str], ...]) -> None:
        assert feed not in running  # one delivery of a feed at a time
        running.append(feed)
        if feed == "slow":
            release.wait(10)
        delivered.append((feed, body))
        running.remove(feed)

    handoff = Handoff(deliver, workers=2)
    handoff.put(Pushed("slow", b"1", ()))
    handoff.put(Pushed("slow", b"2", ()))
    handoff.put(Pushed("quick", b"1", ()))
    handoff.put(Pushed("quick", b"2", ()))
    wait_for(lambda: delivered == [("quick", b"1"), ("quick", b"2")], "the quick feed's content")
    release.set()
    wait_for(lambda: len(delivered) == 4, "the slow feed's content")
    assert delivered[2:] == [("slow", b"1"), ("slow", b"2")]
    handoff.stop()


def test_pushed_content_waits_in_a_bounded_queue_that_drops_the_oldest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release, taken = threading.Event(), threading.Event()
    delivered: list[str] = []

    def deliver(feed: str, body: bytes, headers: tuple[tuple[str, str], ...]) -> None:
        taken.set()
        release.wait(10)
        delivered.append(feed)

    handoff = Handoff(deliver, limit=2, workers=1)
    handoff.put(Pushed("a", b"", ()))
    assert taken.wait(5)
    for feed in "bcd":
        handoff.put(Pushed(feed, b"", ()))
    release.set()
    wait_for(lambda: delivered == ["a", "c", "d"], "the queue to empty")
    handoff.stop()
    handoff.put(Pushed("e", b"", ()))
    assert delivered == ["a", "c", "d"]
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped == [
        "event=websub-content-dropped feed=b reason=queue-full queued=2 action=polling"
    ]
