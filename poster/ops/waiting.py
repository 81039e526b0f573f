"""Read what waits in the state directory's inbox, and whether a daemon is there to apply it.

Apart from ``inbox`` so that ``status``, which only reads the inbox, loads the requests'
classes only when a request waits.
"""

from __future__ import annotations

import os
from pathlib import Path

from poster.store.files import StateFiles
from poster.store.place import DAEMON, read_holder
from poster.store.store import SNAPSHOT_NAME

INBOX = "inbox"


def inbox_dir(state_dir: Path) -> Path:
    """Return the directory requests for the daemon of ``state_dir`` are left in."""
    return Path(state_dir) / INBOX


def pending(state_dir: Path) -> list[Path]:
    """Return the request files waiting in the inbox, oldest first."""
    try:
        entries = list(os.scandir(inbox_dir(state_dir)))
    except FileNotFoundError:
        return []
    # Temporary files end in ".tmp" and are left alone until they are renamed into place.
    names = [e.name for e in entries if e.name.endswith(".json") and e.is_file()]
    return [inbox_dir(state_dir) / name for name in sorted(names)]


def daemon_running(state_dir: Path) -> bool:
    """Tell whether a live daemon noted itself as the holder of the state's lock."""
    return holder_role(state_dir) == DAEMON


def holder_role(state_dir: Path) -> str | None:
    """Return the role of the live poster holding the state's lock, or None when none runs."""
    holder = read_holder(StateFiles(Path(state_dir) / SNAPSHOT_NAME))
    return None if holder is None else holder.role


def waiting(state_dir: Path) -> list[str]:
    """Describe each request waiting in the inbox, oldest first."""
    paths = pending(state_dir)
    if not paths:
        return []
    from poster.ops.inbox import decode

    found = []
    for path in paths:
        try:
            found.append(str(decode(path.read_bytes())))
        except (OSError, ValueError) as exc:
            found.append(f"{path.name}: not a request ({exc})")
    return found
