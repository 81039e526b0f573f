"""Keep what commands may reuse in files only this user can read or write.

The folder is systemd's cache directory, else ``$XDG_CACHE_HOME/poster``, else
``~/.cache/poster``. Files are written whole, 0600, in folders made 0700; a file is read only
when it is a regular file of this user that no one else may write. What is kept there is always
a copy of something poster can make again, so any failure to read or write only costs the time.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

MAX_FILE = 64 * 1024 * 1024
"""The largest file read back; a bigger one is ignored."""


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    """Return where kept files go: systemd's cache directory, else the XDG one, else none."""
    if directory := environ.get("CACHE_DIRECTORY"):
        return Path(directory.split(":")[0])
    # The XDG base directory spec: a relative path is invalid and to be ignored.
    if (directory := environ.get("XDG_CACHE_HOME")) and os.path.isabs(directory):
        return Path(directory) / "poster"
    if home := environ.get("HOME"):
        return Path(home) / ".cache" / "poster"
    return None


def compiled_templates(environ: Mapping[str, str]) -> Path | None:
    """Return the folder of the templates Jinja compiled, which every command shares, or None."""
    folder = cache_dir(environ)
    return None if folder is None else folder / "templates"


def read_own(path: Path) -> bytes:
    """Return a file this user wrote that no one else may write; raise ``OSError`` otherwise."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.geteuid()
            or info.st_mode & 0o022
            or info.st_size > MAX_FILE
        ):
            raise PermissionError(f"{path} is not a file poster wrote")
        return file.read()


def write_own(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` whole, 0600, making its folder 0700; raise ``OSError``."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(temporary, flags, 0o600), "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
