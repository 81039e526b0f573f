"""Re-render a configuration's latest items onto a sandbox channel whenever its files change.

Each render runs the feeds through the real pipeline, as ``poster preview`` does (nothing is
remembered, nothing held back, the newest items of each feed), but sends the messages to the
sandbox, which checks them as strictly as the Channels Post API. The sandbox page and the
terminal then show the posts and every problem: a configuration error, a feed that cannot be
read, a template that fails, a post the API would refuse.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from poster.config import Config, load_config
from poster.destinations.viber.api import ViberChannel
from poster.destinations.viber.sandbox.session import SandboxSession, reroute
from poster.errors import PosterError
from poster.fetch.client import FeedClient
from poster.frozen import frozen, replace
from poster.pipeline import SENT, Deps, FeedReport, run_pass
from poster.render import Renderer
from poster.store.ledger import ReadOnlyLedger

POLL_SECONDS = 0.5
"""How often the watched files' modification times are compared."""

LATEST = 3
"""How many of each feed's newest items a render shows, unless told otherwise."""

WATCH_MAX_FILES = 2000
"""The most files of the template folder watched; a folder that big is not a template folder."""

Snapshot = tuple[tuple[str, int, int], ...]


@frozen
class Render:
    """What one render put on the sandbox: a summary line and each problem in a line."""

    summary: str
    problems: tuple[str, ...]
    posts: int

    def lines(self) -> list[str]:
        """Return the summary, then the problems indented, as the terminal shows them."""
        return [self.summary, *(f"  - {problem}" for problem in self.problems)]


class Studio:
    """Watch feeds.toml, its templates and its local feeds; re-render onto the sandbox on change."""

    def __init__(
        self,
        config_path: Path,
        session: SandboxSession,
        client: FeedClient,
        api: httpx.Client,
        *,
        feeds: Sequence[str] = (),
        limit: int = LATEST,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config_path = config_path
        self.session = session
        self._client = client
        self._api = api
        self._names = frozenset(feeds)
        self._limit = limit
        self._clock = clock
        self._config: Config = session.config
        self._seen: Snapshot | None = None

    def tick(self) -> Render | None:
        """Render again when a watched file changed since the last look; else return None."""
        before = self.snapshot()
        if before == self._seen:
            return None
        render = self.render()
        after = self.snapshot()
        # A new configuration may watch other files; otherwise a save during the render must
        # still count as a change at the next tick.
        self._seen = before if _names(after) == _names(before) else after
        return render

    def run(
        self,
        stop: threading.Event,
        show: Callable[[Render], None],
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        """Tick every ``POLL_SECONDS`` until ``stop`` is set, showing each render."""
        pause = wait or stop.wait
        while not stop.is_set():
            render = self.tick()
            if render is not None:
                show(render)
            if pause(POLL_SECONDS):
                return

    def snapshot(self) -> Snapshot:
        """Return the name, modification time and size of every watched file that exists."""
        found = []
        for path in self._watched():
            try:
                info = path.stat()
            except OSError:
                continue
            found.append((str(path), info.st_mtime_ns, info.st_size))
        return tuple(sorted(found))

    def _watched(self) -> Iterable[Path]:
        """Yield feeds.toml, the files of the template folder, and the local feeds' files."""
        yield self.config_path
        folder = self._config.templates_dir
        if folder.is_dir():
            files = (p for p in folder.rglob("*") if not p.name.startswith("."))
            for count, path in enumerate(files):
                if count >= WATCH_MAX_FILES:
                    break
                yield path
        for feed in self._config.feeds:
            if feed.url[:5].lower() == "file:":
                yield Path(url2pathname(urlsplit(feed.url).path))

    def render(self) -> Render:
        """Load the configuration and post each feed's newest items to an emptied sandbox."""
        stamp = time.strftime("%H:%M:%S", time.localtime(self._clock()))
        try:
            self._config = load_config(self.config_path)
            render = self._post_all(stamp)
        except PosterError as exc:
            # The page keeps the last good render, under the reason it is not updated.
            problems = tuple(str(exc).splitlines())
            render = Render(f"{stamp} not rendered: fix the problem below", problems, 0)
        self.session.sandbox.set_notice(render.summary, render.problems)
        return render

    def _post_all(self, stamp: str) -> Render:
        """Run the chosen feeds through the pipeline into the sandbox; return what happened."""
        config = reroute(self._config, self.session.sandbox)
        chosen = self._names
        # Nothing is held back: the studio shows each feed's newest items whatever its backlog.
        feeds = [
            replace(f, backlog=None)
            for f in config.feeds
            if f.enabled and (not chosen or f.name in chosen)
        ]
        channel = ViberChannel(
            self._api, self.session.token, api_url=config.viber.api_url, name="sandbox"
        )
        deps = Deps(
            client=self._client,
            renderer=Renderer(config.templates_dir),
            destination=channel,
            ledger=ReadOnlyLedger(),
            conditional=False,
            limit=self._limit,
            workers=config.daemon.max_fetches,
            own_routes=False,  # the sandbox stands in for every destination
        )
        self.session.sandbox.channel.clear()
        reports = run_pass(feeds, deps)
        posts = sum(o.delivery == SENT for r in reports for o in r.outcomes)
        problems = tuple(_problems(reports))
        summary = f"{stamp} rendered {posts} posts from {len(feeds)} feeds"
        count = len(problems)
        summary += f", {count} problem{'s' if count != 1 else ''}" if problems else ", no problems"
        return Render(summary, problems, posts)


def _names(snapshot: Snapshot) -> set[str]:
    """Return the watched files' names in a snapshot."""
    return {name for name, _, _ in snapshot}


def _problems(reports: Sequence[FeedReport]) -> list[str]:
    """Return a line per feed that failed and per reason items did not post, items grouped."""
    lines = [str(r.error) for r in reports if r.error is not None]
    items: dict[str, list[str]] = {}
    for report in reports:
        for outcome in report.outcomes:
            if outcome.error is None or outcome.delivery is None:
                continue
            item = outcome.decision.item
            # A render error already names the feed and item; say it once, by title.
            reason = outcome.error.removeprefix(f"feed {report.feed!r} item {item.key!r}: ")
            items.setdefault(reason, []).append(f"{report.feed}: {item.title or item.key}")
    for reason, which in items.items():
        more = f" and {len(which) - 1} more" if len(which) > 1 else ""
        lines.append(f"{reason} ({which[0]}{more})")
    return lines
