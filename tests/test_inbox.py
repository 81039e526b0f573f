from __future__ import annotations

import errno
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.operate import fill_store

from poster.errors import StateError
from poster.ops import inbox
from poster.ops.commands import OPERATOR_DISABLED
from poster.ops.inbox import Request, decode, drain, encode, pending, submit
from poster.ops.waiting import waiting
from poster.store import Store
from poster.store.ledger import FAILED, UNCERTAIN

DATA = Path(__file__).parent / "data" / "operate"
WHEN = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    fill_store(tmp_path)
    return tmp_path


def test_drain_applies_requests_in_submit_order_and_deletes_them(state: Path) -> None:
    requests = [
        Request("feed-disable", "news"),
        Request("retry", "news", "n-failed"),
        Request("retry", "news", "n-sent"),
        Request("feed-enable", "news"),
        Request("feed-disable", "blog"),
        Request("retry-states", states=(UNCERTAIN,)),
    ]
    written = [submit(state, request) for request in requests]
    assert pending(state) == written
    assert sorted((state / "inbox").iterdir()) == written, "no temporary file is left behind"
    with Store(state) as store:
        lines = drain(state, store)
        assert lines == [
            "feed disable news: feed 'news' disabled; poster skips it until "
            "`poster feed enable news`",
            "retry news/n-failed: released: the next pass of feed 'news' sends it, "
            "if the feed still lists it",
            "retry news/n-sent: item 'n-sent' of feed 'news' was sent; only failed, "
            "uncertain and skipped items can be retried",
            "feed enable news: feed 'news' enabled again (it was 'disabled by operator')",
            "feed disable blog: feed 'blog' disabled; poster skips it until "
            "`poster feed enable blog`",
            "retry uncertain items: released 1 item: each is sent on its feed's next pass, "
            "if the feed still lists it",
        ]
        assert store.feed_state("news").disabled is None
        assert store.feed_state("blog").disabled == OPERATOR_DISABLED
        assert store.deliveries(states=[FAILED, UNCERTAIN]) == []
        assert drain(state, store) == []
    assert list((state / "inbox").iterdir()) == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(b"retry news n-1", "is not JSON text", id="not-json"),
        pytest.param(b"\xff\xfe{}", "is not JSON text", id="not-utf8"),
        pytest.param(b"[]", "is not a JSON object", id="list"),
        pytest.param(b'{"kind": "explode", "feed": "news"}', "unknown kind 'explode'", id="kind"),
        pytest.param(b'{"kind": "retry", "feed": "news"}', "retry needs a key", id="no-key"),
        pytest.param(b'{"kind": "feed-enable"}', "feed-enable needs a feed", id="no-feed"),
        pytest.param(
            b'{"kind": "retry-states", "states": ["sent"]}',
            "retry-states needs states among failed, uncertain",
            id="sent-state",
        ),
        pytest.param(
            b'{"kind": "retry-states", "states": "failed"}', "states is not a list", id="states"
        ),
        pytest.param(
            b'{"kind": "feed-enable", "feed": "news", "force": true}',
            "has unknown fields: force",
            id="extra-field",
        ),
        pytest.param(b'{"kind": "feed-enable", "feed": 7}', "feed and key must be text", id="int"),
    ],
)
def test_a_malformed_file_is_set_aside_and_the_rest_applied(
    state: Path, caplog: pytest.LogCaptureFixture, content: bytes, reason: str
) -> None:
    inbox_dir = state / "inbox"
    inbox_dir.mkdir()
    (inbox_dir / "00000000000000000001-1-bad.json").write_bytes(content)
    submit(state, Request("feed-disable", "news"))
    with caplog.at_level(logging.WARNING, logger="poster.ops.inbox"), Store(state) as store:
        bad, good = drain(state, store)
        assert store.feed_state("news").disabled == OPERATOR_DISABLED
    rejected = inbox_dir / "rejected" / "00000000000000000001-1-bad.json"
    assert bad.startswith("00000000000000000001-1-bad.json: not a request (")
    assert reason in bad and bad.endswith(f"moved to {rejected}")
    assert good.startswith("feed disable news: ")
    assert rejected.read_bytes() == content
    assert pending(state) == []
    [record] = caplog.records
    assert "event=inbox-rejected" in record.getMessage() and reason in record.getMessage()


def test_files_still_being_written_and_other_files_are_left_alone(state: Path) -> None:
    inbox_dir = state / "inbox"
    inbox_dir.mkdir()
    (inbox_dir / "00000000000000000001-1-x.json.tmp").write_text("{")
    (inbox_dir / "README").write_text("requests for the daemon")
    (inbox_dir / "rejected").mkdir()
    with Store(state) as store:
        assert drain(state, store) == []
    assert sorted(p.name for p in inbox_dir.iterdir()) == [
        "00000000000000000001-1-x.json.tmp",
        "README",
        "rejected",
    ]


