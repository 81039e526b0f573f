"""Pass operator requests to a running daemon through files in the state directory.

The daemon holds the state's write lock, so a command cannot change the store while it runs.
``submit`` leaves the request as one JSON file in ``inbox/``, written atomically and named so
that names sort in submit order; the daemon calls ``drain`` every few seconds, which applies
each request through ``poster.ops.commands`` and deletes its file. Requests are idempotent, so a
crash between applying one and deleting its file does no harm. Only a daemon drains the inbox,
so a request is queued only while a daemon holds the lock; a command waits for a one-shot run
to end instead (``open_for_change``). A file that is not a request is
moved to ``inbox/rejected/`` and logged, never applied.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast, get_args

from poster.errors import StateError
from poster.frozen import frozen
from poster.ops.commands import (
    OPERATOR_DISABLED,
    RETRYABLE,
    reopen_item,
    retry_item,
    retry_problem,
    retry_states,
    set_feed_disabled,
)
from poster.ops.waiting import INBOX as INBOX
from poster.ops.waiting import daemon_running as daemon_running
from poster.ops.waiting import inbox_dir, pending
from poster.ops.waiting import waiting as waiting
from poster.store import Store
from poster.store.files import StateFiles, write_atomic
from poster.store.place import DAEMON, read_holder
from poster.store.store import SNAPSHOT_NAME

log = logging.getLogger(__name__)

REJECTED = "rejected"
LOCK_WAIT = 5.0
"""Seconds a command waits for a one-shot run to release the state before giving up."""
PAUSE = 0.2
Kind = Literal["retry", "retry-states", "reopen", "feed-enable", "feed-disable"]
_FIELDS = {"kind", "feed", "key", "states", "destination", "submitted"}


@frozen
class Request:
    """One thing an operator asked for: retry an item or states, re-open one, switch a feed."""

    kind: Kind
    feed: str | None = None
    key: str | None = None
    states: tuple[str, ...] = ()
    destination: str | None = None
    """The destination a ``reopen`` offers the item to again (its released numbers)."""

    def __post_init__(self) -> None:
        """Refuse fields that do not fit the kind, so a bad request never reaches the store."""
        problem = _problem(self)
        if problem is not None:
            raise ValueError(problem)

    def __str__(self) -> str:
        """Say what the request asks for, as the log and the command line show it."""
        if self.kind == "retry":
            return f"retry {self.feed}/{self.key}"
        if self.kind == "retry-states":
            where = f" of feed {self.feed}" if self.feed is not None else ""
            return f"retry {' and '.join(self.states)} items{where}"
        if self.kind == "reopen":
            return f"reopen {self.feed}/{self.key} at {self.destination}"
        return f"{self.kind.replace('-', ' ')} {self.feed}"


def _problem(request: Request) -> str | None:
    """Say what is wrong with a request's fields, or return ``None`` when they fit its kind."""
    if request.kind not in get_args(Kind):
        return f"unknown kind {request.kind!r}"
    if not isinstance(request.feed, str | None) or not isinstance(request.key, str | None):
        return "feed and key must be text"
    if not isinstance(request.destination, str | None):
        return "destination must be text"
    needs_key = request.kind in ("retry", "reopen")
    if request.feed is None and request.kind != "retry-states":
        return f"{request.kind} needs a feed"
    if (request.key is None) == needs_key:
        return f"{request.kind} needs a key" if needs_key else f"{request.kind} takes no key"
    if (request.destination is None) == (request.kind == "reopen"):
        return (
            f"{request.kind} {'needs' if request.destination is None else 'takes no'} destination"
        )
    if request.kind != "retry-states" and request.states:
        return f"{request.kind} takes no states"
    if request.kind == "retry-states" and not (
        request.states and set(request.states) <= set(RETRYABLE)
    ):
        return f"retry-states needs states among {', '.join(RETRYABLE)}, not {request.states!r}"
    return None


@frozen
class Applied:
    """What applying a request did; ``ok`` is false when it named something not there."""

    request: Request
    ok: bool
    text: str


