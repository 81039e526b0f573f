"""Test when a gateway's status poll stops: at a rate limit or no answer, or at the third server
error in a row, never at one server error alone; and which message ids each poll asks about."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from poster.destinations.gateway.polling import PAUSE_AFTER, PollPause, Turns, poll
from poster.errors import DeliveryError, DestinationFatal, MessageRejected, RetryLater


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


def look_up(refused: dict[str, DeliveryError]) -> Callable[[str], str]:
    """Return a look-up answering each reference with its name, or raising what ``refused`` says."""

    def answer(ref: str) -> str:
        if ref in refused:
            raise refused[ref]
        return ref.upper()

    return answer


def test_an_error_that_stops_the_destination_is_raised_at_the_first_look_up() -> None:
    fatal = DestinationFatal("HTTP 404: Page not found")
    with pytest.raises(DestinationFatal):
        list(poll(["a", "b"], look_up({"a": fatal}), "subs"))


def test_met_later_it_ends_the_poll_there_and_keeps_the_answers_before_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = {"b": DestinationFatal("HTTP 404: Page not found"), "c": MessageRejected("gone")}
    found = list(poll(["a", "c", "b", "d"], look_up(refused), "subs"))
    assert [(ref, str(answer)) for ref, answer in found] == [("a", "A"), ("c", "gone")]
    assert "event=status-poll-stopped destination=subs" in caplog.text


def test_turns_ask_the_never_asked_first_then_those_asked_longest_ago() -> None:
    turns = Turns()
    assert turns.choose(["a", "b", "c", "d", "e"], 2) == ["a", "b"]
    assert turns.choose(["a", "b", "c", "d", "e"], 2) == ["c", "d"]
    assert turns.choose(["a", "c", "d", "e", "f"], 2) == ["e", "f"]  # "b" settled
    assert turns.choose(["a", "c", "d", "e", "f"], 3) == ["a", "c", "d"]


def test_a_poll_that_fails_at_its_first_id_puts_that_id_last_and_no_other() -> None:
    turns = Turns()
    waiting = ["bad", "a", "b"]
    assert turns.choose(waiting, 3) == ["bad", "a", "b"]
    turns.failed()
    assert turns.choose(waiting, 3) == ["a", "b", "bad"]
    assert turns.choose(waiting, 1) == ["bad"]
