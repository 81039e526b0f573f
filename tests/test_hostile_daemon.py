"""Run one daemon process against every hostile feed at once and check it holds.

Compression bombs, a slow drip, a 50 MB body, entity and nesting bombs, an XXE attempt, a redirect
into the local network, broken UTF-8, a 10 MB title and a template bomb are read four at a time
beside three good feeds (see ``support.hostile``). The good feeds must post, each hostile feed
must end in its own clear error (or post repaired), in bounded memory, with no traceback, and the
process must stop promptly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from support.hostile import ERRORS, REPAIRED_TITLE, TOKEN, Outcome, Scenario

PEAK_LIMIT_KIB = 100 * 1024
"""Peak resident memory allowed: the interpreter and its libraries (about 45 MiB), one 10 MB
document being read (its body, its text and a copy of the text, about 35 MiB) and room for the
allocator. A body past 1 MiB waits in a temporary file, so the fetches that end at their 10 MB
cap hold little; measured peaks are 73-75 MiB."""
STOP_WITHIN = 2.0


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Outcome, Scenario]]:
    """Run the scenario once for every test of the module."""
    with Scenario(tmp_path_factory.mktemp("hostile")) as scenario:
        yield scenario.run(), scenario


def error_of(outcome: Outcome, feed: str) -> str:
    """Return the feed's last error, failing if its last read did not fail."""
    state = outcome.feed(feed)
    assert state["last_success"] is None, f"{feed} was read: {state}"
    return str(state["last_error"])


def test_the_daemon_stays_within_its_memory_bound(outcome: tuple[Outcome, Scenario]) -> None:
    found, _ = outcome
    assert found.peak_kib < PEAK_LIMIT_KIB, f"peak {found.peak_kib / 1024:.0f} MiB"


def test_every_good_item_is_posted(outcome: tuple[Outcome, Scenario]) -> None:
    found, scenario = outcome
    for title in scenario.good_titles():
        assert found.posts.count(title) == 1, title
    for name in ("good-a", "good-b", "good-c"):
        assert found.feed(name)["last_error"] is None


@pytest.mark.parametrize(("feed", "message"), ERRORS.items(), ids=list(ERRORS))
def test_each_hostile_feed_fails_with_its_own_error(
    outcome: tuple[Outcome, Scenario], feed: str, message: str
) -> None:
    found, _ = outcome
    error = error_of(found, feed)
    assert error.startswith(f"feed {feed!r}: ")
    assert message in error
    assert "\n" not in error


def test_entities_are_never_expanded_nor_read(outcome: tuple[Outcome, Scenario]) -> None:
    found, scenario = outcome
    # feedparser drops the DTD: the references stay as text, a few bytes each.
    assert "&lol9;" in found.posts
    assert "Read: &xxe;" in found.posts
    everything = json.dumps(found.status) + found.log + "\n".join(found.posts)
    assert scenario.secret not in everything
    assert scenario.secret not in "".join(json.dumps(post) for post in scenario.sandbox.posts)


def test_broken_utf8_is_posted_with_its_text(outcome: tuple[Outcome, Scenario]) -> None:
    found, _ = outcome
    assert found.feed("invalid-utf8")["last_error"] is None
    assert found.posts.count(REPAIRED_TITLE) == 1, found.posts
    assert found.feed("invalid-utf8")["last_warning"] == "3 invalid bytes in UTF-8 replaced"


def test_a_huge_title_is_posted_cut(outcome: tuple[Outcome, Scenario]) -> None:
    found, _ = outcome
    [post] = [text for text in found.posts if text.startswith("word word")]
    # The text message limit of the Channels Post API.
    assert len(post) <= 7000
    assert post.endswith("…")


def test_a_template_bomb_fails_its_item_only(outcome: tuple[Outcome, Scenario]) -> None:
    found, _ = outcome
    assert found.feed("template-bomb")["last_error"] is None
    [problem] = found.problems("template-bomb")
    assert problem["state"] == "failed"
    assert "template 'bomb.j2' line 1: refused" in problem["last_error"]


def test_no_traceback_no_token_and_a_prompt_stop(outcome: tuple[Outcome, Scenario]) -> None:
    found, _ = outcome
    assert "Traceback" not in found.log
    assert TOKEN not in found.log
    assert found.exit_code == 0
    assert found.stopped_after < STOP_WITHIN
    assert "event=stopped" in found.log
