"""Subscribe through a real WebSub hub on 127.0.0.1, answered by the daemon's real listener.

The hub serves HTTPS, as public hubs do, so it is given the secret; ``plain`` runs one over plain
HTTP. The service runs without its thread: each test calls ``tick`` itself at an injected time,
and waits on the hub's verifications, never on the clock.
"""

from __future__ import annotations

import hmac
import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from support.hub import Hub, tls_contexts
from support.wait import wait_for

from poster.daemon.httpserver import NOISE_BURST
from poster.daemon.listener import WebhookReceiver
from poster.push import subscriptions
from poster.push.discover import Advert
from poster.push.service import PREFIX, PushService
from poster.push.subscriptions import State
from poster.store import Store

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TOPIC = "https://news.example.org/feed.xml"
HOUR = timedelta(hours=1)
CAP = 1 << 20


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Setup:
    """A push service on a real listener and state, subscribing at a real hub."""

    def __init__(
        self, store: Store, listener: WebhookReceiver, hub: Hub, trusting: ssl.SSLContext
    ) -> None:
        self.store, self.listener, self.hub = store, listener, hub
        self.clock = Clock()
        self.delivered: list[tuple[str, bytes]] = []
        self.unwanted: set[str] = set()
        self.client = httpx.Client(verify=trusting)
        self.service = PushService(
            store,
            self.client,
            f"http://127.0.0.1:{listener.port}",
            wanted=lambda feed: feed not in self.unwanted,
            deliver=lambda feed, body, _headers: self.delivered.append((feed, body)),
            clock=self.clock,
        )
        listener.add_callbacks(PREFIX, self.service.handle, CAP, oversized=True)

    def subscribe(self, feed: str = "news") -> subscriptions.Subscription:
        """Subscribe ``feed`` and return its subscription once the hub verified it."""
        before = len(self.hub.verifications)
        self.service.advertised(feed, Advert(self.hub.url, TOPIC))
        [*_, check] = self.hub.wait_verified(before + 1)
        assert check.confirmed
        sub = self.service.get(feed)
        assert sub is not None
        return sub

    def callback(self, feed: str = "news") -> str:
        sub = self.service.get(feed)
        assert sub is not None
        return f"http://127.0.0.1:{self.listener.port}{PREFIX}{sub.callback}"


@pytest.fixture
def setup(tmp_path: Path, certificate: Path) -> Iterator[Setup]:
    serving, trusting = tls_contexts(certificate)
    with Hub(tls=serving) as hub:
        yield from _set_up(tmp_path, hub, trusting)


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Setup]:
    with Hub() as hub:
        yield from _set_up(tmp_path, hub, ssl.create_default_context())


def _set_up(tmp_path: Path, hub: Hub, trusting: ssl.SSLContext) -> Iterator[Setup]:
    """Run a push service on a listener and state of its own, subscribing at ``hub``."""
    with (
        Store(tmp_path / "state") as store,
        WebhookReceiver("listener-token-0123456789", port=0) as listener,
    ):
        made = Setup(store, listener, hub, trusting)
        yield made
        made.service.stop()
        made.client.close()


def test_a_verified_subscription_is_active_for_its_lease_and_its_secret_kept_in_the_state(
    setup: Setup,
) -> None:
    sub = setup.subscribe()
    lease = timedelta(seconds=600)
    assert (sub.state, sub.lease, sub.expires) == (State.ACTIVE, 600, START + lease)
    [asked] = setup.hub.requests
    assert asked["hub.mode"] == "subscribe" and asked["hub.topic"] == TOPIC
    assert len(bytes.fromhex(asked["hub.secret"])) >= 32
    assert asked["hub.callback"] == setup.callback()
    other = setup.subscribe("other")
    assert other.callback != sub.callback and other.secret != sub.secret
    kept = subscriptions.load(setup.store)
    assert kept["news"].secret == asked["hub.secret"] and kept["news"].state is State.ACTIVE
    assert asked["hub.secret"] not in repr(kept)
    assert kept["news"].secret_given


