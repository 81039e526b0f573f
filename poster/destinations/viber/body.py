"""Put a channel message on the wire: the full JSON body and its bytes.

Kept apart from ``messages`` so that the API client, which only wraps and encodes what it is
given, builds none of the message classes: a pass that posts nothing never needs them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poster import destinations


def envelope(message: destinations.Message, sender: str, auth_token: str) -> dict[str, Any]:
    """Return the full JSON body: credentials and sender first, then the message fields."""
    return {"auth_token": auth_token, "from": sender, **message.payload()}


def encode(body: dict[str, Any]) -> bytes:
    """Encode a JSON body the way it goes on the wire (UTF-8, no ASCII escapes)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
