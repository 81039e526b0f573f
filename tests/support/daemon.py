"""Run the daemon against a sandbox channel and a feed server on 127.0.0.1, for tests.

Tests publish RSS feeds on a ``FeedServer`` through ``Feeds``, write a feeds.toml that polls them
every ``POLL`` with ``Project``, run ``Daemon.run()`` in a thread with ``running``, and wait (with a
deadline) for what the channel, the store, the logs and the listener show.
"""

from __future__ import annotations

import socket
import string
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
from feedserver import FeedServer, Route

from poster.daemon.callbacks import POLL_EVERY
from poster.daemon.core import Daemon
from poster.daemon.systemd import Notifier
from poster.destinations.viber.sandbox import Sandbox
from poster.store import FeedState, Store
from support.wait import wait_for

DATA = Path(__file__).parent.parent / "data" / "daemon"
TOKEN = "daemon-Vq3m-8xRt2-never-shown-71"
"""A token distinctive enough that finding it in any output cannot be a coincidence."""
EPOCH = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RSS = "application/rss+xml"
POLL = "0.2s"
"""How often test feeds are read: often enough that waiting for a few reads stays short."""
BACKOFF_MAX = 0.5
"""Seconds a failing test feed waits at most before the next read, and between re-probes."""
TICK = 0.02
"""Seconds between the daemon's chores in tests: a reload or an operator request is seen at once."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Feeds


@dataclass(frozen=True)
class Post:
    """One item a test feed publishes."""

    feed: str
    number: int

    @property
    def guid(self) -> str:
        return f"{self.feed}-{self.number}"

    @property
    def title(self) -> str:
        return f"{self.feed.capitalize()} story {self.number}"

    @property
    def date(self) -> datetime:
        # Items of every feed interleave by date: story n of any feed is n minutes in.
        return EPOCH + timedelta(minutes=self.number, seconds=len(self.feed))


def channel_xml(name: str, posts: list[Post]) -> bytes:
    """Return an RSS 2.0 document listing ``posts``, built from the templates in DATA."""
    item = string.Template((DATA / "item.xml").read_text(encoding="utf-8"))
    items = "".join(
        item.substitute(
            name=name, guid=p.guid, title=p.title, date=format_datetime(p.date, usegmt=True)
        )
        for p in posts
    )
    document = string.Template((DATA / "channel.xml").read_text(encoding="utf-8"))
    return document.substitute(name=name, title=f"{name} feed", items=items).encode("utf-8")


class Feeds:
    """Publish test feeds on a FeedServer, item by item, or make them fail."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.published: dict[str, list[Post]] = {}

    def url(self, name: str) -> str:
        return self.server.url(f"/{name}.xml")

    def publish(self, name: str, *numbers: int) -> list[Post]:
        """Add items to feed ``name`` and serve the new document; return the new items."""
        posts = [Post(name, n) for n in numbers]
        self.published.setdefault(name, []).extend(posts)
        self.server.routes[f"/{name}.xml"] = (200, {"Content-Type": RSS}, self.body(name))
        return posts

    def body(self, name: str) -> bytes:
        return channel_xml(name, self.published.get(name, []))

    def fail(
        self, name: str, status: int, headers: dict[str, str] | None = None, delay: float = 0.0
    ) -> None:
        """Answer requests for feed ``name`` with ``status`` and no feed, after ``delay``."""
        route = Route(status, headers or {}, b"unavailable\n", delay=delay)
        self.server.routes[f"/{name}.xml"] = route

    def slow(self, name: str, delay: float) -> None:
        """Answer requests for feed ``name`` with its items only after ``delay`` seconds."""
        route = Route(200, {"Content-Type": RSS}, self.body(name), delay=delay)
        self.server.routes[f"/{name}.xml"] = route

    def requests(self, name: str) -> list[dict[str, str]]:
        """Return the headers of every request for feed ``name`` so far."""
        return [r.headers for r in list(self.server.requests) if r.path == f"/{name}.xml"]


# The project under test