def test_a_hub_over_plain_http_is_given_no_secret_and_its_unsigned_content_is_taken(
    plain: Setup,
) -> None:
    sub = plain.subscribe()
    [asked] = plain.hub.requests
    assert "hub.secret" not in asked and asked["hub.topic"] == TOPIC
    assert not sub.secret_given and not subscriptions.load(plain.store)["news"].secret_given
    assert plain.hub.publish(TOPIC, b"<rss/>", "application/rss+xml") == [202]
    wait_for(lambda: plain.delivered == [("news", b"<rss/>")], "the unsigned content handed on")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.topic": TOPIC + "?x", "hub.challenge": "Q7zz"},
        {"hub.mode": "unsubscribe", "hub.topic": TOPIC, "hub.challenge": "Q7zz"},
        {"hub.mode": "subscribe", "hub.topic": TOPIC},
        {"hub.mode": "subscribe", "hub.topic": "http://[::1", "hub.challenge": "Q7zz"},
        {"hub.mode": "subscribe", "hub.topic": "http://[zz]/", "hub.challenge": "Q7zz"},
    ],
    ids=["other-topic", "unsubscribe-not-asked", "no-challenge", "no-url", "bad-ipv6"],
)
def test_a_verification_poster_did_not_ask_for_is_refused(
    setup: Setup, query: dict[str, str]
) -> None:
    setup.subscribe()
    answer = httpx.get(setup.callback(), params=query, timeout=5)
    assert (answer.status_code, "Q7zz" in answer.text) == (404, False)
    unknown = setup.callback().rsplit("/", 1)[0] + "/guessed"
    assert httpx.get(unknown, params=query, timeout=5).status_code == 404
    assert setup.service.get("news") is not None
    assert setup.service.get("news").state is State.ACTIVE  # type: ignore[union-attr]


def test_refused_verifications_log_a_few_warnings_a_minute(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    setup.subscribe()
    guessed = setup.callback().rsplit("/", 1)[0] + "/guessed"
    query = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.challenge": "Q7zz"}
    with httpx.Client(timeout=5) as http:
        for _ in range(NOISE_BURST + 15):
            assert http.get(guessed, params=query).status_code == 404
    assert caplog.text.count("event=websub-verify-refused") == NOISE_BURST


def test_a_topic_the_hub_names_with_unreserved_characters_decoded_is_confirmed(
    setup: Setup,
) -> None:
    escaped = "https://news.example.org/%7Eeditor/a%2Fb.xml"
    setup.service.advertised("news", Advert(setup.hub.url, escaped))
    [check] = setup.hub.wait_verified(1)
    assert check.topic == "https://news.example.org/~editor/a%2Fb.xml"
    assert check.confirmed
    sub = setup.service.get("news")
    assert sub is not None and (sub.state, sub.topic) == (State.ACTIVE, escaped)
    assert setup.hub.requests[0]["hub.topic"] == escaped


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_signed_content_is_handed_to_the_pipeline(setup: Setup, method: str) -> None:
    setup.subscribe()
    assert setup.hub.publish(TOPIC, b"<rss/>", "application/rss+xml", method) == [202]
    wait_for(lambda: setup.delivered == [("news", b"<rss/>")], "the content handed on")


def test_content_is_acknowledged_before_it_is_read(setup: Setup) -> None:
    release = threading.Event()
    reading: list[bytes] = []

    def slow(feed: str, body: bytes, headers: tuple[tuple[str, str], ...]) -> None:
        reading.append(body)
        if not release.wait(10):
            raise AssertionError("never released")
        setup.delivered.append((feed, body))
        raise RuntimeError("the pipeline broke")  # logged there, never a 500 to the hub

    setup.service._handoff._deliver = slow
    setup.subscribe()
    assert setup.hub.publish(TOPIC, b"<rss>1</rss>", "application/rss+xml") == [202]
    assert setup.hub.publish(TOPIC, b"<rss>2</rss>", "application/rss+xml") == [202]
    wait_for(lambda: reading == [b"<rss>1</rss>"], "the first read to start")
    assert setup.delivered == []
    release.set()
    wait_for(lambda: len(setup.delivered) == 2, "both handed on, in order")
    assert [body for _, body in setup.delivered] == [b"<rss>1</rss>", b"<rss>2</rss>"]


def _chunked(body: bytes) -> Iterator[bytes]:
    """Yield a body in pieces, so httpx sends it chunked, without a Content-Length."""
    for start in range(0, len(body), 7000):
        yield body[start : start + 7000]


def _signed(sub: subscriptions.Subscription, body: bytes) -> dict[str, str]:
    digest = hmac.new(sub.secret.encode(), body, "sha256").hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}", "Content-Type": "application/rss+xml"}


