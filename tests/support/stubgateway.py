"""A gateway adapter that sends nothing and reports nothing, for tests to build on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from poster.destinations.gateway import BatchOutcome, GatewayMessage
from poster.store.recipientledger import StatusUpdate


class QuietGateway:
    """Answer every call but ``send`` with nothing: no requests, statuses, account or cost."""

    batch_size = 1
    concurrency = 1

    def send(self, message: GatewayMessage, phones: Sequence[str]) -> BatchOutcome:
        raise NotImplementedError  # each test's gateway says what a send does

    def callback(self, method: str, query: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        return []

    def requests(self, message: GatewayMessage, phones: Sequence[str]) -> list[dict[str, Any]]:
        return []

    def statuses(self, message_ids: Sequence[str]) -> list[StatusUpdate]:
        return []

    def account(self) -> Mapping[str, str]:
        return {}

    def cost(self, message: GatewayMessage, phones: Sequence[str]) -> str | None:
        return None
