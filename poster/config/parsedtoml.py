"""Read ``feeds.toml`` into tables; keep what they were, so an unchanged file is not parsed again.

tomllib is pure Python: 1,000 feeds take it about 50 ms, while ``marshal`` loads its result in
about 1 ms. An entry holds the exact bytes it was parsed from and is used only when the file
holds those same bytes now. It holds nothing the file does not: environment values and tokens
are resolved later, on every load. Entries are written 0600 in a 0700 folder owned by the user,
an entry another user could have written is never read, and any failure to read or write one
only means parsing the file as if there were no entry.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from poster.errors import ConfigError, ConfigProblem

FORMAT = "poster-parsed-toml-1"
"""Changes whenever what an entry holds changes, so older entries are parsed again."""
MAX_ENTRY = 64 * 1024 * 1024
"""The largest entry read; a bigger one is ignored (and replaced once the file is parsed)."""


def read(path: Path, file: str, cache: Path | None) -> dict[str, Any]:
    """Parse the file, or recall what its bytes parsed to; a failure is one ``ConfigError``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        hint = "check the path and that poster may read it"
        raise _single(file, f"cannot read the file: {exc.strerror or exc}", hint) from exc
    known = None if cache is None else recall(cache, path, data)
    if known is not None:
        return known
    parsed = _parse_toml(data, file)
    if cache is not None:
        remember(cache, path, data, parsed)
    return parsed


def _parse_toml(data: bytes, file: str) -> dict[str, Any]:
    """Parse TOML, turning an encoding or syntax failure into one problem."""
    import tomllib  # here: a file whose bytes the cache holds is never parsed

    try:
        # utf-8-sig: tolerate the byte-order mark some editors write; TOML itself is UTF-8.
        return tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        hint = "save the file as UTF-8"
        raise _single(file, f"is not UTF-8 text (bad byte at offset {exc.start})", hint) from exc
    except tomllib.TOMLDecodeError as exc:
        hint = "fix the TOML syntax at that line (https://toml.io)"
        raise _single(file, f"TOML syntax error: {exc}", hint) from exc


def _single(file: str, message: str, hint: str) -> ConfigError:
    """Return a ``ConfigError`` holding one problem about the whole file."""
    return ConfigError([ConfigProblem(file, "", message, None, hint)])


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    """Return where entries go: systemd's cache directory, else the XDG one, else none."""
    if directory := environ.get("CACHE_DIRECTORY"):
        return Path(directory.split(":")[0])
    # The XDG base directory spec: a relative path is invalid and to be ignored.
    if (directory := environ.get("XDG_CACHE_HOME")) and os.path.isabs(directory):
        return Path(directory) / "poster"
    if home := environ.get("HOME"):
        return Path(home) / ".cache" / "poster"
    return None


def entry_path(folder: Path, config_path: Path) -> Path:
    """Return the entry of the configuration at the absolute ``config_path``."""
    import zlib

    return folder / f"feeds-{zlib.crc32(os.fsencode(config_path)):08x}.marshal"


def recall(folder: Path, config_path: Path, data: bytes) -> dict[str, Any] | None:
    """Return what ``data`` parsed to when the entry was made from these bytes, else None."""
    try:
        found = marshal.loads(_read_own(entry_path(folder, config_path)))
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(found, tuple) or len(found) != 5:
        return None
    form, version, where, source, parsed = found
    if (form, version, where, source) != (FORMAT, sys.version, str(config_path), data):
        return None
    return parsed if isinstance(parsed, dict) else None


def remember(folder: Path, config_path: Path, data: bytes, parsed: dict[str, Any]) -> None:
    """Write the entry of ``data``; a value marshal cannot hold (a TOML date) means no entry."""
    try:
        entry = marshal.dumps((FORMAT, sys.version, str(config_path), data, parsed))
    except ValueError:
        return
    target = entry_path(folder, config_path)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(entry)
        os.replace(temporary, target)
    except OSError:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            return


def _read_own(path: Path) -> bytes:
    """Read an entry that is a regular file of this user that no one else may write."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.geteuid()
            or info.st_mode & 0o022
            or info.st_size > MAX_ENTRY
        ):
            raise ValueError("not an entry poster wrote")
        return file.read()