def test_chunked_content_is_taken(setup: Setup) -> None:
    sub = setup.subscribe()
    body = b"<rss>" + b"x" * 50_000 + b"</rss>"
    answer = httpx.post(
        setup.callback(), content=_chunked(body), headers=_signed(sub, body), timeout=5
    )
    assert answer.status_code == 202
    assert answer.request.headers.get("transfer-encoding") == "chunked"
    wait_for(lambda: setup.delivered == [("news", body)], "the chunked content handed on")


@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
def test_content_over_the_cap_is_acknowledged_and_left_to_the_poll(
    setup: Setup, chunked: bool, caplog: pytest.LogCaptureFixture
) -> None:
    sub = setup.subscribe()
    body = b"x" * (CAP + 1)
    content = _chunked(body) if chunked else body
    answer = httpx.post(setup.callback(), content=content, headers=_signed(sub, body), timeout=5)
    assert answer.status_code == 202
    assert setup.hub.publish(TOPIC, b"<rss/>", "application/rss+xml") == [202]
    wait_for(lambda: setup.delivered == [("news", b"<rss/>")], "the next content handed on")
    logged = [r.getMessage() for r in caplog.records]
    assert (
        "event=websub-content-ignored feed=news reason='over max_bytes: read at the next poll'"
        in logged
    )


@pytest.mark.parametrize(
    "signature",
    [None, "sha256=" + "0" * 64, "md5=abc", "sha256", "sha256=zz"],
    ids=["unsigned", "wrong", "unknown-method", "no-digest", "not-hex"],
)
def test_forged_content_is_acknowledged_and_ignored(setup: Setup, signature: str | None) -> None:
    setup.subscribe()
    status = setup.hub.forge(setup.callback(), b"<rss/>", "application/rss+xml", signature)
    assert (status, setup.delivered) == (202, [])


def test_content_signed_with_another_secret_is_ignored(setup: Setup) -> None:
    setup.subscribe()
    digest = hmac.new(b"not-the-secret", b"<rss/>", "sha256").hexdigest()
    status = setup.hub.forge(setup.callback(), b"<rss/>", "text/xml", f"sha256={digest}")
    assert (status, setup.delivered) == (202, [])


def test_an_expiring_lease_is_renewed_before_it_runs_out(setup: Setup) -> None:
    sub = setup.subscribe()
    setup.clock.now = START + timedelta(seconds=500)  # 83 % of the lease: not yet
    setup.service.tick()
    assert len(setup.hub.requests) == 1
    setup.clock.now = START + timedelta(seconds=540)
    setup.service.tick()
    [*_, check] = setup.hub.wait_verified(2)
    assert check.confirmed and len(setup.hub.requests) == 2
    renewed = setup.service.get("news")
    assert renewed is not None and renewed.callback == sub.callback
    lease = timedelta(seconds=600)
    assert (renewed.state, renewed.expires) == (State.ACTIVE, setup.clock.now + lease)


def test_a_hub_that_goes_away_hands_the_feed_back_to_its_polls(setup: Setup) -> None:
    setup.subscribe()
    read = START + timedelta(seconds=10)
    setup.clock.now = read + timedelta(seconds=30)
    assert not setup.service.poll_due("news", read, HOUR)
    setup.hub.close()
    setup.clock.now = START + timedelta(seconds=550)
    setup.service.tick()
    sub = setup.service.get("news")
    assert sub is not None and sub.state is State.FAILED
    assert sub.error is not None and "cannot reach hub" in sub.error
    assert setup.service.poll_due("news", setup.clock.now - timedelta(seconds=30), HOUR)


