"""Run feeds through every stage in order: fetch, parse, select, render, send, record.

A real run and a preview differ only in the destinations, ledger and pacing they are given,
so what the preview shows is what a run posts; ``outbox`` orders and paces the sends.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Container, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from poster.config import FeedConfig
from poster.destinations import Destination, Kind, Message
from poster.errors import (
    DeliveryError,
    DeliveryUncertain,
    DestinationFatal,
    FeedError,
    MessageRejected,
    ParseError,
    PosterError,
    RenderError,
    ResponseTooLarge,
    RetryLater,
    StateError,
    TemplateUnreadable,
    TemplateUnusable,
)
from poster.fetch.client import FeedClient, without_userinfo
from poster.fetch.feed import fetch
from poster.frozen import frozen, replace
from poster.models import Action, FetchResult, ParsedFeed, State, Validators
from poster.pipeline.pacing import Pacer
from poster.pipeline.timings import Timings
from poster.render import Renderer, unreadable
from poster.store.ledger import Ledger, waiting_key, waiting_keys

if TYPE_CHECKING:
    from poster.destinations import Moves, Receipt
    from poster.items import Item
    from poster.models import FeedMeta
    from poster.select import Decision
    from poster.store.ledger import KeyedBy
    from poster.store.memoryledger import Recall

log = logging.getLogger(__name__)

SENT, FAILED, DEFERRED, UNCERTAIN = State.SENT, State.FAILED, State.DEFERRED, State.UNCERTAIN


class Media(Protocol):
    """Probe (and maybe convert) the media of items to post: ``poster.media.stage.MediaStage``."""

    def prepare(
        self, feed: FeedConfig, decisions: Sequence[Decision], kinds: Sequence[object]
    ) -> list[Decision]:
        """Return the decisions with the wanted items' media probed, converted and explained."""

    def flush(self) -> None:
        """Write what was probed since the last write."""


Carry = Callable[[str, "Moves"], None]
"""Hand destination ``route`` the sends of the items that changed name: ``carry(route, moves)``."""


@frozen
class Deps:
    """Everything a pass needs from outside."""

    client: FeedClient
    renderer: Renderer
    destination: Destination | None
    """The one destination of a pass that has one (the preview's); else None."""
    ledger: Ledger
    conditional: bool = True
    limit: int | None = None
    pacer: Pacer | None = None
    timings: Timings | None = None
    workers: int = 1
    """How many feeds a pass reads at the same time."""
    itemize: bool = True
    """Keep every item's decision; a run needs only the items to post and counts of the rest."""
    dry_run: bool = False
    """The destination only records what it is given (the preview), so nothing is delivered."""
    media: Media | None = None
    """Probes the media of items to post, and converts images, before they are rendered."""
    route: Callable[[FeedConfig], tuple[str, ...]] | None = None
    """The names of the destinations a feed posts to; None means the one destination."""
    kinds: Callable[[FeedConfig], tuple[object, ...]] | None = None
    """The kinds of the destinations a feed posts to; None means the one destination's."""
    own_routes: bool = True
    """The routes are the feeds' own ``to``, which a read remembers; not a sandbox stand-in's."""
    reread_waiting: bool = False
    """Read a feed with items kept waiting in full, not "not modified": a pass offers them so.
    The daemon holds its waiting items in its lanes and reads as ever."""
    former: Callable[[], frozenset[str]] | None = None
    """The feeds the state keeps that feeds.toml no longer names: a feed's first read goes on
    where they stopped (``poster.pipeline.renamed``)."""
    carry: Carry | None = None
    """Hands destinations that keep each recipient's send what a renamed feed takes over."""

    def routes(self, feed: FeedConfig) -> tuple[str, ...]:
        """Return the names of the destinations ``feed`` posts to."""
        if self.route is not None:
            return self.route(feed)
        return () if self.destination is None else (self.destination.name,)

    def kinds_of(self, feed: FeedConfig) -> tuple[object, ...]:
        """Return the kinds of the destinations ``feed`` posts to."""
        if self.kinds is not None:
            return self.kinds(feed)
        return () if self.destination is None else (self.destination.kind,)

    def stage(self, name: str) -> AbstractContextManager[None]:
        """Time a stage when timings are being kept."""
        return self.timings.stage(name) if self.timings is not None else nullcontext()