def test_drain_without_an_inbox_does_nothing(state: Path) -> None:
    with Store(state) as store:
        assert drain(state, store) == []
    assert not (state / "inbox").exists()


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(Request("retry", "news", "n-1"), id="retry"),
        pytest.param(Request("retry-states", None, None, (FAILED, UNCERTAIN)), id="states"),
        pytest.param(Request("retry-states", "news", None, (FAILED,)), id="states-of-feed"),
        pytest.param(Request("feed-enable", "news"), id="enable"),
        pytest.param(Request("feed-disable", "блог"), id="disable-cyrillic"),
        pytest.param(Request("reopen", "news", "n-1", destination="subs"), id="reopen"),
    ],
)
def test_encode_and_decode_round_trip(request_: Request) -> None:
    data = encode(request_, WHEN)
    assert json.loads(data)["submitted"] == "2026-01-05T12:00:00+00:00"
    assert decode(data) == request_


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        pytest.param(("retry", "news", None, ()), "retry needs a key", id="retry-no-key"),
        pytest.param(("retry", None, "k", ()), "retry needs a feed", id="retry-no-feed"),
        pytest.param(("feed-enable", "news", "k", ()), "feed-enable takes no key", id="key"),
        pytest.param(("feed-disable", "news", None, (FAILED,)), "takes no states", id="states"),
        pytest.param(("retry-states", None, None, ()), "needs states among", id="no-states"),
        pytest.param(("pause", "news", None, ()), "unknown kind 'pause'", id="kind"),
        pytest.param(("reopen", "news", "k", ()), "reopen needs destination", id="reopen-where"),
        pytest.param(("retry", "news", "k", (), "subs"), "retry takes no destination", id="where"),
    ],
)
def test_a_request_checks_its_fields(fields: tuple[object, ...], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Request(*fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("request_", "text"),
    [
        pytest.param(Request("retry", "news", "n-1"), "retry news/n-1", id="retry"),
        pytest.param(
            Request("retry-states", "news", states=(FAILED, UNCERTAIN)),
            "retry failed and uncertain items of feed news",
            id="states",
        ),
        pytest.param(Request("feed-disable", "news"), "feed disable news", id="disable"),
    ],
)
def test_a_request_reads_as_what_it_asks(request_: Request, text: str) -> None:
    assert str(request_) == text


def test_is_locked_tells_the_lock_from_a_damaged_file(tmp_path: Path) -> None:
    with Store(tmp_path), pytest.raises(StateError) as held:
        Store(tmp_path)
    assert inbox.is_locked(held.value, tmp_path)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "poster.json").write_text("{not json")
    with pytest.raises(StateError) as broken:
        Store(damaged)
    assert not inbox.is_locked(broken.value, damaged)


def test_submit_explains_an_inbox_it_cannot_write(tmp_path: Path) -> None:
    (tmp_path / "inbox").write_text("a file where the folder should be")
    with pytest.raises(StateError, match="inbox: cannot be written: it is not a folder; remove"):
        submit(tmp_path, Request("feed-enable", "news"))


def test_submit_on_a_full_disk_says_the_disk_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(path: Path, *_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(inbox, "write_atomic", full)
    with pytest.raises(StateError) as refused:
        submit(tmp_path, Request("feed-enable", "news"))
    assert "the disk holding" in str(refused.value) and "is full; free space" in str(refused.value)
    assert "run the command as the user" not in str(refused.value)


def test_waiting_describes_each_request_in_order_and_a_file_that_is_none(state: Path) -> None:
    assert waiting(state) == []
    submit(state, Request("feed-disable", "news"))
    (state / "inbox" / "99999999999999999999-1-bad.json").write_bytes(b"{")
    found = waiting(state)
    assert found[0] == "feed disable news"
    assert found[1].startswith("99999999999999999999-1-bad.json: not a request (")


@pytest.mark.parametrize(
    ("requests", "expected"),
    [
        ([Request("feed-disable", "news")], frozenset()),
        ([Request("feed-enable", "news")], frozenset({"news"})),
        ([Request("retry", "news", "n-1"), Request("feed-enable", "blog")], {"news", "blog"}),
        ([Request("retry-states", "news", states=("failed",))], frozenset({"news"})),
        ([Request("retry-states", None, states=("failed",))], None),
        ([None], frozenset()),
    ],
    ids=["pause", "enable", "two-feeds", "retry-one-feed", "retry-every-feed", "no-request"],
)
def test_only_the_feeds_a_request_names_are_read_again_in_full(
    requests: list[Request | None], expected: frozenset[str] | None
) -> None:
    assert inbox.to_read_again(requests) == expected
