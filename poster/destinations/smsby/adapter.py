"""Send gateway messages through SMS.BY in one of three ways, and read back what became of them.

- ``bulk`` (a recipients file): ``sendBulkViber`` with up to ``BULK_BATCH`` numbers in one
  ``delivery_list``; the per-number outcome is read at once with ``statusBulkViber``, later
  statuses arrive at ``callback_url`` or by polling ``statusBulkViber``.
- ``quick`` (a recipients file and ``forward_sms``): ``sendQuickViberMessage`` per number, the
  only method with SMS forwarding; statuses by polling ``getViberDeliveryData``.
- ``list`` (a gateway-hosted ``list_id``): ``sendViberMessageList`` creates the mailing, then
  ``confirmViberMessage`` sends and charges it. The whole list is one opaque recipient,
  ``list:<id>``; its status is final once every subscriber's is (``getViberDeliveryList``).

Message ids kept in the recipient ledger: ``bulk:<uuid>/<phone>``, ``quick:<id>``,
``mailing:<id>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from poster.destinations.gateway import BatchOutcome, GatewayMessage
from poster.destinations.gateway.destination import item_ref
from poster.destinations.gateway.polling import poll, unknown
from poster.destinations.smsby import codes
from poster.destinations.smsby.api import SmsByClient, parse_bulk_callback
from poster.destinations.smsby.mailings import Ref, SentMailings, bulk_ref, mailing_name
from poster.destinations.smsby.schema import (
    REDACTED,
    BulkMessage,
    BulkRequest,
    BulkStatus,
    Content,
    FormContent,
    ListMessage,
    MailingStatus,
    QuickMessage,
    RecipientResult,
)
from poster.errors import CallbackError, DeliveryError, MessageRejected, RetryLater
from poster.frozen import frozen
from poster.store.recipientledger import StatusUpdate
from poster.store.recipientstate import DELIVERED, FAILED, READ

log = logging.getLogger(__name__)

BULK, QUICK, LIST = "bulk", "quick", "list"
BULK_BATCH = 1000
"""Numbers per ``sendBulkViber`` request: about 20 KB of JSON, well within any body limit."""
QUICK_CONCURRENCY = 4
"""``sendQuickViberMessage`` requests in flight at once (one number each)."""
POLL_MAX = 100
"""Message ids looked up by one ``statuses`` call in quick mode (one request each)."""
LIST_PREFIX = "list:"
NO_BALANCE = (
    "not shown: the SMS.BY API has no balance call; an empty balance refuses sends "
    '("Insufficient funds") and stops this destination until you top up'
)


@frozen
class Route:
    """How this destination reaches its subscribers: the mode and the ids it sends with."""

    mode: str
    alphaname_id: int | None = None
    vibername_id: int | None = None
    list_id: int | None = None
    forwarding_time: int | None = None
    """Minutes before an undelivered message goes out as SMS (quick mode)."""


class SmsByAdapter:
    """Adapt the SMS.BY client to poster's gateway machinery."""

    def __init__(
        self,
        client: SmsByClient,
        route: Route,
        callback_url: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._client = client
        self.route = route
        self.callback_url = callback_url
        self.batch_size = BULK_BATCH if route.mode == BULK else 1
        self.concurrency = QUICK_CONCURRENCY if route.mode == QUICK else 1
        self.sent = SentMailings()

    def send(self, message: GatewayMessage, phones: Sequence[str]) -> BatchOutcome:
        """Send ``message`` to ``phones`` and return what the gateway did with each."""
        if self.route.mode == LIST:
            return self._send_list(message)
        if self.route.mode == QUICK:
            return quick_outcome([self._client.send_quick(self._quick(message, p)) for p in phones])
        request = self._bulk(message, phones)
        accepted = self._client.send_bulk(request)
        names = [m.name for m in request.messages]
        try:
            status: BulkStatus | None = self._client.bulk_status(accepted.uuid, names)
        except DeliveryError:
            # Sent and paid for: the statuses come later by callback or polling.
            status = None
        item = item_ref(message.feed, message.key)
        self.sent.note(accepted.uuid, dict.fromkeys(names, item), status)
        return bulk_outcome(accepted.uuid, phones, status)

    def requests(self, message: GatewayMessage, phones: Sequence[str]) -> list[dict[str, Any]]:
        """Return the requests ``send`` would make, the token and callback secret redacted."""
        if self.route.mode == LIST:
            confirm = {"token": REDACTED, "message_id": "<message_id of sendViberMessageList>"}
            return [self._list(message).redacted(), confirm]
        if self.route.mode == QUICK:
            return [self._quick(message, phone).redacted() for phone in phones]
        body = self._bulk(message, phones).redacted()
        if "callback_url" in body:
            body["callback_url"] = redact_path(body["callback_url"])
        return [body]

    def statuses(self, message_ids: Sequence[str]) -> list[StatusUpdate]:
        """Poll the gateway for the final status of each message id it can tell about.

        The ledger gives the oldest ids first; a uuid or message id the gateway refuses makes
        its ids unknown, and the poll stops where the gateway asks to wait (``poll``).
        """
        found: list[StatusUpdate] = []
        asked = lookups(message_ids).items()
        for (_, wanted), answer in poll(asked, self._look_up, self._client.name):
            if isinstance(answer, MessageRejected):
                found += [unknown(message_id, answer) for message_id in wanted]
            else:
                found += answer
        return found

    def _look_up(self, lookup: tuple[str, Sequence[str]]) -> list[StatusUpdate]:
        """Return the final statuses of the message ids a reference looks up at once."""
        ref, wanted = lookup
        kind, _, key = ref.partition(":")
        if kind == "bulk":
            status, asked = self._client.bulk_status(key, self.sent.names(key)), set(wanted)
            found = [u for u in bulk_updates(key, status) if u.ref in asked]
            return found + refused_updates(status, wanted)
        if kind == "quick":
            return recipient_updates(ref, [self._client.delivery_data(key)])
        return recipient_updates(ref, self._client.delivery_list(key), whole=True)

    def callback(self, method: str, query: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        """Read one ``callback_url`` POST into the final statuses it reports."""
        if method != "POST":
            raise CallbackError(f"a status callback is a POST, not {method}")
        try:
            said = parse_bulk_callback(body)
        except ValueError as exc:
            raise CallbackError(f"unreadable status callback: {exc}") from None
        if said.status is None:
            # The send's own answer: no statuses in it; the next poll reads them by its uuid.
            return []
        if said.uuid:
            return bulk_updates(said.uuid, said.status)
        return self._matched(said.status)

    def _matched(self, status: BulkStatus) -> list[StatusUpdate]:
        """Return the final statuses of the mailings poster sent, found by message_id or name."""
        found: list[StatusUpdate] = []
        unknown = 0
        for mailing in status.mailings:
            ref = self.sent.ref(mailing)
            if ref is None:
                unknown += 1
                continue
            found += mailing_updates(mailing, ref)
        if unknown and unknown == len(status.mailings):
            raise CallbackError("the status callback names no mailing poster sent")
        return found

    def account(self) -> Mapping[str, str]:
        """Return the account's Viber names and gateway lists; the API reports no balance.

        ``getViberMessages`` (documented, sends nothing) checks the key: its failure is the
        account's. The two look-ups are only named by the document, so a gateway may refuse them.
        """
        self._client.mailings(0, 1)
        return {
            "balance": NO_BALANCE,
            "viber names": optional("getVibernames", self._names),
            "subscriber lists": optional("getSubscriberLists", self._lists),
        }

    def _names(self) -> str:
        """Return the account's Viber names, one ``id name`` each."""
        return ", ".join(f"{n.vibername_id} {n.name}" for n in self._client.vibernames())

    def _lists(self) -> str:
        """Return the gateway's subscriber lists, one ``id name (count)`` each."""
        return ", ".join(
            f"{s.list_id} {s.name}" + ("" if s.count is None else f" ({s.count})")
            for s in self._client.subscriber_lists()
        )

    def cost(self, message: GatewayMessage, phones: Sequence[str]) -> str | None:
        """Return None: SMS.BY publishes no price method, only the cost of past mailings."""
        return None

    def _send_list(self, message: GatewayMessage) -> BatchOutcome:
        """Create the list mailing, then confirm it: the confirmation is what sends and charges."""
        recipient = f"{LIST_PREFIX}{self.route.list_id}"
        draft = self._client.create_list_mailing(self._list(message))
        if draft.count_subscribers == 0:
            return BatchOutcome({}, {recipient: "the gateway list has no subscribers"}, frozenset())
        self._client.confirm(draft.message_id)
        return BatchOutcome({recipient: f"mailing:{draft.message_id}"}, {}, frozenset())

    def _bulk(self, message: GatewayMessage, phones: Sequence[str]) -> BulkRequest:
        """Return the ``sendBulkViber`` request of one batch."""
        mailing = BulkMessage(
            alphaname_id=self.route.alphaname_id or 0,
            name=mailing_name(message),
            content=bulk_content(message),
            delivery_list=tuple(phones),
        )
        # Read on each send: the daemon sets the address once its listener is up.
        return BulkRequest((mailing,), self.callback_url())

    def _quick(self, message: GatewayMessage, phone: str) -> QuickMessage:
        """Return the ``sendQuickViberMessage`` request for one number."""
        return QuickMessage(
            self.route.vibername_id or 0,
            phone,
            form_content(message),
            self.route.forwarding_time,
            self.route.alphaname_id if self.route.forwarding_time else None,
        )

    def _list(self, message: GatewayMessage) -> ListMessage:
        """Return the ``sendViberMessageList`` request."""
        return ListMessage(self.route.vibername_id or 0, self.route.list_id or 0,
                           form_content(message), mailing_name(message))  # fmt: skip


def lookups(message_ids: Sequence[str]) -> dict[str, list[str]]:
    """Return each look-up a poll makes, in the order of ``message_ids``, with the ids it tells of.

    One ``statusBulkViber`` answers for every number of a uuid (``bulk:<uuid>``); a quick
    message, at most ``POLL_MAX`` of them, and a list mailing are each looked up alone.
    """
    found: dict[str, list[str]] = {}
    quick = 0
    for message_id in message_ids:
        if message_id.startswith("bulk:"):
            found.setdefault(message_id.partition("/")[0], []).append(message_id)
        elif message_id.startswith("quick:") and quick < POLL_MAX:
            quick += 1
            found[message_id] = [message_id]
        elif message_id.startswith("mailing:"):
            found[message_id] = [message_id]
    return found


def optional(method: str, read: Callable[[], str]) -> str:
    """Return what an undescribed look-up says, or that this gateway does not give it."""
    try:
        return read() or "none"
    except DeliveryError as exc:
        said = f"HTTP {exc.status}: {exc.status_message}" if exc.status else exc.status_message
        why = f"{method} answered {said}" if said else f"{method} failed"
        if isinstance(exc, RetryLater):
            return f"not read now ({why}); try again later"
        return f"not available from this gateway ({why})"


def bulk_content(message: GatewayMessage) -> Content:
    """Return the ``content`` object: button (text, image, link), image alone, or text."""
    if message.type == "picture" and message.text:
        return Content("button", message.text, message.image, message.button_action,
                       message.button_caption)  # fmt: skip
    if message.type == "picture":
        return Content("image", image_url=message.image)
    return Content("text", message.text)


def form_content(message: GatewayMessage) -> FormContent:
    """Return the v2 ``type_message`` fields of ``message``."""
    if message.type == "picture":
        return FormContent("BUTTON", message.text or None, message.image,
                           message.button_caption, message.button_action)  # fmt: skip
    return FormContent("TEXT", message.text)


def opted_out(result: RecipientResult) -> bool:
    """Tell whether a refused number is on the gateway's blacklist (the subscriber opted out)."""
    return codes.recipient_rule(result.error).key == "blacklist"


def bulk_outcome(uuid: str, phones: Sequence[str], status: BulkStatus | None) -> BatchOutcome:
    """Return the batch's outcome: the request was accepted, less the numbers the status refuses."""
    rejected: dict[str, str] = {}
    optout: set[str] = set()
    for error in status.errors if status else ():
        rejected.update(dict.fromkeys(phones, error.text))
    for mailing in status.mailings if status else ():
        for result in (r for r in mailing.recipients if not r.accepted):
            rejected[result.phone] = result.error
            if opted_out(result):
                optout.add(result.phone)
    accepted = {phone: bulk_ref(uuid, phone) for phone in phones if phone not in rejected}
    return BatchOutcome(accepted, rejected, frozenset(optout))


def quick_outcome(results: Sequence[RecipientResult]) -> BatchOutcome:
    """Return the outcome of ``sendQuickViberMessage`` calls, one result per number."""
    accepted = {r.phone: f"quick:{r.message_id}" for r in results if r.accepted}
    rejected = {r.phone: r.error for r in results if not r.accepted}
    optout = frozenset(r.phone for r in results if not r.accepted and opted_out(r))
    return BatchOutcome(accepted, rejected, optout)


def final_status(result: RecipientResult) -> str | None:
    """Return the ledger's status for a gateway status, or None while it is not final."""
    if not result.accepted:
        return FAILED
    return {"DELIVERED": DELIVERED, "READ": READ}.get(result.status)


def bulk_updates(uuid: str, status: BulkStatus) -> list[StatusUpdate]:
    """Return the final statuses of a ``statusBulkViber`` answer or callback."""
    return [
        update
        for mailing in status.mailings
        for update in mailing_updates(mailing, lambda phone: bulk_ref(uuid, phone))
    ]


def refused_updates(status: BulkStatus, refs: Sequence[str]) -> list[StatusUpdate]:
    """Return ``refs`` failed when the answer refuses their request's one mailing.

    poster sends one mailing per ``sendBulkViber`` request, so an answer with ``errors`` and no
    mailing is that mailing's refusal; its numbers are charged nothing and get nothing.
    """
    if status.mailings or not status.errors:
        return []
    reason = "; ".join(error.text for error in status.errors)
    return [StatusUpdate(ref, FAILED, reason, False) for ref in refs]


def mailing_updates(mailing: MailingStatus, ref: Callable[[str], Ref]) -> list[StatusUpdate]:
    """Return the final statuses of one mailing's phones, each named by ``ref``."""
    return [
        StatusUpdate(ref(r.phone), found, r.error, not r.accepted and opted_out(r))
        for r in mailing.recipients
        if (found := final_status(r)) is not None
    ]


def recipient_updates(
    ref: str, results: Sequence[RecipientResult], *, whole: bool = False
) -> list[StatusUpdate]:
    """Return one message id's final status; a list mailing's once every number's is final."""
    found = [final_status(r) for r in results]
    if not found or (whole and None in found):
        return []
    if not whole:
        first = results[0]
        blacklisted = not first.accepted and opted_out(first)
        return [StatusUpdate(ref, found[0], first.error, blacklisted)] if found[0] else []
    best = READ if READ in found else DELIVERED if DELIVERED in found else FAILED
    return [StatusUpdate(ref, best)]


def redact_path(url: str) -> str:
    """Return ``url`` with its last path segment (the callback's secret) replaced."""
    parts = urlsplit(url)
    head = parts.path.rsplit("/", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, f"{head}/{REDACTED}", "", ""))