@frozen
class Outcome:
    """One item's decision and, for wanted items, what became of it."""

    decision: Decision
    message: Message | None = None
    receipt: Receipt | None = None
    delivery: State | None = None
    error: str | None = None
    fatal: DestinationFatal | None = None
    """The destination's refusal of all posts, when that is what stopped this item."""
    retry_after: float | None = None
    """How long the destination asked to wait before the next try, when it said."""
    destination: str | None = None
    """The destination the outcome is about, for wanted items."""
    unwritten: bool = False
    """The state could not record the intent (a full disk): the item was not sent, and waits."""
    item_waits: bool = False
    """The item alone waits (its template cannot be used): its destination is not at fault."""


@frozen
class FeedReport:
    """What one pass over one feed did."""

    feed: str
    fetch: FetchResult | None = None
    parsed: ParsedFeed | None = None
    outcomes: tuple[Outcome, ...] = ()
    error: FeedError | None = None
    fatal: DestinationFatal | None = None
    skipped: tuple[tuple[str, int], ...] = ()
    """How many items were not posted, by action, when their decisions were not kept."""

    @property
    def ok(self) -> bool:
        """Tell whether nothing needs an operator: the feed was read, no post failed or was lost.

        Items waiting for the next pass (pacing, rate limits) are not a failure.
        """
        failed = any(o.delivery in (FAILED, UNCERTAIN) for o in self.outcomes)
        return self.error is None and self.fatal is None and not failed


@frozen
class Batch:
    """A feed read and decided, waiting for delivery."""

    feed: FeedConfig
    result: FetchResult
    parsed: ParsedFeed
    decisions: tuple[Decision, ...]
    skipped: tuple[tuple[str, int], ...] = ()

    def wanted(self) -> list[Decision]:
        """Return the decisions to post, in the feed's oldest-first order."""
        return [decision for decision in self.decisions if decision.wanted]

    @property
    def meta(self) -> FeedMeta:
        """Return what templates may know about the feed."""
        from poster.items import FeedMeta  # here: a pass where no feed changed makes no item class

        url = without_userinfo(self.feed.url)  # a template may show it in a post
        return FeedMeta(self.feed.name, self.parsed.title, self.parsed.link, url)


def collect(feed: FeedConfig, deps: Deps, busy: frozenset[str] = frozenset()) -> Batch | FeedReport:
    """Fetch, parse and select one feed; a report stands in for a batch when nothing is new.

    ``busy`` holds keys already waiting to be posted, which must not be offered twice.
    """
    return _guarded(feed, _collect, feed, deps, busy)


def _guarded(
    feed: FeedConfig, read: Callable[..., Batch | FeedReport], *args: Any
) -> Batch | FeedReport:
    """Return ``read(*args)``; an error no stage expected fails this feed's read, not the rest.

    Such an error is a bug: its traceback goes where the command line puts one, and the feed is
    retried later, as after any failed read. poster's own errors (a state file that cannot be
    written, a destination refusing) go on to the caller, which knows what each means.
    """
    try:
        return read(*args)
    except PosterError:
        raise
    except Exception as exc:  # one feed's bug must not stop the others
        from poster.crash import report_bug  # here: only a bug needs it

        return FeedReport(feed.name, error=FeedError(feed.name, report_bug(exc)))


