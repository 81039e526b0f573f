"""Fill a state directory with one item of each kind, as the operator commands find it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from poster.destinations import Receipt
from poster.models import Validators
from poster.store import Store
from poster.store.ledger import sender_key

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
REFUSED = "the API refused the message: status 3 (badData): text is too long"


class Clock:
    """Tell the time a test sets, moving a minute on each call so records sort by time."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def fill_store(state_dir: Path) -> None:
    """Leave one item of each kind, through the ledger, the way a few passes would."""
    clock = Clock()
    with Store(state_dir, clock=clock) as store:
        store.record_fetch_ok("news", START)
        store.save_validators("news", Validators('"v1"', None, "abc"))
        store.record_pending("news", "n-sent", "viber")
        store.record_sent("news", "n-sent", Receipt("viber", "token-1", START))
        store.record_pending("news", "n-failed", "viber")
        store.record_failed("news", "n-failed", "viber", REFUSED)
        store.record_pending("news", "n-lost", "viber")
        store.mark_seen("blog", ["b-old"])
        store.record_fetch_failed("blog", START, "HTTP 503 from blog", START + timedelta(hours=1))
        store.record_pending("gone", "g-1", "viber")
        store.record_sent("gone", "g-1", Receipt("viber", "token-2", START))
        store.set_meta(sender_key("viber"), "admin-id=")
    # Reopening after the process stopped with "n-lost" in flight leaves it uncertain.
    Store(state_dir, clock=clock).close()