def apply(store: Store, request: Request) -> Applied:
    """Carry out ``request`` on ``store`` and say what it did."""
    feed = request.feed
    if request.kind == "retry":
        assert feed is not None and request.key is not None
        problem = retry_problem(store, feed, request.key)
        if problem is not None or not retry_item(store, feed, request.key):
            return Applied(request, False, problem or "nothing to retry")
        text = f"released: the next pass of feed {feed!r} sends it, if the feed still lists it"
        return Applied(request, True, text)
    if request.kind == "reopen":
        return _reopen(store, request)
    if request.kind == "retry-states":
        count = retry_states(store, request.states, feed)
        if not count:
            return Applied(request, True, "nothing to retry")
        text = f"released {count} item{'s' if count > 1 else ''}: each is sent on its feed's "
        return Applied(request, True, text + "next pass, if the feed still lists it")
    assert feed is not None
    return _switch(store, request, feed)


def _reopen(store: Store, request: Request) -> Applied:
    """Offer an item again at one destination, whatever it was recorded as there."""
    assert request.feed is not None and request.key is not None and request.destination
    feed, key, destination = request.feed, request.key, request.destination
    was = reopen_item(store, feed, key, destination)
    if was is None:
        text = f"item {key!r} of feed {feed!r} has no sent, failed, uncertain or skipped record "
        return Applied(request, False, text + f"at {destination!r}; nothing to offer again")
    text = f"released (it was {was}): the next pass of feed {feed!r} sends it to the numbers "
    return Applied(request, True, text + f"of {destination!r} that still need it, if listed")


def _switch(store: Store, request: Request, feed: str) -> Applied:
    """Pause or resume a feed, saying what it was before."""
    enable = request.kind == "feed-enable"
    previous = set_feed_disabled(store, feed, None if enable else OPERATOR_DISABLED)
    if enable and previous is None:
        return Applied(request, True, f"feed {feed!r} was not disabled; nothing changed")
    if enable:
        return Applied(request, True, f"feed {feed!r} enabled again (it was {previous!r})")
    if previous == OPERATOR_DISABLED:
        return Applied(request, True, f"feed {feed!r} was already {OPERATOR_DISABLED}")
    text = f"feed {feed!r} disabled; poster skips it until `poster feed enable {feed}`"
    return Applied(request, True, text)


def encode(request: Request, submitted: datetime) -> bytes:
    """Serialize a request as the JSON a file in the inbox holds."""
    fields = {"kind": request.kind, "feed": request.feed, "key": request.key}
    value = {**fields, "states": list(request.states), "submitted": submitted.isoformat()}
    if request.destination is not None:
        value["destination"] = request.destination
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def decode(data: bytes) -> Request:
    """Read a request from an inbox file, raising ``ValueError`` that says what is wrong."""
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"is not JSON text ({exc})") from exc
    if not isinstance(value, dict):
        raise ValueError("is not a JSON object")
    unknown = value.keys() - _FIELDS
    if unknown:
        raise ValueError(f"has unknown fields: {', '.join(sorted(unknown))}")
    states = value.get("states", [])
    if not isinstance(states, list) or not all(isinstance(s, str) for s in states):
        raise ValueError("states is not a list of text")
    kind = cast(Kind, value.get("kind"))
    found = value.get("feed"), value.get("key"), tuple(states), value.get("destination")
    return Request(kind, *found)


def submit(state_dir: Path, request: Request) -> Path:
    """Leave ``request`` for the daemon that holds ``state_dir``; return the file written."""
    import secrets  # here: it loads random and OpenSSL, which status, reading the inbox, skips

    inbox = inbox_dir(state_dir)
    # Nanoseconds first, so names sort in submit order; the rest keeps them unique.
    name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}.json"
    try:
        _make_inbox(Path(state_dir))
        write_atomic(inbox / name, encode(request, datetime.now(UTC)))
    except OSError as exc:
        from poster.store.place import folder_problem  # here: only a failure needs it

        if exc.errno in (errno.EACCES, errno.EPERM):
            why = f"cannot be written ({exc.strerror}); run the command as the user poster runs as"
            raise StateError(inbox, why) from exc
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            why = "cannot be written: it is not a folder; remove it (poster makes the inbox again)"
            raise StateError(inbox, why) from exc
        raise folder_problem(inbox, exc) from exc
    return inbox / name


