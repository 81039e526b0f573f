"""Present an operator's status view as plain JSON values, for ``poster status --json``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from poster.destinations.gateway.subscribers import subscribers_json
from poster.ops.destination_status import destination_json
from poster.ops.status import FeedStatus, StatusView
from poster.push.describe import push_json
from poster.store import DeliveryRecord


def status_json(view: StatusView) -> dict[str, Any]:
    """Return the status as plain JSON values: times ISO 8601, absent values null."""
    return {
        "generated": view.now.isoformat(),
        "state": str(view.state_path),
        "ok": not view.attention,
        "attention": list(view.attention),
        "destinations": [destination_json(d) for d in view.destinations],
        "feeds": [_feed_json(feed) for feed in view.feeds],
        "subscribers": [subscribers_json(gateway) for gateway in view.subscribers],
        "problems": [_record_json(record) for record in view.problems],
        "recent": [_record_json(record) for record in view.recent],
        "waiting": list(view.waiting),
        "daemon_running": view.daemon_running,
        "reload_rejected": None
        if view.reload_rejected is None
        else {
            "at": view.reload_rejected[0].isoformat(),
            "problems": list(view.reload_rejected[1]),
            "count": view.reload_rejected[2],
        },
        "restored": view.restored,
        "held": [
            {
                "destination": name,
                "feed": post.feed,
                "key": post.key,
                "since": post.since.isoformat(),
                "expected": _iso(post.hold.until) if post.hold else None,
                "why": str(post.hold) if post.hold else "goes out on the next pass",
            }
            for name, post in view.held
        ],
    }


def _feed_json(feed: FeedStatus) -> dict[str, Any]:
    """Return one feed's status as JSON values."""
    state = feed.state
    poll = state.next_poll if feed.configured and not feed.paused else None
    return {
        "name": feed.name,
        "configured": feed.configured,
        "enabled": feed.enabled,
        "condition": feed.condition,
        "needs_attention": feed.needs_attention,
        "last_success": _iso(state.last_success),
        "last_failure": _iso(state.last_failure),
        "last_error": state.last_error,
        "last_warning": state.last_warning,
        "consecutive_failures": state.consecutive_failures,
        # A feed gone from feeds.toml, or paused, is not read: it has no next read.
        "next_attempt": _iso(state.next_attempt) if feed.configured and not feed.paused else None,
        "next_poll": _iso(poll.at) if poll else None,
        "next_poll_why": poll.why if poll else None,
        "next_poll_hinted": poll.hinted if poll else False,
        "disabled": state.disabled,
        "paused": feed.paused,
        "paused_at": _iso(feed.paused_at),
        "push": push_json(feed.push),
    }


def _record_json(record: DeliveryRecord) -> dict[str, Any]:
    """Return one delivery record as JSON values."""
    return {
        "feed": record.feed,
        "key": record.key,
        "destination": record.destination,
        "state": record.state,
        "attempts": record.attempts,
        "last_error": record.last_error,
        "message_token": record.message_token,
        "created": _iso(record.created),
        "updated": _iso(record.updated),
    }


def _iso(when: datetime | None) -> str | None:
    """Format a time as ISO 8601, or pass ``None`` on."""
    return None if when is None else when.isoformat()
