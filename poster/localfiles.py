"""Read a file a person names (a token, the numbers, a feed on disk) or poster's own, bounded.

A name may be wrong in ways that would stop poster for good, and a state file may have been
replaced by hand: a FIFO with no writer blocks the ``open`` itself, and a device such as
``/dev/zero`` or ``/dev/stdin`` never ends. The file is therefore opened without waiting for a
writer and read only when it is a regular file; a file a person names, never past a limit.
"""

from __future__ import annotations

import errno
import os
import stat
from io import FileIO
from pathlib import Path

NOT_A_FILE = "not a regular file"


class NotAFileError(OSError):
    """The path names a FIFO, a device, a socket or a folder, not a file to read."""


def read_regular(path: Path) -> bytes:
    """Return the whole regular file at ``path``: poster's own, whose size poster decided.

    Raise ``NotAFileError`` for anything but a regular file, ``OSError`` when it cannot be read.
    """
    descriptor = _opened(path)
    with os.fdopen(descriptor, "rb") as file:
        return file.read()


def open_regular(path: Path) -> FileIO:
    """Return the regular file at ``path`` open for reading, unbuffered: poster's own.

    Raise ``NotAFileError`` for anything but a regular file, ``OSError`` when it cannot be read.
    """
    return os.fdopen(_opened(path), "rb", buffering=0)


def _opened(path: Path) -> int:
    """Open ``path`` for reading without waiting for a writer; refuse all but a regular file."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(descriptor).st_mode
    except OSError:
        os.close(descriptor)
        raise
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise NotAFileError(errno.EINVAL, NOT_A_FILE, str(path))
    return descriptor


def read_capped(path: Path, limit: int) -> bytes:
    """Return the regular file at ``path``, at most ``limit`` + 1 bytes of it.

    One byte past ``limit`` lets the caller tell a file that is too large. Raise
    ``NotAFileError`` for anything but a regular file, and ``OSError`` when it cannot be read.
    """
    with os.fdopen(_opened(path), "rb") as file:
        return file.read(limit + 1)