def _collect(feed: FeedConfig, deps: Deps, busy: frozenset[str]) -> Batch | FeedReport:
    """Do ``collect``'s work."""
    stored = deps.ledger.validators(feed.name)
    previous = stored if deps.conditional else None
    mark = read_mark(feed, deps.routes(feed))
    if previous is not None and previous.taken_for != mark:
        previous = None  # taken under other settings: what the feed holds is decided anew
    # Items a pass or a stopped daemon left waiting are offered by a read of the feed: a
    # "not modified" would leave them waiting for the feed's next change.
    if previous is not None and deps.reread_waiting and _kept_waiting(feed, deps):
        previous = None
    try:
        with deps.stage("fetch"):
            result = fetch(feed, deps.client, previous, taken_for=mark)
        if result.body is None:
            log.debug("feed=%s status=not-modified http=%s", feed.name, result.status)
            if result.validators != previous:  # most 304s change nothing worth a write
                deps.ledger.save_validators(feed.name, result.validators)
            return FeedReport(feed.name, fetch=result)
    except FeedError as exc:
        # The report carries the failure; its caller tells it once (a run's summary, the daemon).
        log.debug("feed=%s status=error error=%s", feed.name, exc)
        return FeedReport(feed.name, error=exc)
    return _decide(feed, result, deps, busy, stored)


def _kept_waiting(feed: FeedConfig, deps: Deps) -> bool:
    """Tell whether the state keeps items of ``feed`` waiting for the feed's own routes."""
    return deps.own_routes and bool(deps.ledger.get_meta(waiting_key(feed.name)))


@functools.lru_cache(maxsize=1 << 15)
def read_mark(feed: FeedConfig, routes: tuple[str, ...]) -> str:
    """Return the mark of what a read of ``feed`` is taken for: its settings and destinations.

    The validators of a read are sent again only by a read with the same mark. After the
    feed's ``url``, rules, key, template or any other setting changes, or in a pass to other
    destinations (a sandbox's), the feed is fetched and its items selected anew, as a preview
    does, rather than answered "not modified" and read under the old settings' view. Header
    values and credentials in the URL are left out: the state keeps no trace of a secret.
    """
    import hashlib  # here: a pass of 304 answers hashes nothing else

    if feed.headers or "@" in feed.url:
        names = tuple((name, "") for name, _ in feed.headers)
        feed = replace(feed, url=without_userinfo(feed.url), headers=names)
    text = f"{feed!r}\0{routes!r}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()[:16]


def collect_pushed(
    feed: FeedConfig,
    deps: Deps,
    body: bytes,
    headers: tuple[tuple[str, str], ...],
    busy: frozenset[str] = frozenset(),
) -> Batch | FeedReport:
    """Parse and select content a WebSub hub pushed, exactly as a polled read of the feed.

    The feed's validators stay as the last poll left them, so its next poll is unaffected.
    """
    fields = {name.lower(): value for name, value in headers}
    coding = fields.get("content-encoding", "identity").strip().lower()
    if coding in ("gzip", "x-gzip", "deflate"):
        # A hub may push the content as the topic served it, compressed: read it as a poll would.
        decoded = _decompressed(body, coding, feed.max_bytes)
        if decoded is None:
            message = f"not a feed: the pushed body is not valid {coding}"
            return FeedReport(feed.name, error=ParseError(feed.name, message))
        body = decoded
        headers = tuple((n, v) for n, v in headers if n.lower() != "content-encoding")
    if len(body) > feed.max_bytes:
        return FeedReport(feed.name, error=ResponseTooLarge(feed.name, feed.max_bytes))
    stored = deps.ledger.validators(feed.name)
    result = FetchResult(
        feed=feed.name,
        url=without_userinfo(feed.url),  # the base of relative links, as a polled read's
        status=200,
        body=body,
        validators=stored or Validators(),
        content_type=fields.get("content-type"),
        headers=tuple((name.lower(), value) for name, value in headers),
        fetched_at=datetime.now(UTC),
    )
    return _guarded(feed, _decide, feed, result, deps, busy, stored)


