"""Check the shared gateway records and section keys every gateway kind declares."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from poster.config import values as v
from poster.config.feedkeys import read_table
from poster.destinations.gateway import GatewayMessage, gateway_keys, gateway_settings

CTX = v.Context(Path("/etc/poster"), None, os.environ)
TTL = (timedelta(seconds=40), timedelta(hours=6))


def test_a_message_payload_leaves_out_unset_fields() -> None:
    message = GatewayMessage("text", "news", "k1", "Hello")
    assert message.payload() == {"text": "Hello"}


def test_the_shared_keys_resolve_the_recipients_file_and_fill_defaults() -> None:
    keys = gateway_keys("https://api.example/v1", TTL)
    table = read_table({"recipients": "subs.txt", "ttl": "1h", "max_per_day": 500}, keys, CTX)
    assert table.issues == []
    values = {name: table.values.get(name, key.default) for name, key in keys.items()}
    values |= {"min_gap": timedelta(0), "max_per_pass": 3}
    settings = gateway_settings(values)
    assert settings.recipients == Path("/etc/poster/subs.txt")
    assert (settings.ttl, settings.max_per_day, settings.api_url, settings.replies) == (
        timedelta(hours=1), 500, "https://api.example/v1", False
    )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"ttl": "10s"}, "ttl: must be 40 to 21600 seconds"),
        ({"ttl": "7h"}, "ttl: must be 40 to 21600 seconds"),
        ({}, "recipients: is required"),
        ({"token": "abc"}, "token: a literal token does not belong in feeds.toml"),
        ({"max_per_day": 0}, "max_per_day: must be a positive integer, got 0"),
    ],
    ids=["ttl-too-short", "ttl-too-long", "no-recipients", "literal-token", "zero-cap"],
)
def test_bad_shared_keys_are_named(raw: dict[str, object], expected: str) -> None:
    keys = gateway_keys("https://api.example/v1", TTL)
    table = read_table({"recipients": "s.txt"} | raw if raw else raw, keys, CTX)
    assert expected in [f"{issue.sub}: {issue.message}" for issue in table.issues]
