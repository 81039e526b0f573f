"""Keep what a template check found sound, so that ``check`` renders only what changed.

Rendering loads Jinja, which takes longer than all the rest of a check. A check that finds no
problem keeps what it rendered from: the bytes of every file in the templates folder, where
poster, Jinja and MarkupSafe are installed and the size and time of change of each of their
modules it loaded (what Python compares before it reuses a module's bytecode), the time zones
the templates named, which are looked up again, and each unit it rendered: a kind of
destination with a feed's settings, and with the feed's name and a digest of its address too
when its templates read ``feed``. The next check whose templates and code are the same, and whose
every unit is one kept, tells that the templates render without rendering them; so does a
check after an edit of feeds.toml that only adds feeds like those there, renames one or
changes what no template sees, such as an interval. Any other change renders every template.

A feed's ``headers`` are among what its unit leaves out, and their values, which may come from
the environment, are never kept. A template that branches on ``now`` was
checked at the time of the check that rendered it. Entries are kept as ``cachefiles`` keeps
files: a failure to read or write one only costs the render.
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Iterable
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poster.cachefiles import read_own, write_own
from poster.config import FeedConfig
from poster.frozen import fields
from poster.localfiles import NotAFileError, read_capped

if TYPE_CHECKING:
    from poster.config import Config

FORMAT = "poster-template-verdict-4"
"""Changes whenever what an entry holds changes, so older entries are not used."""

MAX_FILES = 1000
"""The most files a templates folder may hold for its check to be kept."""

MAX_BYTES = 8 * 1024 * 1024
"""The most bytes those files may hold together for the check to be kept."""

CODE = ("poster", "jinja2", "markupsafe")
"""The packages whose loaded modules a kept check depends on."""

UNSEEN = (
    *("name", "url", "headers", "enabled", "schedule", "include", "exclude", "key", "format"),
    *("json", "timeout", "max_bytes", "max_redirects", "deadline", "allow_private", "backlog"),
    *("uncertain", "hints", "to"),
)
"""A feed's fields outside its shared unit: its name and url, and what only reading the feed,
choosing its items and routing them use, which rendering the sample item never reads (a test
renders with a feed that tells each field read). A field not named here is in the unit."""

Templates = tuple[tuple[str, bytes | None], ...]
"""Each file in the templates folder, by its path in the folder, with its bytes (None for
what is not a regular file)."""

Unit = tuple[Any, ...]
"""A kind's name with a feed's settings as plain values; with its name and url after them."""


def read_templates(folder: Path) -> Templates | None:
    """Return every file in ``folder``, or None when they are too many, too big or unreadable.

    What is not a regular file (a FIFO, a device) is named with no bytes, never opened: no
    template is read from it. Read before the templates render and again after, so that an
    edit made meanwhile keeps nothing.
    """
    found: list[tuple[str, bytes | None]] = []
    total = 0
    try:
        for top, dirs, files in os.walk(folder, followlinks=True, onerror=_raise):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(top, name)
                data = _regular_file(path, MAX_BYTES - total)
                total += len(data or b"")
                found.append((os.path.relpath(path, folder), data))
                if total > MAX_BYTES or len(found) > MAX_FILES:
                    return None
    except OSError:
        return None
    return tuple(found)


def _raise(error: OSError) -> None:
    """Stop the walk at a folder it cannot list: the folder is then not known whole."""
    raise error


def _regular_file(path: str, limit: int) -> bytes | None:
    """Return the file at ``path``, at most ``limit`` + 1 bytes; None when it is no regular
    file, which is opened without waiting for a writer and never read (``localfiles``)."""
    try:
        return read_capped(Path(path), limit)
    except NotAFileError:
        return None


class Verdicts:
    """The units found sound, kept or being kept, of one configuration's templates."""

    def __init__(self, config: Config, folder: Path, templates: Templates | None) -> None:
        self.config, self.templates = config, templates
        self.entry = _entry(folder, config.path)
        self._settings = attrgetter(*(f.name for f in fields(FeedConfig) if f.name not in UNSEEN))
        self._plain: dict[tuple[object, ...], Unit] = {}
        self.shared: set[Unit] = set()
        self.own: set[Unit] = set()

    def recall(self) -> bool:
        """Tell whether every unit of the configuration was kept by a check of these same
        templates and code."""
        kept = self._read()
        if kept is None:
            return False
        shared, own = kept
        for (kind, settings), feeds in self._units().items():
            unit = (kind, *self._as_plain(settings))
            if unit not in shared and any((*unit, f.name, _address(f)) not in own for f in feeds):
                return False
        return True

    def passed(self, feed: FeedConfig, kind: str, reads_feed: bool) -> None:
        """Note that ``feed`` rendered at ``kind``; ``reads_feed``: a template read ``feed``."""
        unit = (kind, *self._as_plain(self._settings(feed)))
        if reads_feed:
            self.own.add((*unit, feed.name, _address(feed)))
        else:
            self.shared.add(unit)

    def keep(self) -> None:
        """Keep the units noted as passed; a failure to write only costs the next render.

        Nothing is kept when the templates changed while they rendered, or when they named
        more time zones than are looked up again.
        """
        from poster.render.filters import ZONES_KEPT, ZONES_NAMED

        modules = _loaded()
        if modules is None or len(ZONES_NAMED) >= ZONES_KEPT:
            return
        if self.templates is None or read_templates(self.config.templates_dir) != self.templates:
            return
        entry = (
            FORMAT, sys.version, str(self.config.templates_dir), self.templates, modules,
            _origins(), tuple(sorted(ZONES_NAMED)), frozenset(self.shared), frozenset(self.own),
        )  # fmt: skip
        try:
            write_own(self.entry, marshal.dumps(entry))
        except (OSError, ValueError):
            return

    def _read(self) -> tuple[frozenset[Unit], frozenset[Unit]] | None:
        """Return the shared and own units kept for these templates and code, if any."""
        if self.templates is None:
            return None
        try:
            found = marshal.loads(read_own(self.entry))
        except (OSError, ValueError, EOFError, TypeError):
            return None
        if not isinstance(found, tuple) or len(found) != 9:
            return None
        form, version, folder, templates, modules, origins, zones, shared, own = found
        if (form, version, folder) != (FORMAT, sys.version, str(self.config.templates_dir)):
            return None
        if templates != self.templates or not isinstance(modules, tuple):
            return None
        if not (isinstance(shared, frozenset) and isinstance(own, frozenset)):
            return None
        if origins != _origins() or not _unchanged(modules) or not _zones_found(zones):
            return None
        return shared, own

    def _units(self) -> dict[tuple[str, tuple[object, ...]], list[FeedConfig]]:
        """Return the feeds of each kind and settings, as the check renders them."""
        kinds = {spec.name: spec.kind for spec in self.config.destinations}
        units: dict[tuple[str, tuple[object, ...]], list[FeedConfig]] = {}
        for feed in self.config.feeds:
            settings = self._settings(feed)
            for name in self.config.routes(feed):
                units.setdefault((kinds[name], settings), []).append(feed)
        return units

    def _as_plain(self, settings: tuple[object, ...]) -> Unit:
        """Return ``settings`` as values ``marshal`` keeps, made once for each distinct one."""
        plain = self._plain.get(settings)
        if plain is None:
            plain = self._plain[settings] = tuple(_plain(value) for value in settings)
        return plain