def _decompressed(body: bytes, coding: str, most: int) -> bytes | None:
    """Return ``body`` decoded from ``coding``, cut one byte past ``most``; None when damaged."""
    import httpx

    from poster.fetch.inflate import decoded  # a fetched body's own decoding, piece by piece

    out = bytearray()
    try:
        for piece in decoded((body,), coding):
            out += piece
            if len(out) > most:  # over the cap: refused after
                break
    except httpx.HTTPError:  # damaged, or cut short
        return None
    return bytes(out)


def _decide(
    feed: FeedConfig,
    result: FetchResult,
    deps: Deps,
    busy: frozenset[str],
    stored: Validators | None,
) -> Batch | FeedReport:
    """Parse and select a fetched body; a report stands in for a batch when it is not a feed.

    ``stored`` are the validators the feed's last read kept, which say where it was read.
    """
    # Loaded by the first feed that changed: a pass of 304 answers never needs the parsers.
    from poster.parse import parse

    try:
        with deps.stage("parse"):
            parsed = parse(result, feed)
        # A rule that takes too long fails the read here, before anything of it is recorded.
        with deps.stage("select"):
            if deps.own_routes:
                _carry_keys(feed, result, parsed, deps)
            decisions = _select(feed, parsed, deps, busy, stored)
    except FeedError as exc:
        log.debug("feed=%s status=error error=%s", feed.name, exc)
        return FeedReport(feed.name, error=exc)
    if deps.limit is not None:
        decisions = decisions[-deps.limit :] if deps.limit > 0 else []
    if deps.media is not None:
        with deps.stage("media"):
            decisions = deps.media.prepare(feed, decisions, deps.kinds_of(feed))
    log.info("feed=%s status=read items=%d format=%s", feed.name, len(decisions), parsed.format)
    for warning in parsed.warnings:
        log.warning("feed=%s status=warned warning=%r", feed.name, warning)
    kept, skipped = _slim(decisions, deps.itemize)
    parsed = replace(parsed, items=())
    result = replace(result, body=b"")  # parsed already; the bytes need not wait in memory
    return Batch(feed, result, parsed, kept, skipped)


def _slim(
    decisions: list[Decision], itemize: bool
) -> tuple[tuple[Decision, ...], tuple[tuple[str, int], ...]]:
    """Keep what a batch must carry until delivery: a pass holds every feed's batch at once."""
    if itemize:
        # Only items to post keep their content; the rest would hold every feed's text.
        return tuple(d if d.wanted else replace(d, item=d.item.stub()) for d in decisions), ()
    # Counted by fate, in the order first met, without a generator step per item.
    fates = [d.fate for d in decisions]
    skipped = tuple((f, fates.count(f)) for f in dict.fromkeys(fates) if f != Action.POST)
    return tuple(d for d in decisions if d.action == Action.POST), skipped