def _make_inbox(state_dir: Path) -> None:
    """Create the inbox owned like the state directory, so the daemon can delete what it read."""
    inbox = inbox_dir(state_dir)
    if inbox.is_dir():
        return
    inbox.mkdir(parents=True, exist_ok=True)
    owner = state_dir.stat()
    # Run as root (sudo), the directory would be root's and the daemon could not empty it.
    if os.geteuid() == 0 and inbox.stat().st_uid != owner.st_uid:
        os.chown(inbox, owner.st_uid, owner.st_gid)


def drain(state_dir: Path, store: Store) -> list[str]:
    """Apply every waiting request in order, deleting each file; return a line for each."""
    return [line for line, _ in drain_requests(state_dir, store)]


def drain_requests(state_dir: Path, store: Store) -> list[tuple[str, Request | None]]:
    """Apply every waiting request in order, deleting each file; return a line for each, with
    the request applied (None for a file that held none)."""
    return [_take(path, store) for path in pending(state_dir)]


def to_read_again(requests: Iterable[Request | None]) -> frozenset[str] | None:
    """Return the feeds whose next read must be in full to offer what ``requests`` released
    (None: every feed, for a retry of every feed's items); a pause needs none."""
    feeds: set[str] = set()
    for request in requests:
        if request is None or request.kind == "feed-disable":
            continue
        if request.feed is None:
            return None
        feeds.add(request.feed)
    return frozenset(feeds)


def _take(path: Path, store: Store) -> tuple[str, Request | None]:
    """Apply the request in one file and delete it, or set the file aside when it is not one."""
    try:
        request = decode(path.read_bytes())
    except FileNotFoundError:
        return f"{path.name}: gone before it was read", None
    except (OSError, ValueError) as exc:
        return _reject(path, str(exc)), None
    applied = apply(store, request)
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        # Applying again is harmless, but it would happen on every drain until this is fixed.
        hint = f"let the user poster runs as write {path.parent}"
        log.error("event=inbox-undeletable file=%s error=%s hint=%s", path, exc.strerror, hint)
    return f"{request}: {applied.text}", request


def _reject(path: Path, reason: str) -> str:
    """Move a file that is not a request to ``rejected/`` and log why."""
    target = path.parent / REJECTED / path.name
    try:
        target.parent.mkdir(exist_ok=True)
        os.replace(path, target)
    except OSError as exc:
        log.error("event=inbox-rejected file=%s reason=%s moved=no error=%s", path, reason, exc)
        return f"{path.name}: not a request ({reason}); could not move it aside: {exc.strerror}"
    log.warning("event=inbox-rejected file=%s reason=%s moved_to=%s", path, reason, target)
    return f"{path.name}: not a request ({reason}); moved to {target}"


def is_locked(error: StateError, state_dir: Path) -> bool:
    """Tell whether ``error`` says another process holds the state's write lock."""
    return error.path == StateFiles(Path(state_dir) / SNAPSHOT_NAME).lock


def open_for_change(
    state_dir: Path,
    *,
    wait: float | None = None,
    pause: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Store | None:
    """Open the state to apply a request; return ``None`` when a daemon holds it (queue it).

    Another holder, such as a one-shot run, applies no requests: wait up to ``wait`` seconds
    (default ``LOCK_WAIT``) for it to end, then raise the "is locked" error saying what holds it.
    """
    files = StateFiles(Path(state_dir) / SNAPSHOT_NAME)
    deadline = clock() + (LOCK_WAIT if wait is None else wait)
    while True:
        try:
            return Store(state_dir)
        except StateError as exc:
            if not is_locked(exc, state_dir):
                raise
        holder = read_holder(files)
        if holder is not None and holder.role == DAEMON:
            return None
        if clock() >= deadline:
            what = "another poster process" if holder is None else f"a {holder.role} run"
            pid = f" (pid {holder.pid})" if holder is not None else ""
            raise StateError(
                files.lock, f"is locked: {what}{pid} is using the state; try again when it ends"
            )
        pause(PAUSE)
