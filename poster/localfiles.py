"""Read a file a person names in feeds.toml (a token, the numbers, a feed on disk), bounded.

Such a name may be wrong in ways that would stop poster for good: a FIFO with no writer blocks
the ``open`` itself, and a device such as ``/dev/zero`` or ``/dev/stdin`` never ends. The file
is therefore opened without waiting for a writer and read only when it is a regular file, and
never past the caller's limit.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

NOT_A_FILE = "not a regular file"
CHUNK = 1 << 20


class NotAFileError(OSError):
    """The path names a FIFO, a device, a socket or a folder, not a file to read."""


def read_capped(path: Path, limit: int) -> bytes:
    """Return the regular file at ``path``, at most ``limit`` + 1 bytes of it.

    One byte past ``limit`` lets the caller tell a file that is too large. Raise
    ``NotAFileError`` for anything but a regular file, and ``OSError`` when it cannot be read.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise NotAFileError(errno.EINVAL, NOT_A_FILE, str(path))
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(descriptor, min(left, CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)
