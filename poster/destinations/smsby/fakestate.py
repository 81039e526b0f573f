"""Keep the state of the fake SMS.BY gateway and answer each method as the document shows.

Choices where ``bulk-viber-aggregator-api.txt`` is silent: v1 errors are the documented HTTP status
with ``{"error": reason}`` (400 for anything the request or account does wrong); v2 errors are
HTTP 200 ``{"status": "ERROR", "message": reason}``; a per-phone failure in a mailing is status
``ERROR`` with a non-zero ``error_code`` (``PROBLEM_CODES``) and its ``error`` text;
unconfirmed list mailings have status ``NEW``, confirmed ones ``SENT``; ``sendBulkViber`` reads
``token`` and ``callback_url`` from the query, as its table says, else from the JSON body, as its
sample request shows them.
"""

from __future__ import annotations

import threading
import uuid as uuids
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from poster.destinations.smsby import codes, fakerules
from poster.destinations.smsby.fakerules import Delivery, Refused, Reply
from poster.destinations.smsby.schema import BULK_SCHEDULE_FORMAT, LIST_SCHEDULE_FORMAT

STATUS_TIME = "%Y-%m-%d %H:%M:%S.%f"
UNDESCRIBED = frozenset({"/api/v2/getVibernames", "/api/v2/getSubscriberLists"})
"""Methods the document names (for ``vibername_id`` and ``list_id``) but never describes."""
PROBLEM_CODES = {1: "blacklist", 2: "no-route", 3: "country"}
"""The fake's ``error_code`` for a number that cannot get messages, and the rule of its text."""


