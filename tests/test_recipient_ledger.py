"""Record batches per recipient: never twice, never lost, through crashes and retention."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.clock import Clock

from poster.cli import EXIT_CONFIG, EXIT_ENVIRONMENT, EXIT_OK, main
from poster.errors import StateError, UsageError
from poster.store import Store
from poster.store.files import StateFiles
from poster.store.recipientledger import LedgerStorage, RecipientLedger, StatusUpdate, ledger_path

DAY = 86400.0
PHONES = tuple(f"37529{n:07d}" for n in range(10))


def open_ledger(path: Path, clock: Clock, **options: object) -> RecipientLedger:
    """Open the ledger at ``path`` on the test's clock."""
    return RecipientLedger(path, clock=lambda: datetime.fromtimestamp(clock.now, UTC), **options)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return ledger_path(tmp_path, "subs")


def test_answered_recipients_are_not_planned_again_and_survive_a_reopen(
    path: Path, clock: Clock
) -> None:
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("a", PHONES) == PHONES
        batch = ledger.record_intent("a", PHONES[:4])
        ids = {PHONES[0]: "m0", PHONES[1]: "m1"}
        ledger.record_result(batch, PHONES[:2], {PHONES[2]: "no Viber", PHONES[3]: "no Viber"}, ids)
        assert ledger.plan("a", PHONES) == PHONES[4:]
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("a", PHONES) == PHONES[4:]
        outcome = ledger.outcome("a")
    assert (outcome.accepted, outcome.rejected, outcome.pending, outcome.uncertain) == (2, 2, 0, 0)
    assert outcome.rejected_reasons == (("no Viber", 2),)


def test_a_crash_after_intent_leaves_exactly_that_batch_uncertain(path: Path, clock: Clock) -> None:
    ledger = open_ledger(path, clock)
    ledger.plan("a", PHONES)  # a send plans every number first
    done = ledger.record_intent("a", PHONES[:3])
    ledger.record_result(done, PHONES[:3])
    ledger.record_intent("a", PHONES[3:6])
    assert ledger.outcome("a").pending == 3
    # The process dies here: the journal holds the intent and no result.
    ledger.storage.close()
    with open_ledger(path, clock) as reopened:
        assert reopened.plan("a", PHONES) == PHONES[6:]
        [batch] = reopened.open_batches()
        assert (batch.size, batch.state) == (3, "uncertain")
        assert "stopped after the request was recorded" in batch.why
        assert reopened.outcome("a").accepted == 3


def test_a_partial_result_frees_the_unreached_and_keeps_only_the_lost_uncertain(
    path: Path, clock: Clock
) -> None:
    with open_ledger(path, clock) as ledger:
        ledger.plan("a", PHONES)
        group = ledger.record_intent("a", PHONES[:6])
        ledger.record_result(
            group, PHONES[:2], {PHONES[2]: "no Viber"}, released=PHONES[4:6],
            why="the answer was lost: read timeout",
        )  # fmt: skip
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("a", PHONES) == PHONES[4:]
        [batch] = ledger.open_batches()
        assert (batch.size, batch.state, batch.why) == (
            1, "uncertain", "the answer was lost: read timeout"
        )  # fmt: skip
        outcome = ledger.outcome("a")
    assert (outcome.accepted, outcome.rejected, outcome.uncertain) == (2, 1, 1)


def test_a_lost_answer_is_never_resent_until_an_operator_releases_it(
    path: Path, clock: Clock
) -> None:
    with open_ledger(path, clock) as ledger:
        ledger.plan("a", PHONES)
        first = ledger.record_intent("a", PHONES[:2])
        ledger.record_uncertain(first, "read timeout")
        second = ledger.record_intent("a", PHONES[2:4])
        ledger.record_result(second, [PHONES[2]])
        assert ledger.plan("a", PHONES) == PHONES[4:]
        assert ledger.outcome("a").uncertain == 3
        with pytest.raises(StateError, match="must not get it again"):
            ledger.record_intent("a", PHONES[:1])
        ledger.release(first)
        assert ledger.plan("a", PHONES) == PHONES[:2] + PHONES[4:]
        with pytest.raises(UsageError, match="no open batch"):
            ledger.release(first)


