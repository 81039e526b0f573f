"""Guard the state directory: lock it, say who holds it, and explain what the system refused.

The lock is an ``flock`` on the directory itself, which no file operation inside it can
remove; ``poster.lock`` is locked as well, for processes of releases that locked only it. The
holder writes its role and pid to ``poster.holder``, so a command can tell a daemon, which
applies queued requests, from a one-shot run, which does not, without taking the lock.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from poster.errors import StateError
from poster.lazy import names_from
from poster.localfiles import read_capped
from poster.store.files import StateFiles, encode_json, write_atomic

if TYPE_CHECKING:
    from poster.store.lock import Holder as Holder
    from poster.store.lock import Lock

DAEMON = "daemon"
ONE_SHOT = "one-shot"
LOCKED = "is locked: another poster process is using this state directory; stop it first"
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT)
FileId = tuple[int, int]

# Who holds the lock is made only when a process holds it (status while none runs never does).
__getattr__ = names_from(__name__, {"Holder": "poster.store.lock"})


def hold_lock(files: StateFiles, role: str) -> Lock:
    """Lock the state against a second writing process and note who holds it."""
    folder_fd = os.open(files.folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _lock(folder_fd, files)
        file_fd = os.open(files.lock, os.O_RDWR | os.O_CREAT, 0o644)
    except BaseException:
        os.close(folder_fd)
        raise
    try:
        _lock(file_fd, files)
        note_holder(files, role)
    except BaseException:
        os.close(file_fd)
        os.close(folder_fd)
        raise
    from poster.store.lock import Lock  # here: status, which never locks, never needs it

    return Lock(folder_fd, file_fd, role)


def note_holder(files: StateFiles, role: str) -> None:
    """Note this process as the lock's holder, in ``role``.

    The note need not outlive a crash, which ends the process it names: it is not waited for
    on the disk, and one a crash left empty reads as no holder.
    """
    note = encode_json({"role": role, "pid": os.getpid()})
    write_atomic(files.holder, note, durable=False)


def _lock(fd: int, files: StateFiles) -> None:
    """Take an exclusive lock on ``fd`` at once, or raise the "is locked" error."""
    import fcntl  # here: a read-only open takes no lock

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        raise StateError(files.lock, LOCKED) from exc


HOLDER_BYTES = 4096
"""The most of the holder's note read: a role and a process id."""


def read_holder(files: StateFiles) -> Holder | None:
    """Return the process noted as the lock's holder, or ``None`` if none is alive."""
    try:
        value = json.loads(read_capped(files.holder, HOLDER_BYTES))
        from poster.store.lock import Holder  # here: only a held lock has a note of its holder

        holder = Holder(str(value["role"]), int(value["pid"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, run by another user
    return holder


def file_id(path: Path) -> FileId | None:
    """Return what tells the file at ``path`` from any other, or ``None`` if there is none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def fd_id(fd: int) -> FileId:
    """Return what tells the open file ``fd`` from any other."""
    found = os.fstat(fd)
    return found.st_dev, found.st_ino


def same_file(path: Path, fd: int) -> bool:
    """Tell whether ``path`` still names the open file ``fd``."""
    return file_id(path) == fd_id(fd)


def user_name() -> str:
    """Return the name of the user poster runs as."""
    import pwd  # here: only a refusal of rights names the user

    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def make_state_dir(files: StateFiles) -> None:
    """Create the state directory, turning a failure into a ``StateError``."""
    try:
        files.folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_problem(files, exc) from exc


def os_problem(files: StateFiles, exc: OSError) -> StateError:
    """Explain an operating-system refusal to use the state directory, with the way out."""
    return folder_problem(files.folder, exc)


FULL_ADVICE = (
    "free space (the state keeps all it had; a post sent but not recorded shows as uncertain at "
    "the next start)"
)
"""What to do about a full disk, and what became of what could not be written."""


def read_refused(path: Path, exc: OSError, way_out: str) -> StateError:
    """Explain why a state file could not be read: the machine's refusal, or its damage.

    Rights and a state folder that is a file are said as they are, with their fix: advice to
    remove or move aside a file poster may not read would post every current item again.
    ``way_out`` is the advice for any other failure.
    """
    if exc.errno in (errno.EACCES, errno.EPERM):
        user = user_name()
        fix = f"run `chown -R {user} {path.parent}`; nothing is lost"
        return StateError(path, f"cannot be read by user {user} ({exc.strerror}); {fix}")
    if exc.errno == errno.ENOTDIR:
        blocking = next((p for p in path.parents if p.exists()), path.parent)
        return StateError(blocking, "is not a folder; use --state-dir with a folder")
    if exc.errno == errno.ELOOP:  # the folder, or a file in it, leads back to itself
        looping = next((p for p in reversed((path, *path.parents)) if _loops(p)), path)
        return StateError(looping, "is a loop of links; remove it, or use --state-dir")
    return StateError(path, f"cannot be read ({exc.strerror}); {way_out}")


def _loops(path: Path) -> bool:
    """Tell whether ``path`` is a link that leads, link by link, back to itself."""
    try:
        path.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def folder_problem(folder: Path, exc: OSError) -> StateError:
    """Explain an operating-system refusal to use ``folder``, of the state, with the way out."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        user = user_name()
        fix = f"run `chown -R {user} {folder}`, or use --state-dir"
        return StateError(folder, f"is not writable by user {user} ({exc.strerror}); {fix}")
    if exc.errno == errno.EROFS:
        fix = "remount it read-write, or use --state-dir"
        return StateError(folder, f"is on a read-only file system; {fix}")
    if exc.errno in _NO_ROOM:
        why = f"cannot be written: the disk holding {folder} is full"
        return StateError(folder, f"{why}; {FULL_ADVICE}")
    if exc.errno == errno.ENOENT and not folder.parent.is_dir():
        return StateError(
            folder, f"cannot be made: {folder.parent} does not exist; use --state-dir"
        )
    if exc.errno == errno.ELOOP or _loops(folder):
        return StateError(folder, "is a loop of links; remove it, or use --state-dir")
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and not folder.is_dir():
        if folder.is_symlink() and not folder.exists():
            why = "is a link to nothing; point it at a folder, or use --state-dir"
            return StateError(folder, why)
        blocking = next((p for p in (folder, *folder.parents) if p.exists()), folder)
        return StateError(blocking, "is not a folder; use --state-dir with a folder")
    path = Path(exc.filename) if isinstance(exc.filename, str) else folder
    return StateError(path, f"cannot be used ({exc.strerror}); check it, or use --state-dir")
