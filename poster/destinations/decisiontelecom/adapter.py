"""Send gateway messages through DecisionTelecom, one number a request, and read its statuses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from poster.destinations.decisiontelecom.api import DecisionTelecomClient
from poster.destinations.decisiontelecom.schema import (
    IncomingMessage,
    MessageStatus,
    MessageType,
    SendRequest,
    SourceType,
    StatusResult,
    api_id,
    parse_callback,
)
from poster.destinations.gateway import PICTURE, BatchOutcome, GatewayMessage, StatusUpdate
from poster.destinations.gateway.polling import poll, unknown
from poster.errors import CallbackError, DestinationFatal, MessageRejected
from poster.frozen import frozen
from poster.store.recipientstate import DELIVERED, FAILED

log = logging.getLogger(__name__)

CONCURRENCY = 4
"""Requests in flight at once: send-viber takes one number a call."""
STATUSES: Mapping[MessageStatus, tuple[str, bool]] = {
    MessageStatus.DELIVERED: (DELIVERED, False),
    MessageStatus.ERROR: (FAILED, False),
    MessageStatus.UNDELIVERED: (FAILED, False),
    # The document names status 3 "rejected" and no more: one message refused, for a reason
    # it does not give, which says nothing of the next one, so the number is not opted out.
    MessageStatus.REJECTED: (FAILED, False),
}
"""What each final status means for the recipient, and whether it opts the number out (none
does: DecisionTelecom reports no blacklist); the other statuses are not final."""
REPLY_SHOWN = 500
"""Characters of a 2-Way reply's text a log line shows; the rest is only counted."""
NO_BALANCE = (
    "not shown: the DecisionTelecom API has no balance call; an empty balance refuses sends "
    "(error 3, HTTP 402) and stops this destination until you top up"
)


@frozen
class Sending:
    """How every message of one destination is sent: sender, procedure, TTL, 2-Way."""

    source_addr: str
    source_type: SourceType
    validity_period: int | None
    replies: bool


class DecisionTelecomAdapter:
    """Adapt the DecisionTelecom client to the gateway destination: batches of one number."""

    batch_size = 1

    def __init__(
        self,
        client: DecisionTelecomClient,
        sending: Sending,
        callback_url: Callable[[], str | None] = lambda: None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.client = client
        self.sending = sending
        self.callback_url = callback_url
        self.concurrency = concurrency

    def request(self, message: GatewayMessage, phone: str) -> SendRequest:
        """Return the send-viber request of ``message`` for one phone."""
        # Transactional messages are text only ("source_type 2 ... text message").
        rich = message.type == PICTURE and self.sending.source_type is SourceType.PROMOTIONAL
        two_way = self.sending.replies
        kind = {(False, False): MessageType.TEXT, (True, False): MessageType.TEXT_IMAGE_BUTTON,
                (False, True): MessageType.TEXT_TWO_WAY,
                (True, True): MessageType.TEXT_IMAGE_BUTTON_TWO_WAY}[(rich, two_way)]  # fmt: skip
        return SendRequest(
            self.sending.source_addr, phone, kind, message.text, self.sending.source_type,
            message.image if rich else None, message.button_caption if rich else None,
            message.button_action if rich else None, self.callback_url(),
            self.sending.validity_period,
        )  # fmt: skip

    def send(self, message: GatewayMessage, phones: Sequence[str]) -> BatchOutcome:
        """Send ``message`` to each phone; a refused number is a rejection, not an error."""
        if self.sending.replies and self.callback_url() is None:
            raise DestinationFatal(
                f"{self.client.name}: replies = true sends 2-Way messages, which need a callback "
                "URL for the replies, and there is none: only the daemon (poster run) gives one, "
                "with [webhook] public_url set; nothing was sent"
            )
        accepted: dict[str, str] = {}
        rejected: dict[str, str] = {}
        for phone in phones:
            result = self.client.send(self.request(message, phone))
            if result.accepted:
                accepted[phone] = str(result.message_id)
            else:
                rejected[phone] = f"{result.status_text}; {result.hint}".rstrip("; ")
        return BatchOutcome(accepted, rejected)

    def requests(self, message: GatewayMessage, phones: Sequence[str]) -> list[dict[str, Any]]:
        """Return the send-viber calls ``send`` would make, the access key hidden."""
        base = self.client.base_url
        return [self.request(message, p).redacted() | {"url": base} for p in phones]

    def statuses(self, message_ids: Sequence[str]) -> list[StatusUpdate]:
        """Ask receive-viber for each message's status; a refused id is unknown, not asked again.

        receive-viber answers "for the last 5 days": an older id, or one the gateway does not
        know, is refused ("Invalid Parameter: message_id") however often it is asked, so it is
        recorded as unknown; the poll stops where the gateway asks to wait (``poll``).
        """
        updates: list[StatusUpdate] = []
        for message_id, answer in poll(message_ids, self._status, self.client.name):
            if isinstance(answer, MessageRejected):
                updates.append(unknown(message_id, answer))
            elif answer is not None and (update := _update(answer)) is not None:
                updates.append(update)
        return updates

    def _status(self, message_id: str) -> StatusResult | None:
        """Ask receive-viber about one message, by its id as the gateway gave it."""
        return self.client.status(api_id(message_id))

    def callback(self, method: str, query: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        """Read one callback (a JSON POST): a final status updates, a 2-Way reply is logged."""
        if method != "POST":
            raise CallbackError(f"callback: expected POST, got {method}")
        found = parse_callback(body)
        if isinstance(found, IncomingMessage):
            self._log_reply(found)
            return []
        update = _update(found)
        return [] if update is None else [update]

    def _log_reply(self, reply: IncomingMessage) -> None:
        """Log a subscriber's reply on one line, its text escaped and cut to ``REPLY_SHOWN``."""
        text = reply.text
        cut = len(text) > REPLY_SHOWN
        log.info(
            "event=gateway-reply destination=%s phone=%s reply_to=%s time=%d text=%r%s",
            self.client.name, reply.phone_number, reply.reply_to or "-", reply.time,
            text[:REPLY_SHOWN], f" cut_from={len(text)}" if cut else "",
        )  # fmt: skip

    def account(self) -> Mapping[str, str]:
        """Say that the API has no balance call, and how an empty balance shows instead."""
        return {"balance": NO_BALANCE}

    def cost(self, message: GatewayMessage, phones: Sequence[str]) -> str | None:
        """Return None: the document gives no price in any answer."""
        return None


def _update(result: StatusResult) -> StatusUpdate | None:
    """Return the recipient-ledger update of a final status, else None."""
    mapped = STATUSES.get(result.status)
    if mapped is None:
        return None
    status, opted_out = mapped
    reason = "" if status == DELIVERED else result.status.name.lower()
    return StatusUpdate(str(result.message_id), status, reason, opted_out)
