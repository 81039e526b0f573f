"""Read the Intel Tele API's answers and status callbacks into records; no I/O here.

Choices where ``inteltele-im-api.txt`` is silent or unclear, one line each:
- answers are JSON; the document's examples print typographic and single quotes, so an answer
  that is not JSON is read once more as that notation (Python-style quotes, true/false/null).
- prices and money are read as ``Decimal`` from strings or numbers alike.
- ``im/status`` dates come as "2017-01-23 12:34:56" ("timeformat") or "17-02-2013 12:08:29"
  (its example response); both are read, with "time_zone" when it names a zone.
- ``im/status`` leaves out ids it does not know; they are simply absent from the result.
- a number the ``im/send`` reply does not mention is ``uncertain``: it may have been queued.
- the callback's ``datetime`` is UTC ("Asynchronous MT messages status"); the document gives
  no form, so the two above are read and any other leaves ``at`` unset: the report still counts.
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, DecimalException
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from poster.destinations.inteltele.outcomes import action_for, hint_for, is_ok
from poster.destinations.inteltele.schema import MessageStatus, Rate, Rates, RecipientResult

_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%d-%m-%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
_LITERALS = {"true": "True", "false": "False", "null": "None"}
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


class Unreadable(ValueError):
    """An answer or callback is not in any shape the document describes."""


def decode(content: bytes) -> Any:
    """Return the data of an answer body: JSON, else the document's printed notation."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable("the answer is not UTF-8 text") from exc
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        pass
    except RecursionError as exc:
        raise Unreadable("the answer nests too deep") from exc
    try:
        return ast.literal_eval(_python_notation(text.translate(_QUOTES)))
    except (
        ValueError,
        SyntaxError,
        TypeError,
        tokenize.TokenError,
        MemoryError,
        RecursionError,
    ) as exc:  # what literal_eval raises on hostile text: "{[]: 1}" is a TypeError
        raise Unreadable("the answer is not JSON") from exc


def _python_notation(text: str) -> str:
    """Return ``text`` with the JSON words true/false/null as Python literals."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    out = []
    for tok in tokens:
        word = _LITERALS.get(tok.string, tok.string) if tok.type == tokenize.NAME else tok.string
        out.append((tok.type, word))
    return tokenize.untokenize(out)


def whole_error(data: Any) -> str | None:
    """Return the status text of an error about the whole request, or None."""
    if isinstance(data, Mapping) and data.get("error") is True:
        return str(data.get("message") or data.get("status") or "error")
    reply = data.get("reply") if isinstance(data, Mapping) else None
    if isinstance(reply, list) and len(reply) == 1 and isinstance(reply[0], Mapping):
        item = reply[0]
        status = str(item.get("status", ""))
        if "number" not in item and not is_ok(status):
            return status
    return None


def recipient_results(data: Any, numbers: Sequence[str]) -> tuple[RecipientResult, ...]:
    """Return one result per number sent, from an ``im/send`` reply that is not an error."""
    reply = data.get("reply") if isinstance(data, Mapping) else None
    if not isinstance(reply, list):
        raise Unreadable("the answer has no reply list")
    found: dict[str, RecipientResult] = {}
    for item in reply:
        if isinstance(item, Mapping) and "number" in item:
            result = _recipient(item)
            found.setdefault(result.phone, result)
    missing = "no status for this number in the answer; it may have been queued"
    return tuple(
        found.get(phone) or RecipientResult(phone, False, "uncertain", missing) for phone in numbers
    )


def _recipient(item: Mapping[str, Any]) -> RecipientResult:
    """Return the result for one entry of the reply list."""
    phone = "".join(ch for ch in str(item["number"]) if ch.isdigit())
    status = str(item.get("status", ""))
    cost = money(item.get("cost"))
    if is_ok(status):
        message_id = _text(item.get("message_id"))
        country, mcc = _text(item.get("country")), _text(item.get("mcc") or item.get("mccmnc"))
        if message_id is None:
            why = "queued without a message_id"
            return RecipientResult(phone, True, "uncertain", status, None, cost, country, mcc, why)
        return RecipientResult(phone, True, "ok", status, message_id, cost, country, mcc)
    action = action_for(status, per_number=True)
    return RecipientResult(phone, False, action, status, cost=cost, hint=hint_for(status))


MAX_MAGNITUDE = 30
"""Amounts of 10**30 and above are read as no amount: sums of them could overflow ``Decimal``."""


def money(value: Any) -> Decimal | None:
    """Return an amount given as text or number, or None when there is none."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip())
    except DecimalException:
        return None
    # No price or balance reaches 10**MAX_MAGNITUDE: "9E+999999" would overflow a sum.
    return amount if amount.is_finite() and amount.adjusted() < MAX_MAGNITUDE else None


def amount(data: Any, key: str) -> Decimal:
    """Return ``data[key]`` of a ``balance`` or ``credit`` answer."""
    found = money(data.get(key)) if isinstance(data, Mapping) else None
    if found is None:
        raise Unreadable(f"the answer has no {key}")
    return found


def statuses(data: Any) -> tuple[MessageStatus, ...]:
    """Return the statuses of an ``im/status`` answer, in the answer's order."""
    if not isinstance(data, Mapping):
        raise Unreadable("the answer is not an object of message ids")
    found = []
    for message_id, entry in data.items():
        if isinstance(entry, Mapping) and isinstance(entry.get("status"), str):
            date, zone = _text(entry.get("date")), _text(entry.get("time_zone"))
            at = parse_date(date, zone) if date else None
            found.append(MessageStatus(str(message_id), entry["status"].lower(), at, date, zone))
    return tuple(found)


def parse_date(text: str, zone: str | None = "UTC") -> datetime | None:
    """Return the moment ``text`` names in ``zone``, or None when either cannot be read."""
    try:
        tz = UTC if zone in (None, "", "UTC") else ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return None
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), form).replace(tzinfo=tz)
        except ValueError:
            continue
    return None


def rates(data: Any, username: str) -> Rates:
    """Return the price table of a ``rates`` answer, keyed by the username as documented."""
    if not isinstance(data, Mapping) or not data:
        raise Unreadable("the answer has no rates")
    table = data.get(username)
    if table is None and len(data) == 1:
        table = next(iter(data.values()))
    if not isinstance(table, Mapping):
        raise Unreadable("the answer has no rates for this username")
    countries = {}
    for country, networks in table.items():
        if isinstance(networks, Mapping):
            countries[str(country).lower()] = {
                str(network): rate for network, raw in networks.items() if (rate := _rate(raw))
            }
    return Rates(countries)


def _rate(raw: Any) -> Rate | None:
    """Return one ``[price, pay-only-delivered]`` pair, or None when it is not one."""
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        return None
    price = money(raw[0])
    return None if price is None else Rate(price, str(raw[1]).strip() == "1")


def callback(params: Mapping[str, str]) -> MessageStatus:
    """Return the status a callback's params ``msgid`` and ``status`` report.

    A ``datetime`` in no known form leaves ``at`` None, its text kept in ``raw_date``.
    """
    message_id, status = params.get("msgid", "").strip(), params.get("status", "").strip()
    if not message_id or not status:
        raise Unreadable("a status callback needs msgid and status")
    when = params.get("datetime", "").strip()
    at = parse_date(when) if when else None
    return MessageStatus(message_id, status.lower(), at, when or None, "UTC")


def _text(value: Any) -> str | None:
    """Return ``value`` as text, or None when it is missing or empty."""
    return None if value is None or value == "" else str(value)
