"""Provide one valid message per gateway, as sent to the sandbox's gateway prefixes."""

from __future__ import annotations

import base64
from typing import Any

from poster.destinations.smsby.fake import DEFAULT_TOKEN

DT_AUTH = {"Authorization": "Basic " + base64.b64encode(b"fake-access-key").decode()}
DT_MESSAGE: dict[str, Any] = {
    "source_addr": "Poster",
    "destination_addr": 380501112233,
    "message_type": 108,
    "text": "Hello from DecisionTelecom",
    "image": "https://example.org/a.jpg",
    "button_caption": "Read on",
    "button_action": "https://example.org/story",
    "source_type": 1,
}
IT_MESSAGE = {
    "username": "poster",
    "api_key": "fake-api-key-0123456789",
    "to": "380501112233",
    "im_sender": "Poster",
    "im_message": "Hello from Intel Tele",
    "im_image": "https://example.org/b.png",
    "im_button_text": "Open",
    "im_button_link": "https://example.org/b",
}
SMSBY_MESSAGE = {
    "token": DEFAULT_TOKEN,
    "vibername_id": "7",
    "phone": "375291111111",
    "message": "Hello from SMS.BY",
}
