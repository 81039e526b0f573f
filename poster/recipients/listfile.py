"""Load a recipients file into a frozen, ordered, de-duplicated tuple; reload it on change."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from poster.errors import ConfigError, ConfigProblem
from poster.frozen import frozen
from poster.localfiles import read_capped
from poster.recipients.phones import normalise

log = logging.getLogger(__name__)
MAX_BYTES = 16 << 20
"""A file over this size is refused, so a wrong path cannot fill memory (about 1M numbers)."""
MAX_LISTED = 50
"""Problems listed one by one; more are summed up in one last line."""


@frozen
class Recipients:
    """The numbers of one recipients file, in file order, and a digest naming this version."""

    source: str
    phones: tuple[str, ...]
    version: str
    duplicates: tuple[str, ...] = ()
    """One warning per number written twice, naming both lines."""

    def __len__(self) -> int:
        return len(self.phones)


def load_recipients(path: Path) -> Recipients:
    """Read and check the recipients file at ``path``; raise ``ConfigError`` listing its faults."""
    try:
        data = read_capped(path, MAX_BYTES)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError([ConfigProblem(str(path), "", f"cannot be read: {reason}")]) from exc
    if len(data) > MAX_BYTES:
        problem = f"is larger than {MAX_BYTES >> 20} MiB; is it the recipients file?"
        raise ConfigError([ConfigProblem(str(path), "", problem)])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"is not UTF-8 text (byte {exc.start})"
        hint = "save it as UTF-8 text, one number a line"
        raise ConfigError([ConfigProblem(str(path), "", problem, hint=hint)]) from exc
    return parse_recipients(text, str(path))


def parse_recipients(text: str, source: str) -> Recipients:
    """Check and normalise the numbers of ``text``, read from ``source``."""
    first_line: dict[str, int] = {}
    problems: list[ConfigProblem] = []
    duplicates: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        written = line.split("#", 1)[0].strip()
        if not written:
            continue
        try:
            phone = normalise(written)
        except ValueError as exc:
            problems.append(ConfigProblem(f"{source}:{number}", "", str(exc)))
            continue
        if phone in first_line:
            duplicates.append(f"{source}:{number}: {phone} repeats line {first_line[phone]}")
            continue
        first_line[phone] = number
    if not first_line and not problems:
        problems.append(ConfigProblem(source, "", "holds no phone numbers"))
    if problems:
        raise ConfigError(_shortened(problems, source))
    for warning in duplicates:
        log.warning("recipients=duplicate %s; the number is kept once", warning)
    phones = tuple(first_line)
    return Recipients(source, phones, _digest(phones), tuple(duplicates))


def _digest(phones: tuple[str, ...]) -> str:
    """Return a short digest of the numbers and their order."""
    return hashlib.sha256("\n".join(phones).encode("ascii")).hexdigest()[:16]


def _shortened(problems: list[ConfigProblem], source: str) -> list[ConfigProblem]:
    """Keep the first ``MAX_LISTED`` problems and sum up the rest in one."""
    if len(problems) <= MAX_LISTED:
        return problems
    more = len(problems) - MAX_LISTED
    return [*problems[:MAX_LISTED], ConfigProblem(source, "", f"and {more} more bad lines")]


def load_named(path: Path, config_file: str, key: str) -> Recipients:
    """Read the recipients file ``path`` that ``key`` of ``config_file`` names.

    A fault of the whole file (missing, unreadable, too large, not text, empty) is told at
    that key, so the error says which destination reads the file; a bad line keeps its place
    in the file, which is where it is mended.
    """
    try:
        return load_recipients(path)
    except ConfigError as exc:
        problems = [_at_key(problem, str(path), config_file, key) for problem in exc.problems]
        raise ConfigError(problems) from exc


def _at_key(problem: ConfigProblem, source: str, config_file: str, key: str) -> ConfigProblem:
    """Move a problem of the whole file ``source`` to the ``key`` that names it."""
    if problem.file != source:
        return problem
    hint = problem.hint
    if hint is None and "cannot be read" in problem.message:
        hint = "write the numbers in it, one a line, or make recipients name the file that has them"
    return ConfigProblem(config_file, key, f"{source} {problem.message}", None, hint)


class RecipientsFile:
    """The recipients file, read again when it changes on disk."""

    def __init__(self, path: Path, named_by: tuple[str, str] | None = None) -> None:
        """``named_by`` is the configuration file and the key naming ``path``, for its errors."""
        self.path = path
        self._named_by = named_by
        self._stamp: tuple[int, int] | None = None
        self._loaded = self()

    def __call__(self) -> Recipients:
        """Return the numbers, reading the file again if it changed since the last read."""
        try:
            info = self.path.stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
        if stamp is None or stamp != self._stamp:
            named_by = self._named_by
            if named_by is None:
                self._loaded = load_recipients(self.path)
            else:
                self._loaded = load_named(self.path, *named_by)
            self._stamp = stamp
        return self._loaded
