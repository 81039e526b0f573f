"""Keep the code ``frozen`` compiles for records, as Python keeps a module's bytecode.

Compiling a record's ``__init__`` takes about 0.1 ms; a pass makes about a hundred records, and
``status`` seventeen. The code compiled is kept in one file of the user's cache folder
(``cachefiles``), by the exact source and name it was compiled from and for this Python, and
loaded once per process. Code compiled anew is added when the process ends. A file that cannot
be read or written, or that another user could have written, only means compiling.
"""

from __future__ import annotations

import atexit
import marshal
import os
import sys
import threading
from pathlib import Path
from types import CodeType

from poster.cachefiles import cache_dir, read_own, write_own

MAX_KEPT = 1000
"""The most pieces of code the file keeps; those of the process that writes it come first."""

Key = tuple[str, str]
"""The name a piece of code was compiled under, and its source."""


class _Kept:
    """The code read from the file, with what this process compiled, and what it used.

    Reading threads import modules, and so make records, while the process ends and writes the
    file: the lock keeps the dicts whole for the copy written.
    """

    def __init__(self) -> None:
        self.code: dict[Key, CodeType] | None = None
        self.used: dict[Key, CodeType] = {}
        self.added = False
        self.lock = threading.Lock()


_KEPT = _Kept()


def compiled(source: str, name: str) -> CodeType:
    """Return ``source`` compiled as a module named ``name``, from the file when kept there."""
    kept = _KEPT
    with kept.lock:
        if kept.code is None:
            kept.code = _load()
        key = (name, source)
        code = kept.code.get(key)
        if code is None:
            # dont_inherit: the annotations stay as written, not this module's strings.
            code = kept.code[key] = compile(source, name, "exec", dont_inherit=True)
            if not kept.added:
                kept.added = True
                atexit.register(_save)
        kept.used[key] = code
        return code


def _path() -> Path | None:
    """Return the file the code is kept in, or None when the user has no cache folder."""
    folder = cache_dir(os.environ)
    if folder is None:
        return None
    return folder / f"records-{sys.implementation.cache_tag}.marshal"


def _load() -> dict[Key, CodeType]:
    """Return the code kept in the file, or nothing when it cannot be read or used."""
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
        key: code
        for key, code in found.items()
        if isinstance(key, tuple) and len(key) == 2 and isinstance(code, CodeType)
    }


def _save() -> None:
    """Write the code used by this process, then other kept code, up to ``MAX_KEPT`` pieces."""
    path = _path()
    with _KEPT.lock:
        kept = dict(_KEPT.code or {})
        chosen = dict(_KEPT.used)
    if path is None or not kept:
        return
    for key, code in kept.items():
        if len(chosen) >= MAX_KEPT:
            break
        chosen.setdefault(key, code)
    try:
        write_own(path, marshal.dumps(chosen))
    except (OSError, ValueError):
        return
