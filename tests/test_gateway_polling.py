"""Test when a gateway's status poll stops: at a rate limit or no answer, or at the third server
error in a row, never at one server error alone."""

from __future__ import annotations

from poster.destinations.gateway.polling import PAUSE_AFTER, PollPause
from poster.errors import RetryLater


def test_a_rate_limit_or_no_answer_stops_the_poll_at_once() -> None:
    assert PollPause().stops(RetryLater("rate limit", 429))
    assert PollPause().stops(RetryLater("no connection"))


def test_server_errors_stop_the_poll_only_when_they_come_in_a_row() -> None:
    pause = PollPause()
    for _ in range(PAUSE_AFTER - 1):
        assert not pause.stops(RetryLater("server error", 500))
    pause.answered()
    assert not pause.stops(RetryLater("server error", 503))
    assert not pause.stops(RetryLater("server error", 500))
    assert pause.stops(RetryLater("server error", 500))