def test_an_intent_leaves_out_a_number_opted_out_since_the_plan(path: Path, clock: Clock) -> None:
    with open_ledger(path, clock) as ledger:
        planned = ledger.plan("a", PHONES[:4])
        ledger.suppress(PHONES[1], "blacklisted")
        batch = ledger.record_intent("a", planned)
        assert ledger.members(batch) == (PHONES[0], *PHONES[2:4])
        ledger.record_result(batch, ledger.members(batch))
        assert ledger.outcome("a").accepted == 3
        with pytest.raises(StateError, match="must not get it again"):
            ledger.record_intent("a", PHONES[:1])


def test_a_late_answer_settles_an_uncertain_batch(path: Path, clock: Clock) -> None:
    with open_ledger(path, clock) as ledger:
        batch = ledger.record_intent("a", PHONES[:2])
        ledger.record_uncertain(batch, "connection reset")
        ledger.record_result(batch, PHONES[:2])
        assert ledger.open_batches() == []
        assert ledger.outcome("a").accepted == 2


def two_sent(path: Path, clock: Clock) -> Path:
    """Send item "a" to the first two numbers; return the ledger's journal."""
    with open_ledger(path, clock) as ledger:
        ledger.plan("a", PHONES)
        batch = ledger.record_intent("a", PHONES[:2])
        ledger.record_result(batch, PHONES[:2])
    return StateFiles(path).journal


def test_a_torn_final_line_is_dropped_and_its_batch_was_never_sent(
    path: Path, clock: Clock
) -> None:
    journal = two_sent(path, clock)
    with journal.open("ab") as out:
        out.write(b'{"seq":99,"table":"events","put":{"1":{"e":"inte')
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("a", PHONES) == PHONES[2:]
        assert ledger.open_batches() == []


def test_a_damaged_journal_line_says_to_restore_never_to_move_the_journal_aside(
    path: Path, clock: Clock
) -> None:
    journal = two_sent(path, clock)
    lines = journal.read_bytes().split(b"\n")
    journal.write_bytes(b"\n".join([lines[0], b"[1, 2]", *lines[1:]]))
    with pytest.raises(StateError) as caught:
        open_ledger(path, clock)
    said = str(caught.value)
    assert str(journal) in said and "line 2 is not a change" in said
    assert "restore the ledger folder from a backup" in said
    assert "nor move its journal aside" in said and "start from the snapshot alone" not in said


def test_a_damaged_snapshot_put_back_from_its_backup_plans_no_number_twice(
    path: Path, clock: Clock
) -> None:
    with open_ledger(path, clock) as ledger:
        ledger.plan("a", PHONES)
        ledger.record_result(ledger.record_intent("a", PHONES[:3]), PHONES[:3])
        ledger.storage.compact()
        ledger.record_result(ledger.record_intent("a", PHONES[3:6]), PHONES[3:6])
        ledger.storage.compact()
        ledger.record_result(ledger.record_intent("a", PHONES[6:8]), PHONES[6:8])
    files = StateFiles(path)
    files.snapshot.write_bytes(files.snapshot.read_bytes()[:40])
    with pytest.raises(StateError) as caught:
        open_ledger(path, clock)
    said = str(caught.value)
    assert "move it into place" in said and "Do not remove the file" in said
    assert "start empty" not in said
    files.snapshot.write_bytes(files.backup.read_bytes())
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("a", PHONES) == PHONES[8:]


def test_recipients_added_after_an_item_get_only_newer_items(path: Path, clock: Clock) -> None:
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("old", PHONES[:2]) == PHONES[:2]
        clock.now += 60
        assert ledger.plan("old", PHONES[:3]) == PHONES[:2]
        clock.now += 60
        assert ledger.plan("new", PHONES[:3]) == PHONES[:3]
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("old", PHONES[:3]) == PHONES[:2]


def test_a_clock_stepping_back_holds_no_recipient_back_from_a_later_item(
    path: Path, clock: Clock
) -> None:
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("ahead", PHONES[:2]) == PHONES[:2]
        clock.now -= DAY - 300  # the clock ran a day ahead, and is set right
        assert ledger.plan("later", PHONES[:3]) == PHONES[:3]
        assert ledger.plan("ahead", PHONES[:3]) == PHONES[:2]
        ledger.storage.compact()
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("later", PHONES[:3]) == PHONES[:3]
        assert ledger.plan("ahead", PHONES[:3]) == PHONES[:2]


