"""Test the state directory's guard: its lock, files replaced under a writer, OS refusals."""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from poster.destinations import Receipt
from poster.errors import StateError
from poster.store import Store, place
from poster.store import files as files_module
from poster.store.files import StateFiles, write_atomic
from poster.store.ledger import SENT
from poster.store.place import DAEMON, ONE_SHOT, Holder, read_holder, user_name

WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def post(store: Store, key: str) -> None:
    store.record_pending("news", key, "viber")
    store.record_sent("news", key, Receipt("viber", f"token-{key}", WHEN))


# Files deleted or replaced under a running writer


def delete_folder(state: Path) -> None:
    shutil.rmtree(state)


def replace_folder(state: Path) -> None:
    state.rename(state.with_name("moved-away"))
    state.mkdir()


def delete_journal(state: Path) -> None:
    (state / "poster.journal").unlink()


def delete_snapshot(state: Path) -> None:
    (state / "poster.json").unlink()


def old_copy(state: Path) -> None:
    shutil.copytree(state, state.with_name("copy"))
    shutil.rmtree(state)
    state.with_name("copy").rename(state)


LOSSES: dict[str, Callable[[Path], None]] = {
    "folder-deleted": delete_folder,
    "folder-replaced": replace_folder,
    "journal-deleted": delete_journal,
    "snapshot-deleted": delete_snapshot,
    "folder-restored-from-a-copy": old_copy,
}


@pytest.mark.parametrize("lose", LOSSES.values(), ids=LOSSES.keys())
def test_a_writer_writes_its_state_back_when_the_files_go(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, lose: Callable[[Path], None]
) -> None:
    state = tmp_path / "state"
    with Store(state, clock=lambda: WHEN) as store:
        for n in range(4):
            post(store, f"a{n}")
        lose(state)
        with caplog.at_level(logging.WARNING):
            post(store, "after")
        [warning] = [r for r in caplog.records if "state=written-back" in r.message]
        assert "nothing was lost" in warning.message
        post(store, "later")
    with Store(state, read_only=True) as reopened:
        assert [r.key for r in reopened.deliveries(states={SENT})] == [
            "a0", "a1", "a2", "a3", "after", "later"
        ]  # fmt: skip
        assert reopened.restored is not None
        assert reopened.restored.startswith("2024-05-01T12:00:00+00:00: the ")
        assert reopened.restored.endswith("while poster ran; it wrote the state back from memory")


def test_a_writer_that_cannot_write_back_keeps_its_state_and_tries_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    with Store(state) as store:
        post(store, "a")
        shutil.rmtree(state)
        with monkeypatch.context() as patched:
            patched.setattr(files_module, "write_atomic", refuse(errno.ENOSPC))
            with pytest.raises(
                StateError, match="is full; free space \\(the state keeps all it had"
            ):
                post(store, "b")
        assert store.is_known("news", "a") and not store.is_known("news", "b")
        post(store, "b")
    with Store(state, read_only=True) as reopened:
        assert [r.key for r in reopened.deliveries()] == ["a", "b"]


def test_a_compaction_cut_short_after_its_snapshot_is_finished_by_the_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = files_module.write_atomic

    def journal_fails(path: Path, data: bytes) -> None:
        if path.suffix == ".journal":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    with Store(tmp_path) as store:
        post(store, "a")
        with monkeypatch.context() as patched:
            patched.setattr(files_module, "write_atomic", journal_fails)
            with pytest.raises(StateError, match="is full"):
                store.compact()
        post(store, "b")
    with Store(tmp_path, read_only=True) as reopened:
        assert [r.key for r in reopened.deliveries(states={SENT})] == ["a", "b"]


# The lock


def unlink_lock(state: Path) -> None:
    (state / "poster.lock").unlink()


def replace_lock(state: Path) -> None:
    (state / "poster.lock").unlink()
    (state / "poster.lock").write_bytes(b"")


def unlink_holder(state: Path) -> None:
    (state / "poster.holder").unlink()


def unlink_every_file(state: Path) -> None:
    for path in state.iterdir():
        path.unlink()


WAYS = {
    "lock-file-deleted": unlink_lock,
    "lock-file-replaced": replace_lock,
    "holder-deleted": unlink_holder,
    "every-file-deleted": unlink_every_file,
}


@pytest.mark.parametrize("attack", WAYS.values(), ids=WAYS.keys())
def test_the_lock_cannot_be_lost_by_deleting_files(
    tmp_path: Path, attack: Callable[[Path], None]
) -> None:
    with Store(tmp_path) as first:
        post(first, "a")
        attack(tmp_path)
        with pytest.raises(StateError, match="is locked: another poster process") as caught:
            Store(tmp_path)
        assert caught.value.path == tmp_path / "poster.lock"
        post(first, "b")
    with Store(tmp_path) as after:
        assert after.is_known("news", "b")


def test_a_writer_whose_folder_was_taken_over_stops_writing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store(state) as first:
        post(first, "a")
        replace_folder(state)
        with Store(state) as second:
            with pytest.raises(StateError, match="is locked"):
                post(first, "b")
            assert not second.is_known("news", "b")