class Gateway:
    """Answer the document's methods for one account: token, senders, lists, numbers, money."""

    def __init__(self, token: str, clock: Callable[[], datetime]) -> None:
        self.token = token
        self.clock = clock
        self.balance = Decimal("10")
        self.price = Decimal("0.049")
        self.vibernames: dict[int, str] = {7: "Poster"}
        self.alphanames: dict[int, str] = {444: "POSTER"}
        self.banned_vibernames: set[int] = set()
        self.lists: dict[int, tuple[str, tuple[str, ...]]] = {}
        self.blacklisted: set[str] = set()
        self.unroutable: set[str] = set()
        self.unknown_country: set[str] = set()
        self.bad_size_images: set[str] = set()
        self.undescribed = True
        """Answer ``UNDESCRIBED``; False answers them 404, as a fake held to the document does."""
        self.ip_allowed = True
        self.bruteforce_after = 5
        self.repeat_window = timedelta(0)
        self.stages = (timedelta(seconds=1), timedelta(seconds=5), timedelta(seconds=30))
        """Time after the start until a delivery is SENT, DELIVERED and READ."""
        self.deliveries: list[Delivery] = []
        self.bulks: dict[str, list[dict[str, Any]]] = {}
        self.callbacks: dict[str, str] = {}
        self.quick: dict[int, Delivery] = {}
        self.mailings: dict[int, dict[str, Any]] = {}
        self._failed_logins = 0
        self._ids = {"quick": 8484, "list": 4905, "bulk": 1, "delivery": 1001}
        self.lock = threading.RLock()

    def handle(
        self, path: str, query: Mapping[str, str], form: Mapping[str, str], body: Any
    ) -> Reply:
        """Answer one call in the shape of its API version."""
        v1 = path.startswith("/api/v1/")
        handler = self._handlers().get(path)
        if handler is None or (path in UNDESCRIBED and not self.undescribed):
            return Reply(404, {"error": "Page not found"})
        with self.lock:
            try:
                self._authorize(fakerules.token_of(path, query, form, body))
                values: dict[str, str] = {}
                if path == "/api/v1/sendBulkViber":
                    values = fakerules.bulk_params(query, body)
                if path in fakerules.PARAMS:
                    values, problem = fakerules.params(path, query, form)
                    if problem:
                        raise Refused(problem)
                result = handler(values, body)
            except Refused as exc:
                if v1:
                    return Reply(exc.http, {"error": exc.reason})
                return Reply(200, {"status": "ERROR", "message": exc.reason})
        return Reply(200, result if v1 else {"status": "OK", **result})

    def _handlers(self) -> dict[str, Callable[[dict[str, str], Any], Any]]:
        """Return the method behind each path."""
        return {
            "/api/v1/sendBulkViber": self._send_bulk,
            "/api/v1/statusBulkViber": lambda v, _: self.bulk_status(v["uuid"]),
            "/api/v2/sendQuickViberMessage": self._send_quick,
            "/api/v2/getViberDeliveryData": self._delivery_data,
            "/api/v2/sendViberMessageList": self._send_list,
            "/api/v2/confirmViberMessage": self._confirm,
            "/api/v2/getViberMessages": self._list_mailings,
            "/api/v2/getViberMessageData": lambda v, _: {"result": self._mailing(v)},
            "/api/v2/getViberDeliveryList": self._delivery_list,
            "/api/v2/getVibernames": lambda v, _: {"result": self._names()},
            "/api/v2/getSubscriberLists": lambda v, _: {"result": self._lists()},
        }

    def _authorize(self, token: str) -> None:
        """Refuse a blocked address, a blocked account or a wrong token."""
        if not self.ip_allowed:
            raise Refused(codes.rule("ip").text)
        if self._failed_logins >= self.bruteforce_after:
            raise Refused(codes.rule("bruteforce").text)
        if token != self.token:
            self._failed_logins += 1
            raise Refused(codes.rule("token").text)

    def _next(self, kind: str) -> int:
        """Return the next id of a kind."""
        self._ids[kind] += 1
        return self._ids[kind] - 1

    def _charge(self, count: int) -> None:
        """Take the price of ``count`` messages from the balance, or refuse them all."""
        cost = self.price * count
        if cost > self.balance:
            raise Refused(codes.rule("balance").text)
        self.balance -= cost

    def _sender(self, vibername_id: str) -> str:
        """Return the Viber name of an id, refusing an unknown or banned one."""
        number = int(vibername_id)
        if number not in self.vibernames:
            raise Refused(f"Viber name {number} not found")
        if number in self.banned_vibernames:
            raise Refused(codes.rule("sender").text)
        return self.vibernames[number]

    def number_problem(self, phone: str) -> tuple[int, str]:
        """Return the ``error_code`` and text for a number that cannot get messages, or (0, "")."""
        for code, numbers in (
            (1, self.blacklisted),
            (2, self.unroutable),
            (3, self.unknown_country),
        ):
            if phone in numbers:
                return code, codes.rule(PROBLEM_CODES[code]).text
        return 0, ""

    def deliver(self, phone: str, **fields: Any) -> Delivery:
        """Record a message to one phone, failed at once when the number cannot get it."""
        code, error = self.number_problem(phone)
        made = Delivery(self._next("delivery"), phone, error_code=code, error=error, **fields)
        self.deliveries.append(made)
        return made

    def status(self, delivery: Delivery) -> str:
        """Return a delivery's status now: NEW, SENT, DELIVERED, READ, or ERROR."""
        if delivery.error_code:
            return "ERROR"
        elapsed = self.clock() - delivery.start
        names = ("SENT", "DELIVERED", "READ")
        reached = [name for name, after in zip(names, self.stages, strict=True) if elapsed >= after]
        return reached[-1] if reached else "NEW"

    def entry(self, delivery: Delivery) -> dict[str, Any]:
        """Return a delivery as the document's status entries show it."""
        shown: dict[str, Any] = {
            "delivery_id": delivery.delivery_id,
            "phone": delivery.phone,
            "status": self.status(delivery),
            "error_code": delivery.error_code,
        }
        if delivery.error:
            shown["error"] = delivery.error
        return shown

    def _send_bulk(self, values: dict[str, str], body: Any) -> dict[str, Any]:
        """Accept a ``sendBulkViber`` request, charging every deliverable number."""
        callback = values.get("callback_url")
        problem = fakerules.bulk(body, callback)
        if problem:
            raise Refused(problem)
        for message in body["messages"]:
            if int(message["alphaname_id"]) not in self.alphanames:
                raise Refused(f"Invalid request: alphaname {message['alphaname_id']} not found")
        phones = [_phone(e) for m in body["messages"] for e in m["delivery_list"]]
        self._charge(sum(1 for p in phones if not self.number_problem(p)[0]))
        uuid = str(uuids.uuid1())
        self.bulks[uuid] = [self._bulk_mailing(m) for m in body["messages"]]
        if callback:
            self.callbacks[uuid] = callback
        return {"uuid": uuid, "success": "OK"}

    def _bulk_mailing(self, message: dict[str, Any]) -> dict[str, Any]:
        """Record one mailing of a bulk request, or the reason its content is refused."""
        content = message["content"]
        image = content.get("image_url")
        if not fakerules.is_url(image):
            return {"errors": [f"{message['name']}: {codes.rule('content-url').text}"]}
        if image in self.bad_size_images:
            return {"errors": [f"{message['name']}: {codes.rule('image-size').text}"]}
        when = fakerules.schedule(message.get("schedule_time"), BULK_SCHEDULE_FORMAT)
        start = max(self.clock(), when) if when else self.clock()
        made = [self._bulk_delivery(message, entry, start) for entry in message["delivery_list"]]
        return {
            "message_id": self._next("bulk"),
            "name": message["name"],
            "alphaname_id": int(message["alphaname_id"]),
            "deliveries": made,
        }

    def _bulk_delivery(self, message: dict[str, Any], entry: Any, start: datetime) -> Delivery:
        """Record the message one phone of a bulk or personal mailing gets."""
        content = message["content"]
        own = entry if isinstance(entry, dict) else {}
        return self.deliver(
            _phone(entry),
            via="bulk",
            mailing=message["name"],
            text=own.get("text") or content.get("text") or "",
            image_url=content.get("image_url") or "",
            button=content.get("caption") or "",
            button_link=own.get("button_link") or content.get("button_link") or "",
            sender=self.alphanames[int(message["alphaname_id"])],
            start=start,
        )

    def bulk_status(self, uuid: str) -> list[dict[str, Any]]:
        """Return the ``statusBulkViber`` answer of one request."""
        if uuid not in self.bulks:
            raise Refused("Mailing with this uuid not found")
        shown: list[dict[str, Any]] = []
        for mailing in self.bulks[uuid]:
            if "errors" in mailing:
                shown.append(mailing)
                continue
            success = [
                {**self.entry(d), "status_time": self.clock().strftime(STATUS_TIME)}
                for d in mailing["deliveries"]
            ]
            base = {k: v for k, v in mailing.items() if k != "deliveries"}
            shown.append({**base, "success": success})
        return shown

    def _send_quick(self, values: dict[str, str], body: Any) -> dict[str, Any]:
        """Send one message to one phone now, refusing a number that cannot get it."""
        problem = fakerules.form_content(values) or fakerules.forwarding(values)
        if problem:
            raise Refused(problem)
        sender = self._sender(values["vibername_id"])
        alpha = values.get("alphaname_id")
        if alpha is not None and int(alpha) not in self.alphanames:
            raise Refused(f"Alphaname {alpha} not found")
        phone = values["phone"]
        problem = fakerules.phone(phone) or self.number_problem(phone)[1] or self._repeat(values)
        if problem:
            raise Refused(problem)
        self._charge(1)
        made = self.deliver(
            phone,
            via="quick",
            mailing="",
            sender=sender,
            start=self.clock(),
            **_form_fields(values),
        )
        message_id = self._next("quick")
        self.quick[message_id] = made
        return {"result": {"message_id": message_id}}

    def _repeat(self, values: Mapping[str, str]) -> str:
        """Return the repeat error when the same text went to the same phone just now."""
        since = self.clock() - self.repeat_window
        for old in self.quick.values():
            same = old.phone == values["phone"] and old.text == values.get("message", "")
            if same and old.start > since:
                return codes.rule("repeat").text
        return ""

    def _delivery_data(self, values: dict[str, str], body: Any) -> dict[str, Any]:
        """Return the phone, status and error code of a quick message."""
        found = self.quick.get(int(values["message_id"]))
        if found is None:
            raise Refused(codes.rule("not-found-id").text)
        shown = self.entry(found)
        del shown["delivery_id"]
        return {"result": shown}

    def _send_list(self, values: dict[str, str], body: Any) -> dict[str, Any]:
        """Create a mailing to a stored list; nothing goes out before it is confirmed."""
        problem = fakerules.form_content(values) or fakerules.list_schedule(values)
        if problem:
            raise Refused(problem)
        sender = self._sender(values["vibername_id"])
        listed = self.lists.get(int(values["list_id"]))
        if listed is None:
            raise Refused(f"Subscriber list {values['list_id']} not found")
        message_id = self._next("list")
        self.mailings[message_id] = {
            "values": values,
            "sender": sender,
            "phones": listed[1],
            "confirmed": False,
            "created": self.clock(),
            "deliveries": [],
        }
        return {"result": {"message_id": message_id, "count_subscribers": len(listed[1])}}

    def _confirm(self, values: dict[str, str], body: Any) -> dict[str, Any]:
        """Confirm a list mailing: charge it and send it to every subscriber."""
        mailing = self._find_mailing(values)
        if mailing["confirmed"]:
            raise Refused(codes.rule("confirmed").text)
        phones = mailing["phones"]
        self._charge(sum(1 for p in phones if not self.number_problem(p)[0]))
        given = mailing["values"]
        when = fakerules.schedule(given.get("d_schedule"), LIST_SCHEDULE_FORMAT)
        start = max(self.clock(), when) if when else self.clock()
        name = given.get("name", f"mailing {values['message_id']}")
        mailing["deliveries"] = [
            self.deliver(
                p,
                via="list",
                mailing=name,
                sender=mailing["sender"],
                start=start,
                **_form_fields(given),
            )
            for p in phones
        ]
        mailing["confirmed"] = True
        return {}

    def _find_mailing(self, values: Mapping[str, str]) -> dict[str, Any]:
        """Return a list mailing by ``message_id``, or refuse."""
        found = self.mailings.get(int(values["message_id"]))
        if found is None:
            raise Refused(codes.rule("not-found-id").text)
        return found

    def _mailing(self, values: Mapping[str, str]) -> dict[str, Any]:
        """Return one list mailing as ``getViberMessageData`` shows it."""
        message_id = int(values["message_id"])
        mailing = self._find_mailing(values)
        given = mailing["values"]
        count = sum(1 for d in mailing["deliveries"] if not d.error_code)
        created = mailing["created"].strftime("%Y-%m-%d %H:%M:%S")
        return {
            "message_id": message_id,
            "message_type": given.get("type_message", "TEXT"),
            "message": given.get("message", ""),
            "button_caption": given.get("button", ""),
            "button_link": given.get("button_link", ""),
            "image_file": given.get("image_url", ""),
            "status": "SENT" if mailing["confirmed"] else "NEW",
            "d_create": created,
            "d_schedule": given.get("d_schedule", created),
            "cost": f"{self.price * count:.5f} EUR",
        }

    def _list_mailings(self, values: dict[str, str], body: Any) -> dict[str, Any]:
        """Return a page of list mailings (``limit_offset``, ``limit_rows``)."""
        offset = int(values.get("limit_offset", "0"))
        rows = int(values.get("limit_rows", "100"))
        ids = sorted(self.mailings)[offset : offset + rows]
        return {"result": [self._mailing({"message_id": str(i)}) for i in ids]}

    def _delivery_list(self, values: dict[str, str], body: Any) -> dict[str, Any]:
        """Return each phone of a list mailing with its status."""
        mailing = self._find_mailing(values)
        return {"result": [self.entry(d) for d in mailing["deliveries"]]}

    def _names(self) -> list[dict[str, Any]]:
        """Return the account's Viber names."""
        return [{"vibername_id": k, "name": v} for k, v in sorted(self.vibernames.items())]

    def _lists(self) -> list[dict[str, Any]]:
        """Return the account's subscriber lists."""
        return [
            {"list_id": k, "name": name, "count_subscribers": len(phones)}
            for k, (name, phones) in sorted(self.lists.items())
        ]

    def got(self, phone: str) -> list[Delivery]:
        """Return what ``phone`` has received so far, oldest first."""
        with self.lock:
            now = self.clock()
            return [
                d
                for d in self.deliveries
                if d.phone == phone and not d.error_code and d.start <= now
            ]


def _phone(entry: Any) -> str:
    """Return the phone of a delivery list entry (a string, or an object with ``phone``)."""
    return str(entry.get("phone", "")) if isinstance(entry, dict) else str(entry)


def _form_fields(values: Mapping[str, str]) -> dict[str, str]:
    """Return the message fields of a v2 send as ``Delivery`` fields."""
    return {
        "text": values.get("message", ""),
        "image_url": values.get("image_url", ""),
        "button": values.get("button", ""),
        "button_link": values.get("button_link", ""),
    }