def _select(
    feed: FeedConfig,
    parsed: ParsedFeed,
    deps: Deps,
    busy: frozenset[str],
    stored: Validators | None,
) -> list[Decision]:
    """Decide every item against the ledger, and remember what a first read holds back.

    The ledger answers for all the items at once, so the reading threads do not queue for it
    item by item.
    """
    # Here: a pass where no feed changed selects nothing.
    from poster.select import FILTERED, HELD, select

    items, waiting = _offered(feed, parsed, deps)
    keys = [item.key for item in items]
    routes = deps.routes(feed)
    known = deps.ledger.recall(feed.name, keys, routes)
    first_read = not known.history
    carried = None
    owed: frozenset[str] = frozenset()
    moved = False
    if deps.own_routes:  # a sandbox's stand-in takes every feed: their own routes stay as kept
        known = _routes_kept(feed, keys, known, deps.ledger, routes)
        moved = not first_read and _moved(feed, stored, known.known)
        if first_read or moved:
            # What a read left waiting was wanted: no backlog holds it back (a first read that
            # left all it wanted waiting leaves no history).
            owed = frozenset(item.key for item in waiting)
            if first_read and deps.former is not None and (former := deps.former()):
                from poster.pipeline.renamed import carry_over  # here: a rename alone

                carried = carry_over(feed, items, routes, deps.ledger, former, deps.carry)
    if carried is not None:
        items, known, owed = carried.items, carried.known, owed | carried.owed.keys()
    seen = known.known | busy if busy else known.known
    if carried is not None:
        taken: Container[str] = carried.knew.keys() | carried.owed.keys()
    else:  # a feed that moved knows what it listed before, as a renamed one does
        taken = known.known if moved else frozenset()
    decisions = select(
        items, feed, seen, held=known.held, first_read=first_read or moved, carried=taken,
        owed=owed,
    )  # fmt: skip
    if carried is not None:
        from poster.pipeline.renamed import settle

        decisions = settle(decisions, carried, deps.ledger)
    else:  # one known may wait for an operator: not "already posted"
        decisions = _troubles_told(decisions, feed.name, routes, deps.ledger)
    if first_read or moved:
        # What the rules filter out is held back too: a rule relaxed later posts none of it.
        backlog = [d.item.key for d in decisions if d.action in (HELD, FILTERED)]
        status = "first-read" if first_read else "moved"
        log.info("feed=%s status=%s held_back=%d", feed.name, status, len(backlog))
        deps.ledger.mark_seen(feed.name, backlog)
    if not busy:
        return decisions
    # Busy keys count as seen; say why, since they are not posted yet.
    return [
        replace(d, reason="waiting to be posted") if d.item.key in busy else d for d in decisions
    ]


def _moved(feed: FeedConfig, stored: Validators | None, known: frozenset[str]) -> bool:
    """Tell whether the feed is read from another address than its last read was.

    The document there may give its items other keys: those it lists that the feed never
    had are held back as on a first read (``backlog``), unless they are newer than all it had.
    """
    from poster.fetch.feed import url_mark

    if stored is None or stored.source is None or stored.source == url_mark(feed.url):
        return False
    log.info("feed=%s status=moved known=%d", feed.name, len(known))
    return True


def _offered(feed: FeedConfig, parsed: ParsedFeed, deps: Deps) -> tuple[Sequence[Item], list[Item]]:
    """Return the items to decide, the document's and those a pass left waiting that it no
    longer lists, and the items kept waiting."""
    if not deps.own_routes:  # a sandbox's stand-in keeps nothing waiting
        return parsed.items, []
    from poster.pipeline.waitlist import waiting_items

    waiting = waiting_items(deps.ledger, feed.name, ())
    if not waiting:
        return parsed.items, waiting
    listed = {item.key for item in parsed.items}
    # Kept oldest first, and older than what the feed still lists: placed after it as a feed
    # lists, newest first, so that undated items keep their order too.
    gone = [item for item in waiting if item.key not in listed]
    return (*parsed.items, *reversed(gone)), waiting


_AFTER_TROUBLE = {
    State.FAILED: "`poster retry` sends it again",
    State.UNCERTAIN: "it may have been posted; `poster retry` sends it again",
    State.SKIPPED: "`poster retry` sends it",
}


def _troubles_told(
    decisions: list[Decision], feed: str, routes: tuple[str, ...], ledger: Ledger
) -> list[Decision]:
    """Say why an item known at a destination is not posted when its record there waits for
    an operator (failed, uncertain, skipped), not that it was posted."""
    known = [d.item.key for d in decisions if d.action == Action.SEEN]
    if not known:
        return decisions
    told: dict[str, tuple[str, str]] = {}
    for route in routes:
        for key, (state, why) in ledger.troubles(feed, known, route).items():
            told.setdefault(key, (state, f"{state} at {route}: {why} ({_AFTER_TROUBLE[state]})"))
    if not told:
        return decisions
    return [_told(d, told[d.item.key]) if d.item.key in told else d for d in decisions]


def _told(decision: Decision, trouble: tuple[str, str]) -> Decision:
    """Return a known item's decision with the state its record waits in, and why."""
    state, why = trouble
    return replace(decision, reason=why, trouble=state)


