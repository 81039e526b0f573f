"""Define the lock a writing process holds on the state directory, and who holds it.

They live apart from ``place``, which makes them, so that status, which reads the state
without the lock, makes neither class, and the holder's only while a process holds it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from poster.frozen import frozen
from poster.store.files import StateFiles
from poster.store.place import fd_id, file_id, read_holder


@frozen
class Holder:
    """The process that holds the state's lock, as it said when it took it."""

    role: str
    pid: int


@frozen
class Lock:
    """The descriptors a writing process keeps locked: the directory and ``poster.lock``."""

    folder_fd: int
    file_fd: int
    role: str

    def still_at(self, folder: Path) -> bool:
        """Tell whether ``folder`` is still the directory this lock holds."""
        return file_id(folder) == fd_id(self.folder_fd)

    def release(self, files: StateFiles) -> None:
        """Forget the holder note, if it is still ours, and unlock."""
        holder = read_holder(files)
        if holder is not None and holder.pid == os.getpid() and self.still_at(files.folder):
            with contextlib.suppress(OSError):
                files.holder.unlink()
        os.close(self.file_fd)
        os.close(self.folder_fd)
