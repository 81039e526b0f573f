"""Test that a damaged journal loses at most its last append, and otherwise stops start-up."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from poster.destinations import Receipt
from poster.errors import StateError
from poster.models import Validators
from poster.store import Store
from poster.store.files import StateFiles, encode_snapshot, write_atomic
from poster.store.ledger import PENDING, SENT, UNCERTAIN

DATA = Path(__file__).parent / "data" / "store"
KEYS = [f"item-{n}" for n in range(6)]
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def post_all(state: Path) -> bytes:
    """Post every key, recording each as pending and then sent; return the journal."""
    with Store(state) as store:
        for n, key in enumerate(KEYS):
            store.record_pending("news", key, "viber")
            store.record_sent("news", key, Receipt("viber", str(n), WHEN))
    return (state / "poster.journal").read_bytes()


def line_starts(journal: bytes) -> list[int]:
    """Return the offset where each line of ``journal`` starts."""
    starts = [0]
    for line in journal.splitlines(keepends=True)[:-1]:
        starts.append(starts[-1] + len(line))
    return starts


def cut_positions(journal: bytes) -> list[int]:
    """Return every line boundary and its neighbours, and points in between."""
    around = {start + d for start in line_starts(journal) for d in (-1, 0, 1)}
    return sorted(p for p in around | set(range(0, len(journal), 37)) if 0 <= p < len(journal))


def test_only_a_cut_in_the_final_line_is_accepted(tmp_path: Path) -> None:
    whole = post_all(tmp_path / "state")
    last = line_starts(whole)[-1]
    journal = tmp_path / "state" / "poster.journal"
    accepted, refused = [], []
    for cut in cut_positions(whole):
        journal.write_bytes(whole[:cut])
        try:
            with Store(tmp_path / "state", read_only=True) as store:
                states = {r.key: r.state for r in store.deliveries()}
        except StateError as exc:
            assert exc.path == journal
            assert "put the complete file back" in str(exc) or "not a journal header" in str(exc)
            assert "move the journal aside" in str(exc)
            refused.append(cut)
            continue
        accepted.append(cut)
        # Only the final change, the last item marked sent, may be missing.
        assert states == {**dict.fromkeys(KEYS, SENT), KEYS[-1]: states[KEYS[-1]]}
    assert accepted == [p for p in cut_positions(whole) if p >= last]
    assert refused == [p for p in cut_positions(whole) if p < last]


def test_the_refusal_names_the_file_and_what_was_lost(tmp_path: Path) -> None:
    whole = post_all(tmp_path)
    (tmp_path / "poster.journal").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(StateError) as caught:
        Store(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"state file {tmp_path / 'poster.journal'}: ends at byte ")
    assert "recorded changes were lost, and their items would be posted again" in message
    assert (tmp_path / "poster.journal").read_bytes() == whole[: len(whole) // 2], "left alone"


def test_a_torn_final_line_is_cut_off_and_writing_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    whole = post_all(tmp_path)
    (tmp_path / "poster.journal").write_bytes(whole[:-10])
    with caplog.at_level(logging.WARNING), Store(tmp_path) as store:
        assert "state=torn-journal" in caplog.text
        assert [r.state for r in store.deliveries()][-1] == UNCERTAIN
        store.record_failed("news", "later", "viber", "bad")
    with Store(tmp_path) as store:
        assert len(store.deliveries()) == len(KEYS) + 1


def test_a_gap_in_the_change_numbers_is_refused(tmp_path: Path) -> None:
    whole = post_all(tmp_path)
    lines = whole.splitlines(keepends=True)
    # Lines of the same length keep the committed length honest: only the numbers tell.
    (tmp_path / "poster.journal").write_bytes(b"".join([*lines[:3], lines[4], *lines[4:]]))
    with pytest.raises(StateError, match="change 3 is missing \\(line 4 holds change 4\\)"):
        Store(tmp_path, read_only=True)


def test_an_empty_journal_is_refused_and_a_missing_one_is_noted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    post_all(tmp_path)
    journal = tmp_path / "poster.journal"
    journal.write_bytes(b"")
    with pytest.raises(StateError, match="ends at byte 0"):
        Store(tmp_path)
    journal.unlink()  # what the operator does to start from the snapshot alone
    with caplog.at_level(logging.WARNING), Store(tmp_path) as store:
        assert "state=journal-missing" in caplog.text
        assert store.deliveries() == []


def test_a_snapshot_numbers_the_changes_its_journal_continues(tmp_path: Path) -> None:
    post_all(tmp_path)
    with Store(tmp_path) as store:
        store.compact()
        store.record_failed("news", "after", "viber", "bad")
    journal = (tmp_path / "poster.journal").read_bytes().splitlines()
    assert journal[1].startswith(b'{"seq":%d,' % (2 * len(KEYS) + 1))
    files = StateFiles(tmp_path / "poster.json")
    # A snapshot that claims fewer changes than its journal continues from is refused.
    data = files.snapshot.read_bytes().replace(b'"seq":12', b'"seq":11')
    write_atomic(files.snapshot, data)
    with pytest.raises(StateError, match="change 12 is missing"):
        Store(tmp_path)


def test_a_state_of_the_previous_format_opens_and_is_rewritten_in_this_one(
    tmp_path: Path,
) -> None:
    shutil.copytree(DATA / "v1", tmp_path / "v1")
    with Store(DATA / "v1", read_only=True) as old:
        expected = old.deliveries()
    with Store(tmp_path / "v1") as store:
        assert len(store.deliveries()) == len(expected)
    header = (tmp_path / "v1" / "poster.journal").read_bytes().splitlines()[0]
    assert b'"committed":' in header
    with Store(tmp_path / "v1", read_only=True) as store:
        assert [r.key for r in store.deliveries()] == [r.key for r in expected]


def test_a_snapshot_written_without_a_journal_opens(tmp_path: Path) -> None:
    write_atomic(tmp_path / "poster.json", encode_snapshot("g", None, {}))
    with Store(tmp_path) as store:
        store.record_failed("news", "a", "viber", "bad")
    with Store(tmp_path) as store:
        assert [r.key for r in store.deliveries()] == ["a"]


def post_batched(state: Path) -> tuple[bytes, bytes, bytes]:
    """Post every key in a batch, keeping validators too; return the journal before and after
    the last intent was written, and after the batch."""
    journal = state / "poster.journal"
    with Store(state, clock=lambda: WHEN) as store, store.batched():
        for n, key in enumerate(KEYS):
            before = journal.read_bytes()
            store.record_pending("news", key, "viber")
            after = journal.read_bytes()
            store.record_sent("news", key, Receipt("viber", str(n), WHEN))
            store.save_validators("news", Validators(etag=f'"v{n}"'))
    return before, after, journal.read_bytes()


def test_a_batch_writes_the_same_lines_with_an_fsync_per_intent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsyncs.append(fd) or real_fsync(fd))
    with Store(tmp_path / "one", clock=lambda: WHEN) as store:
        opened = len(fsyncs)
        for n, key in enumerate(KEYS):
            store.record_pending("news", key, "viber")
            store.record_sent("news", key, Receipt("viber", str(n), WHEN))
            store.save_validators("news", Validators(etag=f'"v{n}"'))
        unbatched = len(fsyncs) - opened
    fsyncs.clear()
    *_, batched = post_batched(tmp_path / "two")
    assert (unbatched, len(fsyncs) - opened) == (3 * len(KEYS), len(KEYS) + 1)
    one = (tmp_path / "one" / "poster.journal").read_bytes().splitlines()
    assert one[1:] == batched.splitlines()[1:], "only the header's generation differs"


def test_a_damaged_line_of_the_last_append_is_dropped_with_the_lines_after_it(
    tmp_path: Path,
) -> None:
    before, after, _ = post_batched(tmp_path)
    # The last intent was appended with the result and validators held before it, in one write.
    start, journal = len(before), tmp_path / "poster.journal"
    assert after.count(b"\n", start) == 3
    # A crash during its fsync may keep a later page of it and lose an earlier one.
    first_end = after.index(b"\n", start)
    journal.write_bytes(after[: start + 2] + b"\0" * (first_end - start - 2) + after[first_end:])
    with Store(tmp_path, read_only=True) as store:
        states = {r.key: r.state for r in store.deliveries()}
        assert store.validators("news") == Validators(etag=f'"v{len(KEYS) - 3}"')
    assert states == {**dict.fromkeys(KEYS[:-2], SENT), KEYS[-2]: PENDING}
    # The same damage in an earlier append is refused: its lines had been confirmed.
    early = line_starts(after)[2]
    journal.write_bytes(after[: early + 2] + b"\0" * 10 + after[early + 12 :])
    with pytest.raises(StateError, match="line 3 is not valid JSON"):
        Store(tmp_path, read_only=True)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"ids":["1","2"]', b'"ids":[1, 2, 3]'),
        (b'"ids":["1","2"]', b'"ids":"1,2,3,4"'),
        (b'"set":{"fields":', b'"set":{"fielde":'),
    ],
    ids=["ids-not-strings", "ids-not-a-list", "no-fields"],
)
def test_a_line_setting_fields_on_documents_is_checked_like_any_other(
    tmp_path: Path, old: bytes, new: bytes
) -> None:
    with Store(tmp_path) as store:
        store.record_fetch_ok("news", WHEN)
        store.record_fetch_ok("sport", WHEN)
        store.record_fetches_ok(["news", "sport"], datetime(2024, 5, 2, tzinfo=UTC))
        store.record_pending("news", "a", "viber")
    journal = tmp_path / "poster.journal"
    whole = journal.read_bytes()
    assert len(old) == len(new) and whole.count(old) == 1
    journal.write_bytes(whole.replace(old, new))
    with pytest.raises(StateError, match=r"line 4 (sets fields|is not a change)"):
        Store(tmp_path, read_only=True)