def keyed_by(feed: FeedConfig) -> KeyedBy:
    """Return what makes ``feed``'s item keys: its ``key`` and its JSON mapping's ``id``."""
    return feed.key, feed.json.id if feed.json is not None else None


def _carry_keys(feed: FeedConfig, result: FetchResult, parsed: ParsedFeed, deps: Deps) -> None:
    """Carry what is known of the feed's items over a change of what makes their keys.

    After ``key = "link"`` (or a JSON ``id``) is set on a feed in use, each item has a key the
    state has never seen: the document is read again as the old settings read it, and an
    item posted or held back under its old key is so under its new one too. Only the items
    new to the feed are posted. A document the old settings cannot read item for item has
    every item it lists now held back, as a first read's backlog.
    """
    from poster.parse import parse  # here: loaded with the parse that comes before

    ledger, now = deps.ledger, keyed_by(feed)
    before = ledger.keyed_by(feed.name)
    if before == now:
        return
    # Items left waiting count too: a first read may have left all it wanted waiting.
    if before is not None and (ledger.has_history(feed.name) or waiting_keys(ledger, feed.name)):
        mapping = replace(feed.json, id=before[1]) if feed.json is not None else None
        try:
            old = parse(result, replace(feed, key=before[0], json=mapping)).items
        except FeedError:
            old = ()
        if len(old) == len(parsed.items):
            pairs = {o.key: n.key for o, n in zip(old, parsed.items, strict=True)}
            _carried(feed.name, pairs, ledger, deps.routes(feed))
            _rekey_waiting(feed.name, pairs, ledger, deps.routes(feed), deps.carry)
        else:
            ledger.mark_seen(feed.name, [item.key for item in parsed.items])
            log.info("feed=%s status=rekeyed held_back=%d", feed.name, len(parsed.items))
    ledger.remember_keyed_by(feed.name, now)


def _carried(feed: str, new_of: dict[str, str], ledger: Ledger, routes: tuple[str, ...]) -> None:
    """Mark each new key as its old key is known: held back, or at each destination, where
    what needs an operator (failed, uncertain, skipped) moves to the new key as it is."""
    from poster.pipeline.renamed import take_over  # here: a key change alone

    held = ledger.recall(feed, list(new_of), routes).held
    ledger.mark_seen(feed, [new_of[old] for old in held])
    for route in routes:
        known = ledger.recall(feed, list(new_of), (route,)).known - held
        take_over(ledger, {(feed, old): (feed, new_of[old]) for old in known}, route)
    log.info("feed=%s status=rekeyed items=%d held_back=%d", feed, len(new_of), len(held))


def _rekey_waiting(
    feed: str, new_of: dict[str, str], ledger: Ledger, routes: tuple[str, ...], carry: Carry | None
) -> None:
    """Give the items the feed keeps waiting their new keys, and so their sends at destinations
    that keep each recipient's: under its old key as well, a waiting item would go out twice."""
    from poster.pipeline.waitlist import keep_waiting, waiting_items  # here: a key change alone

    kept = waiting_items(ledger, feed, ())
    if any(item.key in new_of for item in kept):
        renamed = [replace(item, key=new_of.get(item.key, item.key)) for item in kept]
        keep_waiting(ledger, feed, renamed)
    moves = {(feed, old): (feed, new) for old, new in new_of.items() if old != new}
    if carry is not None and moves:
        for route in routes:
            carry(route, moves)


