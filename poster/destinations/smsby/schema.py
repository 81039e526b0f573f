"""Define the requests sent to SMS.BY and the results read back, as frozen dataclasses.

Field names, types and formats follow ``bulk-viber-aggregator-api.txt``; each request knows the
payload it becomes and a ``redacted()`` view of it, with the token replaced by ``***``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from poster.frozen import frozen

REDACTED = "***"

CONTENT_TYPES = ("text", "image", "button")
"""``content.type`` of ``sendBulkViber`` ("The peculiarity of sending a Viber message...")."""
MESSAGE_TYPES = ("bulk", "personal")
"""``message_type`` of ``sendBulkViber``: one text to many numbers, or one text per number."""
TYPE_MESSAGES = ("TEXT", "IMAGE", "BUTTON")
"""``type_message`` of the v2 send methods; the default is TEXT."""
FAILED_STATUSES = frozenset({"ERROR", "UNDELIVERED", "REJECTED", "EXPIRED", "BLACKLISTED"})
"""Per-phone statuses that mean the phone did not get the message (the document lists only
NEW, SENT, DELIVERED and READ; a non-zero ``error_code`` means the same)."""

BULK_SCHEDULE_FORMAT = "%Y-%m-%dT%H:%M:%S"
"""``schedule_time`` of ``sendBulkViber``: YYYY-MM-DDTHH:mm:ss."""
LIST_SCHEDULE_FORMAT = "%Y-%m-%d %H:%M"
"""``d_schedule`` of ``sendViberMessageList``: 'YYYY-MM-DD HH:MM'."""


def _set(**fields: object) -> dict[str, Any]:
    """Return the fields that are set, in order, leaving out None."""
    return {key: value for key, value in fields.items() if value is not None}


@frozen
class Content:
    """The ``content`` object of one ``sendBulkViber`` message: text, image or button."""

    type: str = "text"
    text: str | None = None
    image_url: str | None = None
    button_link: str | None = None
    caption: str | None = None

    def payload(self) -> dict[str, Any]:
        """Return the JSON object, ``type`` first, without unset fields."""
        return _set(
            type=self.type,
            image_url=self.image_url,
            button_link=self.button_link,
            caption=self.caption,
            text=self.text,
        )


@frozen
class Personal:
    """One entry of a ``personal`` delivery list: its own phone, text and button link."""

    phone: str
    text: str
    button_link: str | None = None

    def payload(self) -> dict[str, Any]:
        """Return the JSON object of this entry."""
        return _set(phone=self.phone, text=self.text, button_link=self.button_link)


@frozen
class BulkMessage:
    """One mailing of a ``sendBulkViber`` request: sender, name, content and delivery list."""

    alphaname_id: int
    name: str
    content: Content
    delivery_list: tuple[str | Personal, ...]
    message_type: str = "bulk"
    schedule_time: datetime | None = None

    def payload(self) -> dict[str, Any]:
        """Return the JSON object as in the document's sample request."""
        entries = [e.payload() if isinstance(e, Personal) else e for e in self.delivery_list]
        when = self.schedule_time
        return _set(
            # The sample request sends the id as a string ("444").
            alphaname_id=str(self.alphaname_id),
            name=self.name,
            message_type=self.message_type,
            schedule_time=when.strftime(BULK_SCHEDULE_FORMAT) if when else None,
            content=self.content.payload(),
            delivery_list=entries,
        )

    def phones(self) -> tuple[str, ...]:
        """Return the phone numbers this mailing goes to."""
        return tuple(e.phone if isinstance(e, Personal) else e for e in self.delivery_list)


@frozen
class BulkRequest:
    """A ``sendBulkViber`` request: the mailings and where to report on them."""

    messages: tuple[BulkMessage, ...]
    callback_url: str | None = None

    def payload(self, token: str) -> dict[str, Any]:
        """Return the JSON body, shaped as the document's sample request."""
        messages = [m.payload() for m in self.messages]
        return _set(token=token, callback_url=self.callback_url, messages=messages)

    def query(self, token: str) -> dict[str, str]:
        """Return ``token`` and ``callback_url`` as query parameters, where the table puts them."""
        return _set(token=token, callback_url=self.callback_url)

    def redacted(self) -> dict[str, Any]:
        """Return the body as a preview shows it, the token replaced."""
        return self.payload(REDACTED)


