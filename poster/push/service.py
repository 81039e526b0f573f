"""Keep the daemon's WebSub subscriptions: ask hubs, answer them, renew, and hand on content.

The service holds every subscription in memory and writes each change to the state before the
request it prepares goes out, so a hub that verifies at once finds the subscription it asked
about. Its thread looks at the subscriptions every few seconds, at the injected clock's time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from poster.daemon.httpserver import Call, Noise
from poster.errors import HubError
from poster.fetch.addresses import AddressPolicy
from poster.push import hub, plan
from poster.push.discover import Advert
from poster.push.handoff import Deliver, Handoff, Pushed
from poster.push.subscriptions import (
    MetaStore,
    State,
    Subscription,
    forget,
    load,
    migrate,
    new_subscription,
    save,
)

log = logging.getLogger(__name__)

PREFIX = "/websub/"
"""Where the listener takes the hubs' calls; a subscription's callback is PREFIX + its id."""
TICK = 2.0
TEXT = "text/plain; charset=utf-8"


class PushService:
    """Subscribe feeds to their hubs and hand the content hubs push to the pipeline."""

    def __init__(
        self,
        store: MetaStore,
        client: httpx.Client,
        public_url: str,
        *,
        wanted: Callable[[str], bool],
        deliver: Deliver,
        clock: Callable[[], datetime],
        addresses: AddressPolicy = hub.ADDRESSES,
    ) -> None:
        self._store = store
        self._addresses = addresses
        self._client = client
        self._base = public_url.rstrip("/") + PREFIX
        self._wanted = wanted
        self._handoff = Handoff(deliver)
        self._clock = clock
        self._lock = threading.RLock()
        self._refusals = Noise(event="websub-verify-refused", level=logging.WARNING, logger=log)
        self._subs = load(store)
        self._untopical: set[str] = set()
        migrate(store, self._subs)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="poster-websub", daemon=True)

    def start(self) -> None:
        """Look after the subscriptions in a thread of its own."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the request under way."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._handoff.stop(timeout)

    def wake(self) -> None:
        """Look at the subscriptions now, such as after a reload."""
        self._wake.set()

    def forget_denials(self) -> list[str]:
        """Forget the hubs' denials, so each feed's next read asks its hub again; name them."""
        with self._lock:
            denied = [sub for sub in self._subs.values() if sub.state is State.DENIED]
            for sub in denied:
                self._drop(sub)
        for sub in denied:
            log.info("event=websub-denial-forgotten feed=%s hub=%s", sub.feed, sub.hub)
        return [sub.feed for sub in denied]

    def get(self, feed: str) -> Subscription | None:
        """Return a feed's subscription, if it has one."""
        with self._lock:
            return self._subs.get(feed)

    def poll_due(self, feed: str, last_read: datetime | None, safety: timedelta) -> bool:
        """Tell whether a feed is polled now: on its schedule, or every ``safety`` while pushed."""
        return plan.poll_due(self.get(feed), self._clock(), last_read, safety)

    def advertised(self, feed: str, advert: Advert | None) -> None:
        """Subscribe a feed a read found at a hub, unless it is subscribed there already."""
        if advert is None or not self._wanted(feed):
            return
        if advert.topic is None:
            self._no_topic(feed, advert.hub)
            return
        with self._lock:
            sub = self._subs.get(feed)
            if sub is not None and (sub.hub, sub.topic) == (advert.hub, advert.topic):
                return  # known: renewals, retries and failures are the tick's, denials final
            sub = new_subscription(feed, advert.hub, advert.topic, self._clock())
            self._put(sub)
        log.info("event=websub-subscribing feed=%s hub=%s topic=%s", feed, sub.hub, sub.topic)
        self._ask(sub, "subscribe")

    def _no_topic(self, feed: str, hub_url: str) -> None:
        """Log once per feed that it names a hub but no self URL, so it is only polled."""
        with self._lock:
            if feed in self._untopical:
                return
            self._untopical.add(feed)
        log.warning("event=websub-no-self feed=%s hub=%s action=polling", feed, hub_url)

    def tick(self) -> None:
        """Renew, retry, fail or end every subscription that is due at the clock's time."""
        now = self._clock()
        with self._lock:
            subs = list(self._subs.values())
        for sub in subs:
            action = plan.due(sub, now, self._wanted(sub.feed))
            if action is not None:
                self._act(sub, action, now)

    def _act(self, sub: Subscription, action: plan.Action, now: datetime) -> None:
        """Carry out one due step, recording it before any request goes out."""
        step, reason = action.step, action.reason
        log.info("event=websub-%s feed=%s hub=%s reason=%r", step, sub.feed, sub.hub, reason)
        if action.step is plan.Step.DROP:
            self._drop(sub)
        elif action.step is plan.Step.FAIL:
            self._fail(sub, action.reason)
        elif action.step is plan.Step.UNSUBSCRIBE:
            self._ask(self._replace(sub, state=State.UNSUBSCRIBING, requested=now), "unsubscribe")
        else:
            state = State.ACTIVE if sub.state is State.ACTIVE else State.PENDING
            self._ask(self._replace(sub, state=state, requested=now, error=None), "subscribe")

    def _ask(self, sub: Subscription, mode: str) -> None:
        """Send a request already recorded; a refusal fails it, so the feed is polled again."""
        callback_url = self._base + sub.callback
        try:
            moved = hub.ask(
                self._client, sub, mode, callback_url, self._addresses,
                giving=lambda given: self._give_secret(sub, given),
            )  # fmt: skip
        except HubError as exc:
            with self._lock:
                current = self._subs.get(sub.feed)
                if current is None or current.callback != sub.callback:
                    return
                if mode == "unsubscribe":
                    self._drop(current)  # the hub's lease runs out on its own
                elif current.requested is not None:
                    self._fail(current, str(exc))
            return
        if moved is not None and moved != sub.hub_url:
            self._move(sub, moved)

    def _give_secret(self, sub: Subscription, given: bool) -> None:
        """Record, before a request goes out, whether it gives the hub the secret to sign with."""
        with self._lock:
            current = self._subs.get(sub.feed)
            if current is None or current.callback != sub.callback:
                return
            if current.secret_given != given:
                self._put(current.moved(secret_given=given))

    def _move(self, sub: Subscription, url: str) -> None:
        """Send the subscription's next requests where its hub moved for good."""
        with self._lock:
            current = self._subs.get(sub.feed)
            if current is None or current.callback != sub.callback:
                return
            self._put(current.moved(endpoint=url))
        log.info("event=websub-hub-moved feed=%s hub=%s to=%s", sub.feed, sub.hub_url, url)

    # The hub's calls, through the listener

    def knows(self, path: str) -> bool:
        """Tell whether ``path`` is a subscription's callback: content to another is not read."""
        callback = path.removeprefix(PREFIX)
        with self._lock:
            return any(s.callback == callback for s in self._subs.values())

    def handle(self, call: Call) -> tuple[int, str, bytes]:
        """Answer a hub's verification (GET) or content distribution (POST)."""
        callback = call.path.removeprefix(PREFIX)
        with self._lock:
            sub = next((s for s in self._subs.values() if s.callback == callback), None)
        if call.method == "GET":
            return self._verify(sub, dict(call.query))
        return self._content(sub, call)

    def _verify(self, sub: Subscription | None, params: dict[str, str]) -> tuple[int, str, bytes]:
        """Confirm only what poster asked for; record what the hub granted or denied."""
        mode, topic = params.get("hub.mode", ""), params.get("hub.topic", "")
        with self._lock:
            if sub is not None and self._subs.get(sub.feed) != sub:
                sub = self._subs.get(sub.feed)  # changed since it was looked up
            answer = plan.verify_intent(sub, mode, topic, params, self._clock())
            if sub is not None and answer.changed:
                if answer.after is None:
                    self._drop(sub)
                else:
                    self._put(answer.after)
        if sub is None or answer.status != 200:
            if self._refusals.allows():  # anyone may ask: a few lines a minute
                log.warning("event=websub-verify-refused mode=%s", _word(mode))
        elif answer.after is not None and answer.after.state is State.DENIED:
            reason = answer.after.error
            log.warning("event=websub-denied feed=%s hub=%s reason=%r", sub.feed, sub.hub, reason)
        else:
            after = answer.after
            log.info(
                "event=websub-verified feed=%s mode=%s state=%s lease=%s",
                sub.feed, _word(mode), after.state if after else "gone", after and after.lease,
            )  # fmt: skip
        return answer.status, TEXT, answer.body

    def _content(self, sub: Subscription | None, call: Call) -> tuple[int, str, bytes]:
        """Queue authentic content and acknowledge at once; acknowledge but ignore the rest.

        WebSub §7: the 2xx only says the content arrived; §7.1.2: forged content is ignored.
        """
        if sub is None:
            return 410, TEXT, b"no such subscription\n"  # WebSub §7: the hub may stop pushing
        header = next((v for k, v in call.headers if k.lower() == "x-hub-signature"), None)
        ended = {State.UNSUBSCRIBING: "unsubscribing", State.DENIED: "the hub denied it"}
        why = ended.get(sub.state)
        if call.too_large:
            why = "over max_bytes: read at the next poll"
        elif why is None and not plan.authentic(sub, header, call.body):
            why = "bad signature"
        if why is not None:
            log.warning("event=websub-content-ignored feed=%s reason=%r", sub.feed, why)
            return 202, TEXT, b""
        log.info("event=websub-content feed=%s bytes=%d", sub.feed, len(call.body))
        self._handoff.put(Pushed(sub.feed, call.body, call.headers))
        return 202, TEXT, b""

    # Keeping the subscriptions

    def _run(self) -> None:
        """Tick until stopped."""
        while not self._stop.is_set():
            self._wake.wait(TICK)
            self._wake.clear()
            if not self._stop.is_set():
                self.tick()

    def _replace(self, sub: Subscription, **changes: object) -> Subscription:
        """Record a changed subscription and return it."""
        changed = sub.moved(changed=self._clock(), **changes)
        self._put(changed)
        return changed

    def _fail(self, sub: Subscription, reason: str) -> None:
        """Record a failed subscription: the feed is polled at its own pace again."""
        self._replace(sub, state=State.FAILED, error=reason, requested=None)
        log.warning("event=websub-failed feed=%s hub=%s error=%r", sub.feed, sub.hub, reason)

    def _put(self, sub: Subscription) -> None:
        """Keep a subscription in memory and in the state."""
        with self._lock:
            self._subs[sub.feed] = sub
            save(self._store, sub)

    def _drop(self, sub: Subscription) -> None:
        """Forget a feed's subscription."""
        with self._lock:
            if self._subs.pop(sub.feed, None) is not None:
                forget(self._store, sub.feed)


def _word(text: str) -> str:
    """Return a value a hub sent, safe for one log line."""
    return "".join(ch if ch.isalnum() else "_" for ch in text)[:20]