def _routes_kept(
    feed: FeedConfig, keys: list[str], known: Recall, ledger: Ledger, routes: tuple[str, ...]
) -> Recall:
    """Keep the destinations ``feed`` posts to; return what is known once new ones joined.

    A destination that joins a feed, or joins it again after it was taken off, gets the items
    that are new from then on: those the feed's other destinations were given or held back
    are held back at it, so adding a gateway to a feed, or renaming a destination, never
    sends the feed's whole page again.
    """
    before = ledger.routes(feed.name)
    # A first read, or routes an earlier release did not keep: today's are taken as they are.
    if before is None or not known.history:
        if routes:
            ledger.remember_routes(feed.name, routes)
        return known
    joined = [route for route in routes if route not in before]
    if not joined:
        if before != frozenset(routes):  # one was taken off: it joins anew if it comes back
            ledger.remember_routes(feed.name, routes)
        return known
    stayed = [route for route in routes if route in before]
    back = _not_new(feed, keys, ledger, stayed) if stayed else frozenset(keys)
    for route in joined:
        log.info("feed=%s destination=%s status=joined held_back=%d", feed.name, route, len(back))
        ledger.mark_seen_at(feed.name, back, route)
    ledger.remember_routes(feed.name, routes)
    return ledger.recall(feed.name, keys, routes)


def _not_new(
    feed: FeedConfig, keys: list[str], ledger: Ledger, stayed: list[str]
) -> frozenset[str]:
    """Return the keys a destination joining ``feed`` now holds back: those any destination it
    already had was given or held back, and those still waiting to go to one (a quiet night,
    ``max_per_pass``, a refusal), which are no newer for waiting."""
    back: set[str] = set()
    for route in stayed:
        back |= ledger.recall(feed.name, keys, (route,)).known
    back |= set(waiting_keys(ledger, feed.name))
    return frozenset(back & set(keys))


def finish(
    batch: Batch,
    outcomes: Mapping[tuple[str, str], Sequence[Outcome]],
    ledger: Ledger,
    *,
    own_routes: bool = True,
    shared: bool = False,
) -> FeedReport:
    """Build a feed's report and keep its validators once nothing of it is left to post.

    A wanted item has one outcome per destination it went to; any other item, its decision.
    What waits is kept (``poster.pipeline.waitlist``), unless a stand-in took every feed. A
    pass's batch holds all the feed's waiting items, kept or listed: what it leaves waiting
    replaces them. In the daemon the list is ``shared`` with the feed's other batches and with
    what a reload took from the lanes: the batch takes out only what it resolved.
    """
    name = batch.feed.name
    results = tuple(
        outcome
        for d in batch.decisions
        for outcome in ((d.wanted and outcomes.get((name, d.item.key))) or (Outcome(d),))
    )
    fatal = next((o.fatal for o in results if o.fatal is not None), None)
    waiting = {o.decision.item.key: o.decision.item for o in results if o.delivery == DEFERRED}
    # Saving validators while items wait would turn the next pass into a 304 that forgets them.
    # A first read that found no item saves none either: the feed's next read is its first
    # read still, so the page a source that answered empty once lists next is held back
    # (``backlog``), not posted whole.
    if not waiting and (batch.decisions or ledger.has_history(name)):
        ledger.save_validators(name, batch.result.validators)
    if own_routes:
        from poster.pipeline.waitlist import keep_waiting, settle_waiting  # here: batch done

        if shared:
            resolved = {d.item.key for d in batch.decisions if d.wanted} - waiting.keys()
            settle_waiting(ledger, name, resolved, list(waiting.values()))
        else:
            keep_waiting(ledger, name, list(waiting.values()))
    return FeedReport(name, batch.result, batch.parsed, results, fatal=fatal, skipped=batch.skipped)


def render(decision: Decision, batch: Batch, deps: Deps, kind: Kind) -> Message | RenderError:
    """Return the item's message for ``kind``, or the reason it cannot be composed."""
    try:
        with deps.stage("render"):
            return kind.compose(deps.renderer.render(decision.item, batch.feed, batch.meta, kind))
    except RenderError as exc:
        return exc
    except OSError as exc:  # the template is there, but poster may not read it
        why = unreadable(deps.renderer.templates_dir, exc)
        return TemplateUnreadable(batch.feed.name, decision.item.key, why)


