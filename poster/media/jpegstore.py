"""Keep the JPEGs poster made in the state folder, bounded, and serve them to whoever fetches them.

Each file is named by a keyed hash of its source URL and the rule it was made for, so names
cannot be guessed or listed, and the same image is converted once. Only names of that shape are
served; the folder holds nothing else that could leak.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from email.utils import formatdate
from pathlib import Path

from poster.frozen import frozen
from poster.localfiles import read_capped
from poster.media.policy import ImageRule
from poster.media.sniff import sniff
from poster.models import Media
from poster.store.files import write_atomic

log = logging.getLogger(__name__)

MAX_BYTES = 200_000_000
"""The most the store holds; the oldest files go first."""
RETENTION = 30 * 86400.0
"""Seconds a file is kept after it was made; a post's picture is fetched within minutes."""
_NAME = re.compile(r"^[0-9a-f]{40}\.jpeg$")
_KEY_FILE = ".key"
_CACHE = "public, max-age=31536000, immutable"
_SERVED_MAX = 10_000_000
"""The largest file served: more than any rule makes, so only damage hits it."""

Answer = tuple[int, dict[str, str], bytes]
"""A status, its headers and its body."""


@frozen
class StoredFile:
    """One converted image kept by the store."""

    name: str
    url: str
    length: int
    width: int | None
    height: int | None

    def media(self, title: str | None = None) -> Media:
        """Return the file as a probed JPEG media record."""
        return Media(
            self.url, "image/jpeg", self.length, title=title,
            width=self.width, height=self.height, probed=True,
        )  # fmt: skip


class MediaStore:
    """The folder of converted images and the public URL it is served under."""

    def __init__(
        self,
        folder: Path,
        public_url: str,
        clock: Callable[[], float],
        *,
        max_bytes: int = MAX_BYTES,
        retention: float = RETENTION,
        read_only: bool = False,
    ) -> None:
        self.folder = folder
        self.public_url = public_url.rstrip("/")
        self.read_only = read_only
        self._clock = clock
        self._max_bytes = max_bytes
        self._retention = retention
        self._lock = threading.Lock()
        self._key = _key(folder, read_only)

    def name(self, source: str, rule: ImageRule) -> str:
        """Return the unguessable file name for ``source`` made to fit ``rule``."""
        recipe = f"{rule.max_bytes}|{rule.max_side}|{source}".encode()
        return hmac.new(self._key, recipe, hashlib.sha256).hexdigest()[:40] + ".jpeg"

    def find(self, name: str) -> StoredFile | None:
        """Return the stored file ``name``, if it was made and is still kept."""
        path = self.folder / name
        try:
            with path.open("rb") as handle:
                head = handle.read(65536)
                length = os.fstat(handle.fileno()).st_size
        except OSError:
            return None
        found = sniff(head)
        return StoredFile(name, f"{self.public_url}/{name}", length, found.width, found.height)

    def put(self, name: str, data: bytes, width: int, height: int) -> StoredFile:
        """Keep ``data`` as ``name`` (only in memory when read-only), then prune the folder."""
        stored = StoredFile(name, f"{self.public_url}/{name}", len(data), width, height)
        if self.read_only:
            return stored
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomic(self.folder / name, data)
            self._prune(keep=name)
        return stored

    def _prune(self, keep: str) -> None:
        """Remove files past the retention, then the oldest until the folder fits its cap."""
        now = self._clock()
        files = []
        for entry in os.scandir(self.folder):
            if _NAME.match(entry.name):
                stat = entry.stat()
                files.append((stat.st_mtime, stat.st_size, entry.name))
        files.sort()
        total = sum(size for _, size, _ in files)
        for mtime, size, name in files:
            if name != keep and (now - mtime > self._retention or total > self._max_bytes):
                (self.folder / name).unlink(missing_ok=True)
                total -= size
                log.debug("event=media-pruned name=%s", name)

    def answer(self, method: str, name: str, headers: Mapping[str, str]) -> Answer:
        """Answer a GET or HEAD for the stored file ``name``."""
        return serve(self.folder, method, name, headers)


def serve(folder: Path, method: str, name: str, headers: Mapping[str, str]) -> Answer:
    """Answer a GET or HEAD for a file poster made in ``folder``: with caching headers, or 404.

    Only names of the store's own shape are looked up, so nothing else is ever served or listed.
    The file never changes under its name, hence ``immutable`` (RFC 8246).
    """
    if method not in ("GET", "HEAD"):
        return 405, {"Allow": "GET, HEAD"}, b""
    if not _NAME.match(name):
        return 404, {}, b""
    try:
        with (folder / name).open("rb") as handle:
            data = handle.read(_SERVED_MAX + 1)
            modified = os.fstat(handle.fileno()).st_mtime
    except OSError:
        return 404, {}, b""
    if len(data) > _SERVED_MAX:
        return 404, {}, b""
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    fields = {"ETag": etag, "Cache-Control": _CACHE, "Content-Type": "image/jpeg"}
    fields["Last-Modified"] = formatdate(modified, usegmt=True)
    lowered = {key.lower(): value for key, value in headers.items()}
    wanted = {tag.strip() for tag in lowered.get("if-none-match", "").split(",")}
    if etag in wanted or "*" in wanted:
        return 304, fields, b""
    return 200, fields, data


def _key(folder: Path, read_only: bool) -> bytes:
    """Return the store's secret key, made once and kept in the folder (0600)."""
    path = folder / _KEY_FILE
    try:
        key = read_capped(path, 64)
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    except OSError as exc:
        from poster.store.place import read_refused  # here: only a failure needs it

        raise read_refused(
            path,
            exc,
            "remove it and poster makes a new key (images converted before are then made again "
            "under new names)",
        ) from exc
    key = secrets.token_bytes(32)
    if not read_only:
        try:
            _keep_key(path, key)
        except OSError as exc:
            from poster.store.place import folder_problem  # here: only a failure needs it

            raise folder_problem(folder, exc) from exc
    return key


def _keep_key(path: Path, key: bytes) -> None:
    """Write ``key`` to ``path`` (0600) whole, or leave no file: a crash or a full disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, key, mode=0o600)