def _address(feed: FeedConfig) -> str:
    """Return a digest of the feed's url: a password in it is never kept."""
    import hashlib  # here: only a template that reads ``feed`` makes units of addresses

    return hashlib.sha256(feed.url.encode("utf-8", "surrogatepass")).hexdigest()


def _plain(value: object) -> Any:
    """Return ``value`` as values ``marshal`` keeps, every field of a record included.

    What has no plain form is its ``repr``: one that differs from run to run only means a
    render.
    """
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    own = getattr(value, "__record_fields__", None)
    if own is not None:
        return (type(value).__qualname__, *(_plain(getattr(value, name)) for name in own))
    if isinstance(value, (tuple, list)):
        return tuple(_plain(each) for each in value)
    if isinstance(value, dict):
        return tuple(sorted(((_plain(k), _plain(v)) for k, v in value.items()), key=repr))
    if isinstance(value, (set, frozenset)):
        return tuple(sorted((_plain(each) for each in value), key=repr))
    return (type(value).__qualname__, repr(value))


def _entry(folder: Path, config_path: Path) -> Path:
    """Return the entry of the configuration at ``config_path``."""
    import zlib

    return folder / f"check-{zlib.crc32(os.fsencode(config_path)):08x}.marshal"


def _loaded() -> tuple[tuple[str, int, int], ...] | None:
    """Return the file, size and time of change of each module of ``CODE`` loaded now.

    None when one has no file poster can look at again.
    """
    found = []
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] not in CODE:
            continue
        path = getattr(module, "__file__", None)
        if path is None:
            continue  # a namespace package: no code of its own
        try:
            info = os.stat(path)
        except OSError:
            return None
        found.append((path, info.st_size, info.st_mtime_ns))
    return tuple(sorted(found))


def _origins() -> tuple[tuple[str, str | None], ...]:
    """Return where each package of ``CODE`` is, or would be, loaded from now.

    Another installation of poster or Jinja, in another folder, renders again.
    """
    from importlib.util import find_spec

    found = []
    for name in CODE:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) if module is not None else None
        if origin is None:
            try:
                spec = find_spec(name)
            except (ImportError, ValueError):
                spec = None
            origin = spec.origin if spec is not None else None
        found.append((name, origin))
    return tuple(found)


def _zones_found(zones: object) -> bool:
    """Tell whether each time zone a kept render named is found still."""
    if not isinstance(zones, tuple):
        return False
    if not zones:
        return True
    from zoneinfo import ZoneInfo  # here: only templates that name a zone need it

    try:
        for name in zones:
            ZoneInfo(name)
    except Exception:  # not found, or a name no longer valid: render again
        return False
    return True


def _unchanged(modules: Iterable[object]) -> bool:
    """Tell whether every module file kept has its size and time of change still."""
    for module in modules:
        if not isinstance(module, tuple) or len(module) != 3:
            return False
        path, size, changed = module
        try:
            info = os.stat(path)
        except (OSError, TypeError, ValueError):
            return False
        if (info.st_size, info.st_mtime_ns) != (size, changed):
            return False
    return True