def deliver(decision: Decision, batch: Batch, deps: Deps) -> Outcome:
    """Render one item and hand it to the pass's one destination, recording intent and result."""
    assert deps.destination is not None, "a pass with one destination"
    message = render(decision, batch, deps, deps.destination.kind)
    return send(decision, batch, deps, deps.destination, message)


def send(
    decision: Decision,
    batch: Batch,
    deps: Deps,
    destination: Destination,
    message: Message | RenderError,
) -> Outcome:
    """Hand a rendered item to ``destination``: "pending" recorded before, the result after."""
    item, feed, where = decision.item, batch.feed.name, destination.name
    if isinstance(message, TemplateUnusable) and deps.own_routes and not deps.dry_run:
        # No fault of the item's: it waits for the mended template. A preview, the studio and
        # a sandbox pass show it failed, as a person is looking.
        log.error("feed=%s item=%s destination=%s status=deferred error=%s",
                  feed, item.key, where, message)  # fmt: skip
        return Outcome(
            decision, delivery=DEFERRED, error=str(message), destination=where, item_waits=True
        )
    if isinstance(message, RenderError):
        deps.ledger.record_failed(feed, item.key, where, str(message))
        # A preview shows the error with the item, and records and sends nothing: no log line
        # reads as a post that failed.
        level = logging.INFO if deps.dry_run else logging.ERROR
        log.log(
            level, "feed=%s item=%s destination=%s status=failed error=%s",
            feed, item.key, where, message,
        )  # fmt: skip
        return Outcome(decision, delivery=FAILED, error=str(message), destination=where)
    try:
        deps.ledger.record_pending(feed, item.key, where)
    except StateError as exc:  # nothing was sent: the item waits until its intent is on disk
        log.error(
            "feed=%s item=%s destination=%s status=deferred error=%s", feed, item.key, where, exc
        )
        return Outcome(
            decision, message, delivery=DEFERRED, error=str(exc), destination=where, unwritten=True
        )
    try:
        with deps.stage("send"):
            receipt = destination.send(message)
    except DeliveryError as exc:
        return _refused(exc, decision, message, feed, deps, where)
    deps.ledger.record_sent(feed, item.key, receipt)
    if deps.dry_run:
        log.debug("feed=%s item=%s status=would-post type=%s", feed, item.key, message.type)
        return Outcome(decision, message, receipt, destination=where)
    log.info(
        "feed=%s item=%s destination=%s status=sent type=%s", feed, item.key, where, message.type
    )
    return Outcome(decision, message, receipt, delivery=SENT, destination=where)


def _refused(
    exc: DeliveryError, decision: Decision, message: Message, feed: str, deps: Deps, where: str
) -> Outcome:
    """Record what a destination's refusal means for the item, whatever its class's parents."""
    key = decision.item.key
    if isinstance(exc, MessageRejected):
        deps.ledger.record_failed(feed, key, where, str(exc))
        log.error("feed=%s item=%s destination=%s status=rejected error=%s", feed, key, where, exc)
        return Outcome(decision, message, delivery=FAILED, error=str(exc), destination=where)
    if isinstance(exc, DeliveryUncertain):
        deps.ledger.record_uncertain(feed, key, where, str(exc))
        log.error("feed=%s item=%s destination=%s status=uncertain error=%s", feed, key, where, exc)
        return Outcome(decision, message, delivery=UNCERTAIN, error=str(exc), destination=where)
    # Retry later or a fatal destination: the post never arrived, so the item waits its turn.
    deps.ledger.release(feed, key, where)
    log.warning("feed=%s item=%s destination=%s status=deferred error=%s", feed, key, where, exc)
    fatal = exc if isinstance(exc, DestinationFatal) else None
    wait = exc.retry_after if isinstance(exc, RetryLater) else None
    return Outcome(
        decision, message, delivery=DEFERRED, error=str(exc), fatal=fatal, retry_after=wait,
        destination=where,
    )  # fmt: skip
