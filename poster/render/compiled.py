"""Keep the templates Jinja compiled, so that a command compiles and parses each template once.

Jinja checks an entry against its template's source. The entries' names carry a digest of all
else the compiled code depends on: Jinja's and Python's versions, the environment's class and
options, its filters, and the source of poster's own modules that define the environment's
class and its code generator (which puts the render budget's checks into every template), so a
change to any of them compiles again. Beside each compiled
template is what ``check`` learns by parsing it: whether it reads ``feed``, and the templates
it pulls in, keyed by its name and source. Entries are kept as ``cachefiles`` keeps files; any
failure to read or write one only means compiling or parsing the template again.
"""

from __future__ import annotations

import hashlib
import marshal
import sys
from pathlib import Path

import jinja2
from jinja2 import Environment
from jinja2.bccache import Bucket, BytecodeCache

from poster.cachefiles import read_own, write_own

Facts = tuple[bool, tuple[str | None, ...]]
"""Whether a template reads ``feed``, and the templates it pulls in (None: named at run time)."""


class OwnBytecodeCache(BytecodeCache):
    """Read and write compiled templates in a folder of the user's."""

    def __init__(self, folder: Path, tag: str) -> None:
        self.folder = folder
        self.tag = tag

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill ``bucket`` from its entry, if there is one poster wrote; Jinja checks the rest."""
        try:
            data = read_own(self._entry(bucket))
        except OSError:
            return
        try:
            bucket.bytecode_from_string(data)
        except Exception:  # a damaged entry's checksum fails to unpickle: compile instead
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Write the entry of ``bucket``; a failure only means compiling it next time."""
        try:
            write_own(self._entry(bucket), bucket.bytecode_to_string())
        except OSError:
            return

    def recall_facts(self, name: str, source: str) -> Facts | None:
        """Return what ``keep_facts`` kept of the template ``name`` with this source, if any."""
        try:
            found = marshal.loads(read_own(self._facts_entry(name, source)))
        except (OSError, ValueError, EOFError, TypeError):
            return None
        if (
            isinstance(found, tuple)
            and len(found) == 2
            and isinstance(found[0], bool)
            and isinstance(found[1], tuple)
            and all(pulled is None or isinstance(pulled, str) for pulled in found[1])
        ):
            return found
        return None

    def keep_facts(self, name: str, source: str, facts: Facts) -> None:
        """Keep whether the template reads ``feed`` and what it pulls in, for this source."""
        try:
            write_own(self._facts_entry(name, source), marshal.dumps(facts))
        except (OSError, ValueError):
            return

    def _entry(self, bucket: Bucket) -> Path:
        return self.folder / f"{self.tag}-{bucket.key}.jinja"

    def _facts_entry(self, name: str, source: str) -> Path:
        key = hashlib.sha256(f"{name}\0{source}".encode()).hexdigest()
        return self.folder / f"{self.tag}-{key}.facts"


def bytecode_cache(folder: Path | None, env: Environment) -> OwnBytecodeCache | None:
    """Return the cache of templates compiled for ``env`` in ``folder``, or None without one."""
    if folder is None:
        return None
    try:
        generator = b"".join(Path(name).read_bytes() for name in code_sources(env))
    except OSError:
        return None
    return OwnBytecodeCache(folder, digest(env, generator))


def code_sources(env: Environment) -> list[str]:
    """Return the files of poster's modules that define ``env``'s class or code generator."""
    classes = (*type(env).__mro__, *env.code_generator_class.__mro__)
    modules = {cls.__module__ for cls in classes if cls.__module__.startswith("poster.")}
    return sorted(str(sys.modules[name].__file__) for name in modules)


def digest(env: Environment, generator: bytes) -> str:
    """Return a digest of what the code compiled for ``env`` depends on, besides the source."""
    filters = sorted((name, hasattr(f, "jinja_pass_arg")) for name, f in env.filters.items())
    options = (
        jinja2.__version__,
        sys.version,
        type(env).__qualname__,
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        env.autoescape,
        env.optimized,
        sorted(env.extensions),
        filters,
        sorted(env.tests),
        getattr(env.finalize, "__qualname__", None),
    )
    return hashlib.sha256(repr(options).encode() + generator).hexdigest()[:16]