def test_the_holder_says_its_role_and_is_forgotten_on_close(tmp_path: Path) -> None:
    files = StateFiles(tmp_path / "poster.json")
    with Store(tmp_path, role=DAEMON):
        assert read_holder(files) == Holder(DAEMON, os.getpid())
    assert read_holder(files) is None
    with Store(tmp_path):
        assert read_holder(files) == Holder(ONE_SHOT, os.getpid())
    files.holder.write_text('{"role": "daemon", "pid": 999999999}')
    assert read_holder(files) is None, "a holder no longer alive is stale"


# Operating-system refusals


def refuse(code: int) -> Callable[..., None]:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise OSError(code, os.strerror(code), "somewhere")

    return fail


REFUSALS = {
    "permission": (errno.EACCES, f"is not writable by user {user_name()} "),
    "read-only-fs": (errno.EROFS, "is on a read-only file system; remount it read-write"),
    "disk-full": (
        errno.ENOSPC,
        "the disk holding .* is full; free space \\(the state keeps all it had",
    ),
}


@pytest.mark.parametrize(("code", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_an_unwritable_folder_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, message: str
) -> None:
    Store(tmp_path).close()
    real_open = os.open

    def open_(path: object, flags: int, *args: int, **kwargs: object) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(place.os, "open", open_)
    with pytest.raises(StateError, match=message) as caught:
        Store(tmp_path)
    assert caught.value.path == tmp_path
    assert "\n" not in str(caught.value)
    if code == errno.EACCES:
        assert f"run `chown -R {user_name()} {tmp_path}`, or use --state-dir" in str(caught.value)


def test_any_other_refusal_names_the_file_and_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store(tmp_path).close()
    real_open = os.open

    def open_(path: object, flags: int, *args: int, **kwargs: object) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(place.os, "open", open_)
    with pytest.raises(StateError, match=r"cannot be used \(.*\); check it, or use --state-dir"):
        Store(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes where chmod forbids it")
def test_a_folder_owned_by_someone_else_is_one_clear_error(tmp_path: Path) -> None:
    Store(tmp_path / "state").close()
    (tmp_path / "state").chmod(0o555)
    try:
        with pytest.raises(StateError, match=f"is not writable by user {user_name()}"):
            Store(tmp_path / "state")
    finally:
        (tmp_path / "state").chmod(0o755)


def test_a_folder_that_cannot_be_created_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Path, "mkdir", refuse(errno.EACCES))
    with pytest.raises(StateError, match="is not writable by user"):
        Store(tmp_path / "new")


def test_a_state_folder_that_is_a_file_a_dangling_link_or_a_loop_says_which(
    tmp_path: Path,
) -> None:
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop-a").symlink_to(tmp_path / "loop-b")
    (tmp_path / "loop-b").symlink_to(tmp_path / "loop-a")
    told = {
        "file": (tmp_path / "file", "is not a folder; use --state-dir with a folder"),
        "file/state": (tmp_path / "file", "is not a folder; use --state-dir with a folder"),
        "dangling": (tmp_path / "dangling", "is a link to nothing; point it at a folder"),
        "loop-a": (tmp_path / "loop-a", "is a loop of links; remove it, or use --state-dir"),
    }
    for name, (path, words) in told.items():
        with pytest.raises(StateError) as caught:
            Store(tmp_path / name)
        assert caught.value.path == path and words in str(caught.value), (name, caught.value)
        if name == "dangling":
            continue  # read, a folder not made yet is an empty state
        with pytest.raises(StateError) as caught:
            Store(tmp_path / name, read_only=True)
        assert words in str(caught.value), (name, caught.value)


def test_a_file_write_that_fails_midway_leaves_the_old_file_and_no_temporary(
    tmp_path: Path,
) -> None:
    path = tmp_path / "probes.json"
    path.write_bytes(b"old")

    def pieces() -> Iterator[bytes]:
        yield b"new, half of it"
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_atomic(path, pieces())
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probes.json"]


def counting_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the calls of os.fsync from now on, letting each through."""
    calls: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd) or real(fd))
    return calls


def test_a_durable_write_waits_for_the_disk_and_another_only_replaces_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs = counting_fsyncs(monkeypatch)
    write_atomic(tmp_path / "kept.json", b"kept")
    assert len(fsyncs) == 2  # the file, then the folder's entry for it
    write_atomic(tmp_path / "cache.json", b"old")
    fsyncs.clear()
    write_atomic(tmp_path / "cache.json", b"new", durable=False)
    assert fsyncs == []
    assert (tmp_path / "cache.json").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.json", "kept.json"]


def test_the_holder_note_is_not_waited_for_and_an_empty_one_names_no_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = StateFiles(tmp_path / "poster.json")
    place.note_holder(files, DAEMON)  # a first note creates the folder's entry
    fsyncs = counting_fsyncs(monkeypatch)
    place.note_holder(files, ONE_SHOT)
    assert fsyncs == [] and read_holder(files) == Holder(ONE_SHOT, os.getpid())
    files.holder.write_bytes(b"")  # what a crash may leave of a note never synced
    assert read_holder(files) is None