def test_a_ledger_without_orders_plans_its_numbers_for_every_item_but_not_again(
    path: Path, clock: Clock
) -> None:
    with open_ledger(path, clock) as ledger:
        ledger.plan("a", PHONES[:2])
        ledger.record_result(ledger.record_intent("a", PHONES[:1]), PHONES[:1])
        clock.now += 60
        ledger.plan("b", PHONES[:3])
        ledger.storage.compact()
    snapshot = json.loads(path.read_bytes())
    del snapshot["tables"]["ledger"]["1"]["orders"]  # as an earlier release wrote it
    path.write_text(json.dumps(snapshot))
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("a", PHONES[:3]) == PHONES[1:3]
        assert ledger.plan("b", PHONES[:3]) == PHONES[:3]
        assert ledger.plan("c", PHONES[:4]) == PHONES[:4]
        assert ledger.plan("b", PHONES[:4]) == PHONES[:3]


def test_items_past_retention_are_forgotten_and_the_rest_kept(path: Path, clock: Clock) -> None:
    with open_ledger(path, clock, retention_days=90) as ledger:
        batch = ledger.record_intent("old", PHONES[:2])
        ledger.record_result(batch, PHONES[:2])
        clock.now += 80 * DAY
        batch = ledger.record_intent("recent", PHONES[:2])
        ledger.record_result(batch, PHONES[:2])
    clock.now += 11 * DAY
    with open_ledger(path, clock, retention_days=90) as ledger:
        assert ledger.outcome("old").accepted == 0
        assert ledger.outcome("recent").accepted == 2
        ledger.storage.compact()
    kept = json.loads(path.read_bytes())["tables"]["ledger"]["1"]
    assert (list(kept["items"]), list(kept["done"])) == (["recent"], ["old"])


def test_an_item_forgotten_past_retention_is_planned_to_nobody_again(
    path: Path, clock: Clock
) -> None:
    with open_ledger(path, clock) as ledger:
        ledger.plan("a", PHONES)
        ledger.record_result(ledger.record_intent("a", PHONES[:2]), PHONES[:2])
    clock.now += 91 * DAY
    with open_ledger(path, clock) as ledger:
        assert ledger.forgotten("a")
        assert ledger.plan("a", PHONES) == ()
        ledger.storage.compact()
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("a", PHONES) == ()
        assert ledger.plan("b", PHONES) == PHONES


def test_an_item_with_an_open_batch_is_kept_past_retention_until_it_is_released(
    path: Path, clock: Clock
) -> None:
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("a", PHONES[:3]) == PHONES[:3]
        ledger.record_result(ledger.record_intent("a", PHONES[:1]), PHONES[:1], {PHONES[0]: "m1"})
        ledger.record_uncertain(ledger.record_intent("a", PHONES[1:2]), "answer lost")
    clock.now += 91 * DAY
    with open_ledger(path, clock) as ledger:
        [batch] = ledger.open_batches()
        assert (ledger.outcome("a").accepted, ledger.outcome("a").uncertain) == (1, 1)
        assert ledger.plan("a", PHONES[:3]) == PHONES[2:3]
        ledger.release(batch.batch_id)
        assert ledger.plan("a", PHONES[:3]) == PHONES[1:3]
    clock.now += 91 * DAY
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("a", PHONES[:3]) == ()


def test_an_item_still_being_sent_or_kept_longer_is_not_forgotten(path: Path, clock: Clock) -> None:
    with open_ledger(path, clock) as ledger:
        ledger.plan("backlog", PHONES)
        ledger.plan("kept", PHONES)
        ledger.record_result(ledger.record_intent("kept", PHONES[:1]), PHONES[:1])
        clock.now += 80 * DAY  # max_per_day lets a few more go each day
        ledger.record_result(ledger.record_intent("backlog", PHONES[:1]), PHONES[:1])
    clock.now += 20 * DAY
    with open_ledger(path, clock, retention_days=180) as ledger:
        assert ledger.plan("backlog", PHONES) == PHONES[1:]
        assert ledger.plan("kept", PHONES) == PHONES[1:]
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("backlog", PHONES) == PHONES[1:]
        assert ledger.plan("kept", PHONES) == ()


