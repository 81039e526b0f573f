"""Keep the code ``frozen`` compiles for records, as Python keeps a module's bytecode.

Compiling a record's ``__init__`` takes about 0.1 ms; a pass makes about a hundred records, and
``status`` seventeen. The code compiled is kept in one file of the user's cache folder
(``cachefiles``), by the exact source and name it was compiled from and for this Python, and
loaded once per process. Code compiled anew is added when the process ends. A file that cannot
be read or written, or that another user could have written, only means compiling.
"""

from __future__ import annotations

import _thread
import atexit
import marshal
import os
import sys
from pathlib import Path
from types import CodeType

from poster.cachefiles import cache_dir, read_own, write_own

MAX_KEPT = 1000
"""The most pieces of code the file keeps; those of the process that writes it come first."""

Key = tuple[str, str]
"""The name a piece of code was compiled under, and its source."""


class _Kept:
    """The code read from the file, with what this process compiled, and what it used.

    The file holds each piece marshalled on its own, so that a process unmarshals only the
    pieces it uses: ``status`` uses seventeen of the hundred or more that the commands keep.
    Reading threads import modules, and so make records, while the process ends and writes
    the file: the lock keeps the dicts whole for the copy written.
    """

    def __init__(self) -> None:
        self.stored: dict[Key, bytes] | None = None
        self.used: dict[Key, CodeType] = {}
        self.added = False
        self.lock = _thread.allocate_lock()


_KEPT = _Kept()


def compiled(source: str, name: str) -> CodeType:
    """Return ``source`` compiled as a module named ``name``, from the file when kept there."""
    kept = _KEPT
    with kept.lock:
        key = (name, source)
        code = kept.used.get(key)
        if code is not None:
            return code
        if kept.stored is None:
            kept.stored = _load()
        code = _unmarshalled(kept.stored.get(key))
        if code is None:
            # dont_inherit: the annotations stay as written, not this module's strings.
            code = compile(source, name, "exec", dont_inherit=True)
            if not kept.added:
                kept.added = True
                atexit.register(_save)
        kept.used[key] = code
        return code


def _unmarshalled(data: bytes | None) -> CodeType | None:
    """Return the code ``data`` holds, or None when there is none or it is not code."""
    if data is None:
        return None
    try:
        code = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def _path() -> Path | None:
    """Return the file the code is kept in, or None when the user has no cache folder."""
    folder = cache_dir(os.environ)
    if folder is None:
        return None
    return folder / f"records-{sys.implementation.cache_tag}.marshal"


def _load() -> dict[Key, bytes]:
    """Return the pieces of code kept in the file, each still marshalled, or nothing when the
    file cannot be read or used."""
    path = _path()
    if path is None:
        return {}
    try:
        found = marshal.loads(read_own(path))
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {
        key: data
        for key, data in found.items()
        if isinstance(key, tuple) and len(key) == 2 and isinstance(data, bytes)
    }


def _save() -> None:
    """Write the code used by this process, then other kept code, up to ``MAX_KEPT`` pieces."""
    path = _path()
    with _KEPT.lock:
        stored = dict(_KEPT.stored or {})
        used = dict(_KEPT.used)
    if path is None or not used:
        return
    chosen = {key: marshal.dumps(code) for key, code in used.items()}
    for key, data in stored.items():
        if len(chosen) >= MAX_KEPT:
            break
        chosen.setdefault(key, data)
    try:
        write_own(path, marshal.dumps(chosen))
    except (OSError, ValueError):
        return