def test_a_feed_naming_a_hub_but_no_self_url_is_polled_and_logged_once(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    setup.service.advertised("news", Advert(setup.hub.url, None))
    setup.service.advertised("news", Advert(setup.hub.url, None))
    assert setup.hub.requests == [] and setup.service.get("news") is None
    logged = [r.getMessage() for r in caplog.records if "websub-no-self" in r.getMessage()]
    assert logged == [f"event=websub-no-self feed=news hub={setup.hub.url} action=polling"]


def test_a_hub_that_refuses_fails_the_subscription_and_is_asked_again_later(
    setup: Setup,
) -> None:
    setup.hub.refuse = True
    setup.service.advertised("news", Advert(setup.hub.url, TOPIC))
    sub = setup.service.get("news")
    assert sub is not None and sub.state is State.FAILED
    assert sub.error == f"hub {setup.hub.url} refused to subscribe: HTTP 500 Internal Server Error"
    setup.hub.refuse = False
    setup.clock.now += HOUR
    setup.service.tick()
    assert setup.hub.wait_verified(1)[0].confirmed
    assert setup.service.get("news").state is State.ACTIVE  # type: ignore[union-attr]


def test_a_hub_that_moves_for_good_is_asked_there_and_renewed_there(setup: Setup) -> None:
    setup.hub.moves["/hub"] = (308, "/hub/new")
    sub = setup.subscribe()
    assert setup.hub.paths == ["/hub", "/hub/new"]
    assert setup.hub.requests[0] == setup.hub.requests[1]  # the same request, secret and all
    assert (sub.hub, sub.endpoint) == (setup.hub.url, setup.hub.url + "/new")
    assert subscriptions.load(setup.store)["news"].endpoint == setup.hub.url + "/new"
    setup.service.advertised("news", Advert(setup.hub.url, TOPIC))  # the feed still names it
    setup.clock.now = START + timedelta(seconds=540)
    setup.service.tick()
    setup.hub.wait_verified(2)
    assert setup.hub.paths == ["/hub", "/hub/new", "/hub/new"]


def test_a_hub_that_redirects_for_now_is_asked_there_this_once(setup: Setup) -> None:
    setup.hub.moves["/hub"] = (307, setup.hub.url + "/elsewhere")
    sub = setup.subscribe()
    assert setup.hub.paths == ["/hub", "/hub/elsewhere"] and sub.endpoint is None
    setup.clock.now = START + timedelta(seconds=540)
    setup.service.tick()
    setup.hub.wait_verified(2)
    assert setup.hub.paths[2:] == ["/hub", "/hub/elsewhere"]


def test_only_a_chain_of_308s_moves_the_hub(setup: Setup) -> None:
    setup.hub.moves.update({"/hub": (308, "/hub/a"), "/hub/a": (307, "/hub/b")})
    setup.hub.moves["/hub/b"] = (308, "/hub/c")
    sub = setup.subscribe()
    assert setup.hub.paths == ["/hub", "/hub/a", "/hub/b", "/hub/c"]
    assert sub.endpoint == setup.hub.url + "/a"


@pytest.mark.parametrize(
    ("moves", "error"),
    [
        ({"/hub": (301, "/hub/new")}, "refused to subscribe: HTTP 301 Moved Permanently"),
        ({"/hub": (302, "/hub/new")}, "refused to subscribe: HTTP 302 Found"),
        ({"/hub": (303, "/hub/new")}, "refused to subscribe: HTTP 303 See Other"),
        ({"/hub": (307, "/hub")}, "redirected more than 5 times"),
        ({"/hub": (308, "ftp://hub.example/")}, "redirected to a URL that is not HTTP"),
    ],
    ids=["301", "302", "303", "loop", "not-http"],
)
def test_other_redirects_and_endless_ones_fail_the_subscription(
    setup: Setup, moves: dict[str, tuple[int, str]], error: str
) -> None:
    setup.hub.moves.update(moves)
    setup.service.advertised("news", Advert(setup.hub.url, TOPIC))
    sub = setup.service.get("news")
    assert sub is not None and sub.state is State.FAILED and sub.endpoint is None
    assert sub.error is not None and sub.error.endswith(error)
    assert len(setup.hub.paths) <= 6 and setup.service.poll_due("news", setup.clock.now, HOUR)


def test_a_hub_that_never_verifies_fails_the_subscription_after_the_deadline(
    setup: Setup,
) -> None:
    setup.hub.verify = False
    setup.service.advertised("news", Advert(setup.hub.url, TOPIC))
    setup.clock.now += timedelta(minutes=4)
    setup.service.tick()
    assert setup.service.get("news").state is State.PENDING  # type: ignore[union-attr]
    setup.clock.now += timedelta(minutes=1)
    setup.service.tick()
    sub = setup.service.get("news")
    assert sub is not None and sub.state is State.FAILED
    assert sub.error == "the hub did not verify the request within 5 min"
    assert setup.service.poll_due("news", setup.clock.now, HOUR)


def test_a_denial_is_final_for_that_hub_and_topic_until_the_denials_are_forgotten(
    setup: Setup,
) -> None:
    setup.subscribe()
    assert setup.hub.deny(TOPIC, setup.callback(), "topic\nnot allowed") == 200
    sub = setup.service.get("news")
    assert sub is not None and (sub.state, sub.error) == (State.DENIED, "topic not allowed")
    assert setup.service.poll_due("news", setup.clock.now, HOUR)
    setup.clock.now += 30 * HOUR
    setup.service.tick()
    setup.service.advertised("news", Advert(setup.hub.url, TOPIC))
    assert len(setup.hub.requests) == 1
    assert subscriptions.load(setup.store)["news"].state is State.DENIED
    setup.service.forget_denials()
    assert setup.service.get("news") is None
    setup.subscribe()
    assert len(setup.hub.requests) == 2


def test_a_denial_after_the_subscription_failed_is_taken_and_final(setup: Setup) -> None:
    setup.hub.refuse = True
    setup.service.advertised("news", Advert(setup.hub.url, TOPIC))
    assert setup.service.get("news").state is State.FAILED  # type: ignore[union-attr]
    assert setup.hub.deny(TOPIC, setup.callback(), "not on this hub") == 200
    sub = setup.service.get("news")
    assert sub is not None and (sub.state, sub.error) == (State.DENIED, "not on this hub")
    assert subscriptions.load(setup.store)["news"].state is State.DENIED
    setup.hub.refuse = False
    setup.clock.now += 2 * HOUR
    setup.service.tick()
    assert len(setup.hub.requests) == 1


def test_a_denied_feed_naming_another_topic_is_asked_for_it(setup: Setup) -> None:
    setup.subscribe()
    assert setup.hub.deny(TOPIC, setup.callback(), "no") == 200
    setup.service.advertised("news", Advert(setup.hub.url, TOPIC + "?v=2"))
    [*_, check] = setup.hub.wait_verified(2)
    assert check.confirmed and check.topic == TOPIC + "?v=2"
    assert setup.service.get("news").state is State.ACTIVE  # type: ignore[union-attr]


def test_a_feed_removed_or_disabled_is_unsubscribed_and_its_callback_gone(setup: Setup) -> None:
    setup.subscribe()
    callback = setup.callback()
    setup.unwanted.add("news")
    setup.service.tick()
    [*_, check] = setup.hub.wait_verified(2)
    assert (check.mode, check.confirmed) == ("unsubscribe", True)
    assert setup.service.get("news") is None and subscriptions.load(setup.store) == {}
    assert setup.hub.forge(callback, b"<rss/>", "text/xml", None) == 410
    assert setup.delivered == []


def test_a_subscription_survives_a_restart(setup: Setup, tmp_path: Path) -> None:
    setup.subscribe()
    again = PushService(
        setup.store, setup.client, "http://x", wanted=bool, deliver=_never, clock=setup.clock
    )
    assert again.get("news") == setup.service.get("news")


def _never(feed: str, body: bytes, headers: tuple[tuple[str, str], ...]) -> None:
    raise AssertionError("nothing is delivered")


def test_a_restart_splits_the_subscriptions_an_earlier_release_kept_together(
    setup: Setup,
) -> None:
    sub = setup.subscribe()
    subscriptions.forget(setup.store, "news")
    earlier = {"news": subscriptions._to_json(sub)}
    setup.store.set_meta(subscriptions.META, json.dumps(earlier))
    again = PushService(
        setup.store, setup.client, "http://x", wanted=bool, deliver=_never, clock=setup.clock
    )
    assert again.get("news") == sub
    assert setup.store.get_meta(subscriptions.META) is None
    assert subscriptions.load(setup.store) == {"news": sub}