def test_opted_out_numbers_are_suppressed_persisted_and_listed(
    path: Path, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_ledger(path, clock) as ledger:
        batch = ledger.record_intent("a", PHONES[:3])
        blacklisted = {PHONES[1]: "error: number is blacklisted"}
        ledger.record_result(batch, [PHONES[0], PHONES[2]], blacklisted, opted_out=[PHONES[1]])
        clock.now += 60
        ledger.suppress(PHONES[5], "asked to stop")
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("b", PHONES) == tuple(
            p for p in PHONES if p not in {PHONES[1], PHONES[5]}
        )
        listed = [(o.phone, o.reason) for o in ledger.opted_out()]
    assert listed == [(PHONES[1], "error: number is blacklisted"), (PHONES[5], "asked to stop")]
    state = str(path.parent.parent.parent)
    assert main(["--state-dir", state, "recipients", "optouts", "subs"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in out] == [PHONES[1], PHONES[5]]
    assert out[1].endswith("\tasked to stop")
    with open_ledger(path.parent.parent / "none" / path.name, clock):
        pass  # a destination whose gateway reported no opt-out
    assert main(["--state-dir", state, "recipients", "optouts", "none"]) == EXIT_OK
    shown = capsys.readouterr()
    assert shown.out == "" and shown.err == "no number opted out at none\n"


def test_statuses_are_counted_per_item_by_message_id_or_phone(path: Path, clock: Clock) -> None:
    with open_ledger(path, clock, status_days=2) as ledger:
        batch = ledger.record_intent("a", PHONES[:4])
        ids = {phone: f"id-{n}" for n, phone in enumerate(PHONES[:4])}
        ledger.record_result(batch, PHONES[:4], message_ids=ids)
        known = ledger.record_statuses(
            [
                StatusUpdate("id-0", "delivered"),
                StatusUpdate("id-1", "read"),
                StatusUpdate(("a", PHONES[2]), "failed", "expired"),
                StatusUpdate("id-0", "delivered"),
                StatusUpdate("id-unknown", "delivered"),
                StatusUpdate(("a", PHONES[9]), "read"),
            ]
        )
        assert known == 4
    with open_ledger(path, clock, status_days=2) as ledger:
        outcome = ledger.outcome("a")
        assert (outcome.delivered, outcome.read, outcome.failed) == (2, 1, 1)
        assert outcome.failed_reasons == (("expired", 1),)
        clock.now += 3 * DAY
    with open_ledger(path, clock, status_days=2) as ledger:
        assert not ledger.record_status("id-3", "read")
        assert ledger.record_status(("a", PHONES[3]), "read")
        with pytest.raises(ValueError, match="unknown delivery status"):
            ledger.record_status("id-3", "seen")


def test_an_unknown_status_is_not_asked_again_and_counts_until_a_final_one(
    path: Path, clock: Clock
) -> None:
    with open_ledger(path, clock, status_days=2) as ledger:
        batch = ledger.record_intent("a", PHONES[:3])
        ids = {phone: f"id-{n}" for n, phone in enumerate(PHONES[:3])}
        ledger.record_result(batch, PHONES[:3], message_ids=ids)
        assert ledger.unsettled(10) == ["id-0", "id-1", "id-2"]
        reason = "Invalid Parameter: message_id"
        assert (
            ledger.record_statuses(
                [StatusUpdate("id-0", "unknown", reason), StatusUpdate("id-1", "unknown", reason)]
            )
            == 2
        )
    with open_ledger(path, clock, status_days=2) as ledger:
        assert ledger.unsettled(10) == ["id-2"]
        outcome = ledger.outcome("a")
        assert (outcome.unknown, outcome.delivered, outcome.failed) == (2, 0, 0)
        # A callback may still bring the final status: it counts as that, no longer unknown.
        ledger.record_status("id-1", "delivered")
        outcome = ledger.outcome("a")
        assert (outcome.unknown, outcome.delivered) == (1, 1)


def test_a_poll_is_not_given_ids_past_status_days_while_the_ledger_stays_open(
    path: Path, clock: Clock
) -> None:
    with open_ledger(path, clock, status_days=2) as ledger:
        batch = ledger.record_intent("a", PHONES[:2])
        ledger.record_result(batch, PHONES[:2], message_ids={PHONES[0]: "id-0", PHONES[1]: "id-1"})
        clock.now += 2 * DAY
        later = ledger.record_intent("b", PHONES[:1])
        ledger.record_result(later, PHONES[:1], message_ids={PHONES[0]: "id-2"})
        assert ledger.unsettled(10) == ["id-0", "id-1", "id-2"]
        clock.now += 1.5 * DAY  # "a" was sent 3.5 days ago: its statuses no longer come
        assert ledger.unsettled(10) == ["id-2"]


def test_a_read_only_ledger_plans_without_writing(path: Path, clock: Clock) -> None:
    with open_ledger(path, clock) as ledger:
        ledger.record_result(ledger.record_intent("a", PHONES[:1]), PHONES[:1])
    before = StateFiles(path).journal.read_bytes()
    with open_ledger(path, clock, read_only=True) as ledger:
        assert ledger.plan("b", PHONES[:2]) == PHONES[:2]
        with pytest.raises(StateError, match="read-only"):
            ledger.suppress(PHONES[0], "x")
    assert StateFiles(path).journal.read_bytes() == before


@pytest.mark.parametrize("compacted", [False, True], ids=["journal", "snapshot"])
def test_a_carried_item_goes_on_where_its_old_name_stopped(
    path: Path, clock: Clock, compacted: bool
) -> None:
    with open_ledger(path, clock) as ledger:
        ledger.plan("news a", PHONES)
        ledger.record_result(ledger.record_intent("news a", PHONES[:3]), PHONES[:3])
        ledger.record_uncertain(ledger.record_intent("news a", PHONES[3:5]), "timeout")
        ledger.plan("city b", PHONES)  # already planned under its new name: left as it is
        pairs = [("news a", "city a"), ("news b", "city b"), ("news c", "city c")]
        assert ledger.carry(pairs) == 1  # "news c" is unknown
        assert ledger.carry(pairs) == 0
        if compacted:
            ledger.storage.compact()
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("city a", PHONES) == PHONES[5:]
        assert ledger.plan("city b", PHONES) == PHONES
        assert ledger.carry([("city a", "town a")]) == 1  # renamed again
        batch = ledger.record_intent("town a", PHONES[5:])
        ledger.record_result(batch, PHONES[5:])
        assert ledger.plan("news a", PHONES) == ledger.plan("city a", PHONES) == ()
        # A gateway may name a message by the item and number it was sent for.
        assert ledger.record_status(("town a", PHONES[5]), "delivered")
        assert ledger.record_status(("city a", PHONES[0]), "delivered")
        outcome = ledger.outcome("town a")
    assert (outcome.accepted, outcome.uncertain, outcome.delivered) == (8, 2, 2)


def test_a_read_only_ledger_carries_in_memory(path: Path, clock: Clock) -> None:
    with open_ledger(path, clock) as ledger:
        ledger.plan("news a", PHONES[:2])
        ledger.record_result(ledger.record_intent("news a", PHONES[:1]), PHONES[:1])
    before = StateFiles(path).journal.read_bytes()
    with open_ledger(path, clock, read_only=True) as ledger:
        assert ledger.carry([("news a", "city a")]) == 1
        assert ledger.plan("city a", PHONES[:2]) == PHONES[1:2]
    assert StateFiles(path).journal.read_bytes() == before


def test_compaction_keeps_every_answer_and_open_batch(path: Path, clock: Clock) -> None:
    with open_ledger(path, clock) as ledger:
        ledger.plan("a", PHONES)
        ledger.record_result(ledger.record_intent("a", PHONES[:3]), PHONES[:2], {PHONES[2]: "x"})
        ledger.record_uncertain(ledger.record_intent("a", PHONES[3:5]), "timeout")
        ledger.storage.compact()
        ledger.suppress(PHONES[9], "stop")
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("a", PHONES) == PHONES[5:9]
        assert [b.size for b in ledger.open_batches()] == [2]


def test_uncertain_and_release_commands(
    path: Path, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    # The commands run on the wall clock: the item must be within retention there.
    clock.now = time.time()
    with open_ledger(path, clock) as ledger:
        batch = ledger.record_intent("city k1", PHONES[:2], batch_id="b1")
        ledger.record_uncertain(batch, "read timeout")
    state = str(path.parent.parent.parent)
    with Store(Path(state)) as store:
        store.record_uncertain("city", "k1", "subs", "read timeout")
    assert main(["--state-dir", state, "recipients", "uncertain", "subs"]) == EXIT_OK
    assert capsys.readouterr().out == "b1\tcity k1\t2\tuncertain\tread timeout\n"
    with open_ledger(path, clock):
        code = main(["--state-dir", state, "recipients", "release", "subs", "b1"])
        assert code == EXIT_ENVIRONMENT
        assert "is locked" in capsys.readouterr().err
    assert main(["--state-dir", state, "recipients", "release", "subs", "b1"]) == EXIT_OK
    with open_ledger(path, clock) as ledger:
        assert ledger.plan("city k1", PHONES[:2]) == PHONES[:2]
    with Store(Path(state), read_only=True) as store:
        assert not store.is_known("city", "k1")
    assert main(["--state-dir", state, "recipients", "optouts", "other"]) == EXIT_CONFIG
    refused = capsys.readouterr().err
    assert "'other' has no recipient ledger" in refused
    assert refused.rstrip().endswith("the gateway destinations that have one: subs")
    empty = str(Path(state).parent / "empty")
    assert main(["--state-dir", empty, "recipients", "optouts", "viber"]) == EXIT_CONFIG
    assert "none of this state has one" in capsys.readouterr().err


def test_a_settled_batch_counts_as_accepted_and_is_never_sent_again(
    path: Path, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    clock.now = time.time()
    with open_ledger(path, clock) as ledger:
        ledger.plan("city k1", PHONES)
        ledger.record_uncertain(ledger.record_intent("city k1", PHONES[:3], batch_id="b1"), "lost")
        ledger.record_intent("city k1", PHONES[3:5], batch_id="b2")  # still waiting
        with pytest.raises(UsageError, match="still waiting for its answer"):
            ledger.settle("b2")
    state = str(path.parent.parent.parent)
    assert main(["--state-dir", state, "recipients", "settle", "subs", "b1"]) == EXIT_OK
    assert "settled batch b1 of item 'k1' of feed 'city'" in capsys.readouterr().out
    assert main(["--state-dir", state, "recipients", "settle", "subs", "b9"]) == EXIT_CONFIG
    assert "no open batch b9" in capsys.readouterr().err
    with open_ledger(path, clock) as ledger:  # b2 is now uncertain: its process stopped
        assert [b.batch_id for b in ledger.open_batches()] == ["b2"]
        assert ledger.plan("city k1", PHONES) == PHONES[5:]
        assert ledger.outcome("city k1").accepted == 3


def test_a_release_from_the_command_line_prunes_nothing(
    path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The commands read no feeds.toml, so they cannot know a retention longer than 90 days.
    clock.now = time.time() - 120 * DAY
    with open_ledger(path, clock) as ledger:
        ledger.plan("city old", PHONES)
        ledger.record_result(ledger.record_intent("city old", PHONES[:2]), PHONES[:2])
    clock.now = time.time()
    with open_ledger(path, clock, retention_days=365) as ledger:
        ledger.record_uncertain(ledger.record_intent("city k1", PHONES[:2], batch_id="b1"), "lost")
    state = Path(path.parent.parent.parent)
    with Store(state) as store:
        store.record_uncertain("city", "k1", "subs", "lost")
    monkeypatch.setattr(LedgerStorage, "min_compact_bytes", 0)  # the release compacts
    assert main(["--state-dir", str(state), "recipients", "release", "subs", "b1"]) == EXIT_OK
    with open_ledger(path, clock, retention_days=365) as ledger:
        assert not ledger.forgotten("city old")
        assert ledger.outcome("city old").accepted == 2


@pytest.mark.parametrize(
    ("written", "damaged"),
    [(b'"e":"result"', b'"e":"reslt"'), (b'"rejected":{}', b'"rejected":1 ')],
    ids=["unknown-event", "number-for-a-map"],
)
def test_a_ledger_record_of_the_wrong_shape_is_a_state_error_that_names_the_file(
    path: Path, clock: Clock, written: bytes, damaged: bytes
) -> None:
    with open_ledger(path, clock) as ledger:
        ledger.plan("a", PHONES[:1])
        ledger.record_result(ledger.record_intent("a", PHONES[:1]), PHONES[:1])
    journal = path.with_suffix(".journal")
    data = journal.read_bytes()
    assert written in data
    journal.write_bytes(data.replace(written, damaged, 1))
    with pytest.raises(StateError) as caught:
        open_ledger(path, clock)
    said = str(caught.value)
    assert str(journal) in said and "cannot read" in said and "Do not delete" in said