@frozen
class FormContent:
    """What a v2 send method carries: ``type_message`` and its message, image or button."""

    type_message: str = "TEXT"
    message: str | None = None
    image_url: str | None = None
    button: str | None = None
    button_link: str | None = None

    def fields(self) -> dict[str, str]:
        """Return the formData fields that are set."""
        return _set(
            type_message=self.type_message,
            message=self.message,
            image_url=self.image_url,
            button=self.button,
            button_link=self.button_link,
        )


@frozen
class QuickMessage:
    """A ``sendQuickViberMessage`` request: one message to one phone, optional SMS forwarding."""

    vibername_id: int
    phone: str
    content: FormContent
    forwarding_time: int | None = None
    """Minutes (5..60) before an undelivered message goes out as SMS; None: no forwarding."""
    alphaname_id: int | None = None

    def form(self, token: str) -> dict[str, str]:
        """Return the formData fields."""
        forwarding = self.forwarding_time is not None
        return _set(
            token=token,
            vibername_id=str(self.vibername_id),
            phone=self.phone,
            **self.content.fields(),
            forwarding_message="1" if forwarding else None,
            forwarding_time=str(self.forwarding_time) if forwarding else None,
            alphaname_id=None if self.alphaname_id is None else str(self.alphaname_id),
        )

    def redacted(self) -> dict[str, str]:
        """Return the fields as a preview shows them, the token replaced."""
        return self.form(REDACTED)


@frozen
class ListMessage:
    """A ``sendViberMessageList`` request: one message to a list kept by the gateway."""

    vibername_id: int
    list_id: int
    content: FormContent
    name: str | None = None
    d_schedule: datetime | None = None

    def form(self, token: str) -> dict[str, str]:
        """Return the formData fields."""
        when = self.d_schedule
        return _set(
            token=token,
            name=self.name,
            vibername_id=str(self.vibername_id),
            list_id=str(self.list_id),
            **self.content.fields(),
            d_schedule=when.strftime(LIST_SCHEDULE_FORMAT) if when else None,
        )

    def redacted(self) -> dict[str, str]:
        """Return the fields as a preview shows them, the token replaced."""
        return self.form(REDACTED)


@frozen
class RecipientResult:
    """What became of one phone: accepted or not, ids, the gateway's own words, the cost."""

    phone: str
    accepted: bool
    message_id: str | None = None
    status: str = ""
    error: str = ""
    error_code: int = 0
    cost: str | None = None
    action: str = ""
    """Empty when accepted, else what poster does: usually ``reject-recipient``."""


@frozen
class BulkAccepted:
    """The answer to ``sendBulkViber``: the ``uuid`` to ask ``statusBulkViber`` about."""

    uuid: str
    success: str


@frozen
class MailingStatus:
    """One mailing of a ``statusBulkViber`` answer with the status of each phone."""

    message_id: str
    name: str
    alphaname_id: str
    recipients: tuple[RecipientResult, ...]


@frozen
class MailingError:
    """One ``errors`` entry of a ``statusBulkViber`` answer: a mailing the gateway refused."""

    name: str
    text: str
    action: str
    hint: str


@frozen
class BulkStatus:
    """The ``statusBulkViber`` answer: mailings with per-phone statuses, and refused mailings."""

    mailings: tuple[MailingStatus, ...]
    errors: tuple[MailingError, ...]


@frozen
class BulkCallback:
    """What a ``callback_url`` POST carries: the request's uuid, its statuses, or both."""

    uuid: str
    """Empty when the callback is a bare ``statusBulkViber`` answer."""
    status: BulkStatus | None
    """None when it is the send's own answer (``{"uuid": ..., "success": "OK"}``)."""


@frozen
class ListDraft:
    """The answer to ``sendViberMessageList``: a mailing that waits for ``confirmViberMessage``."""

    message_id: str
    count_subscribers: int


@frozen
class Mailing:
    """One mailing as ``getViberMessages`` and ``getViberMessageData`` describe it."""

    message_id: str
    message_type: str
    message: str
    button_caption: str
    button_link: str
    image_file: str
    status: str
    d_create: str
    d_schedule: str
    cost: str


@frozen
class ViberName:
    """A Viber sender name of the account, as ``getVibernames`` lists it."""

    vibername_id: int
    name: str


@frozen
class SubscriberList:
    """A mailing list kept by the gateway, as ``getSubscriberLists`` lists it."""

    list_id: int
    name: str
    count: int | None = None