@dataclass
class Project:
    """A scratch folder with templates, a feeds.toml and a state directory."""

    root: Path
    sandbox: Sandbox
    feeds: Feeds
    listen: int = field(default_factory=free_port)

    @property
    def config(self) -> Path:
        return self.root / "feeds.toml"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def write(self, *tables: str, daemon: str = "", extra: str = "") -> Path:
        """Write feeds.toml: the sandbox, no gap between posts, fast backoff, then ``tables``."""
        head = (
            'templates = "templates"\n\n'
            f'[viber]\napi_url = "{self.sandbox.api_url}"\nmin_gap = "0s"\n\n'
            f'[webhook]\nlisten = "127.0.0.1:{self.listen}"\n\n'
            f'[daemon]\nbackoff_max = "{BACKOFF_MAX}s"\nreprobe = "{BACKOFF_MAX}s"\n{daemon}\n'
        )
        self.config.write_text(head + extra + "\n" + "\n".join(tables), encoding="utf-8")
        return self.config

    def table(
        self, name: str, backlog: int | str = "all", extra: str = "", interval: str = POLL
    ) -> str:
        """Return a ``[[feeds]]`` table polling feed ``name`` every ``interval``."""
        shown = f'"{backlog}"' if isinstance(backlog, str) else str(backlog)
        return (
            f'[[feeds]]\nname = "{name}"\nurl = "{self.feeds.url(name)}"\n'
            f'interval = "{interval}"\nbacklog = {shown}\n{extra}'
        )

    def records_of_feeds(self) -> set[str]:
        """Return the feeds with a delivery record, read beside the daemon."""
        with Store(self.state, read_only=True) as store:
            return {record.feed for record in store.deliveries()}

    def records(self, state: str | None = None) -> dict[str, str]:
        """Return each item's delivery state at the channel, read beside or after the daemon."""
        with Store(self.state, read_only=True) as store:
            found = store.deliveries(states=None if state is None else [state])
        return {r.key: r.state for r in found if r.destination == "viber"}


def new_project(root: Path, sandbox: Sandbox, feeds: Feeds) -> Project:
    """Return a project in ``root`` with the test templates, posting to ``sandbox``."""
    (root / "templates").mkdir()
    for template in (DATA / "templates").iterdir():
        (root / "templates" / template.name).write_bytes(template.read_bytes())
    return Project(root, sandbox, feeds)


class Notifications(Notifier):
    """Keep what the daemon tells systemd, as systemd would see it, without a socket."""

    def __init__(self) -> None:
        super().__init__({})
        self.sent: list[str] = []

    def ready(self, status: str | None = None) -> None:
        self.sent.append("READY")

    def reloading(self) -> None:
        self.sent.append("RELOADING")

    def stopping(self) -> None:
        self.sent.append("STOPPING")


@dataclass
class Running:
    """A daemon running in a thread, and what it has told systemd."""

    daemon: Daemon
    notes: Notifications
    # One client for the whole run: making one per request costs a TLS context each time.
    http: httpx.Client

    def readies(self) -> int:
        return self.notes.sent.count("READY")

    def reload(self) -> None:
        """Reload and wait until the daemon says it is ready again, which takes a tick or so."""
        before = self.readies()
        self.daemon.request_reload()
        wait_for(lambda: self.readies() > before, "READY=1 after the reload", timeout=1.0)

    def get(self, path: str) -> httpx.Response:
        """GET a path of the daemon's listener."""
        host, port = self.daemon.config.webhook.listen or ("", 0)
        return self.http.get(f"http://{host}:{port}{path}")

    def metric(self, line_start: str) -> float:
        """Return the value of the one /metrics line starting with ``line_start``."""
        page = self.get("/metrics").text
        [line] = [line for line in page.splitlines() if line.startswith(line_start + " ")]
        return float(line.rsplit(" ", 1)[1])


@contextmanager
def running(
    project: Project, tick: float = TICK, clock: Callable[[], datetime] | None = None,
    gateway_poll: float = POLL_EVERY,
) -> Iterator[Running]:  # fmt: skip
    """Run the daemon of ``project`` in a thread; stop it and check it ended well on exit."""
    notes = Notifications()
    options = {"clock": clock} if clock is not None else {}
    daemon = Daemon(
        project.config, project.state, notifier=notes, tick=tick, gateway_poll=gateway_poll,
        **options,
    )  # fmt: skip
    ended: dict[str, object] = {}

    def run() -> None:
        try:
            ended["code"] = daemon.run()
        except BaseException as exc:
            ended["error"] = exc

    thread = threading.Thread(target=run, name="daemon-under-test")
    thread.start()
    try:
        wait_for(lambda: "READY" in notes.sent or ended, "the daemon to start")
        if "error" in ended:
            raise AssertionError(f"the daemon failed to start: {ended['error']!r}")
        with httpx.Client(timeout=5) as http:
            yield Running(daemon, notes, http)
    finally:
        daemon.request_stop()
        thread.join(timeout=15)
    assert not thread.is_alive(), "the daemon did not stop within 15 s"
    assert ended == {"code": 0}
    assert notes.sent[-1] == "STOPPING"


def state_when(store: Store, feed: str, check: Callable[[FeedState], bool]) -> FeedState:
    """Return the feed's state once ``check`` accepts it."""
    found: list[FeedState] = []

    def accepted() -> bool:
        found[:] = [store.feed_state(feed)]
        return check(found[0])

    wait_for(accepted, f"the state of feed {feed!r} to change")
    return found[0]


def texts(sandbox: Sandbox) -> list[str]:
    """Return the text of every post the sandbox accepted, oldest first."""
    return [str(post["text"]) for post in sandbox.posts]


def titles(posts: list[Post], prefix: str = "") -> list[str]:
    """Return the texts the default template makes of ``posts``, each after ``prefix``."""
    return [prefix + post.title for post in posts]
