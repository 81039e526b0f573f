"""Read ``feeds.toml`` into tables; keep what they were, so an unchanged file is not parsed again.

tomllib is pure Python: 1,000 feeds take it about 50 ms, while ``marshal`` loads its result in
about 1 ms. An entry holds the exact bytes it was parsed from and is used only when the file
holds those same bytes now. It holds nothing the file does not: environment values and tokens
are resolved later, on every load, and a file holding a literal token is not kept. Entries are
kept as ``cachefiles`` keeps files: private to the user, and any failure to read or write one
only means parsing the file.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

from poster.cachefiles import read_own, write_own
from poster.errors import ConfigError

MAX_FILE_BYTES = 16 * 1024 * 1024
"""The largest ``feeds.toml`` read: thousands of feeds take well under 1 MiB."""

FORMAT = "poster-parsed-toml-1"
"""Changes whenever what an entry holds changes, so older entries are parsed again."""


def read(path: Path, file: str, cache: Path | None) -> dict[str, Any]:
    """Parse the file, or recall what its bytes parsed to; a failure is one ``ConfigError``."""
    try:
        mode = path.stat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise _single(file, "is not a regular file", "name the feeds.toml file itself")
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        hint = "check the path and that poster may read it"
        raise _single(file, f"cannot read the file: {exc.strerror or exc}", hint) from exc
    if len(data) > MAX_FILE_BYTES:
        hint = "name the feeds.toml file itself"
        raise _single(file, f"is larger than {MAX_FILE_BYTES} bytes", hint)
    known = None if cache is None else recall(cache, path, data)
    if known is not None and not _holds_a_token(known):
        return known
    parsed = _parse_toml(data, file) if known is None else known
    if cache is not None and _holds_a_token(parsed):
        forget(cache, path)  # an entry an earlier release kept of it, too
    elif cache is not None:
        remember(cache, path, data, parsed)
    return parsed


def _holds_a_token(parsed: dict[str, Any]) -> bool:
    """Tell whether a section, or a destination's, holds a literal ``token``.

    Loading refuses such a file; its bytes are not kept, so the token stays only where the
    operator wrote it (and is rotated).
    """
    sections = [table for table in parsed.values() if isinstance(table, dict)]
    destinations = parsed.get("destinations")
    if isinstance(destinations, dict):
        sections += [table for table in destinations.values() if isinstance(table, dict)]
    return any("token" in section for section in sections)


def _parse_toml(data: bytes, file: str) -> dict[str, Any]:
    """Parse TOML, turning an encoding or syntax failure into one problem."""
    import tomllib  # here: a file whose bytes the cache holds is never parsed

    if re.search(_LONG_KEY, data, re.MULTILINE):
        hint = "no configuration needs a key of more than 100 dotted parts; write a table instead"
        raise _single(file, "has a key of more than 100 dotted parts", hint)
    try:
        # utf-8-sig: tolerate the byte-order mark some editors write; TOML itself is UTF-8.
        return tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        hint = "save the file as UTF-8"
        raise _single(file, f"is not UTF-8 text (bad byte at offset {exc.start})", hint) from exc
    except tomllib.TOMLDecodeError as exc:
        hint = "fix the TOML syntax at that line (https://toml.io)"
        raise _single(file, f"TOML syntax error: {exc}", hint) from exc
    except RecursionError:
        hint = "no configuration needs arrays or tables hundreds of levels deep"
        raise _single(file, "arrays or tables are nested too deeply", hint) from None


# tomllib takes time and memory growing with the square of a dotted key's parts (10,000 parts,
# a 20 KB line, took 0.6 GB): a key of more than 100 parts, bare or quoted, at the start of a
# line or a table header, is refused before parsing. Compiled when a file is parsed, which a
# file the cache holds never is.
_LONG_KEY = rb"""^[ \t]*\[*[ \t]*(?:(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')[ \t]*\.[ \t]*){100}"""


def _single(file: str, message: str, hint: str) -> ConfigError:
    """Return a ``ConfigError`` holding one problem about the whole file."""
    from poster.problems import ConfigProblem  # here: a readable file has no problem

    return ConfigError([ConfigProblem(file, "", message, None, hint)])


def entry_path(folder: Path, config_path: Path) -> Path:
    """Return the entry of the configuration at the absolute ``config_path``."""
    import zlib

    return folder / f"feeds-{zlib.crc32(os.fsencode(config_path)):08x}.marshal"


def recall(folder: Path, config_path: Path, data: bytes) -> dict[str, Any] | None:
    """Return what ``data`` parsed to when the entry was made from these bytes, else None."""
    try:
        found = marshal.loads(read_own(entry_path(folder, config_path)))
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(found, tuple) or len(found) != 5:
        return None
    form, version, where, source, parsed = found
    if (form, version, where, source) != (FORMAT, sys.version, str(config_path), data):
        return None
    return parsed if isinstance(parsed, dict) else None


def forget(folder: Path, config_path: Path) -> None:
    """Delete the entry of the configuration, if there is one."""
    with contextlib.suppress(OSError):
        entry_path(folder, config_path).unlink()


def remember(folder: Path, config_path: Path, data: bytes, parsed: dict[str, Any]) -> None:
    """Write the entry of ``data``; a value marshal cannot hold (a TOML date) means no entry."""
    try:
        write_own(
            entry_path(folder, config_path),
            marshal.dumps((FORMAT, sys.version, str(config_path), data, parsed)),
        )
    except (OSError, ValueError):
        return
