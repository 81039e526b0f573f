"""Define the fixed messages a feed may post for each new item: a map pin, a contact, a sticker.

``poster.models`` names them too; they live apart so that a configuration whose feeds post no
fixed message, and the commands that only read it, never build their classes.
"""

from __future__ import annotations

from typing import ClassVar

from poster.frozen import frozen


@frozen
class Location:
    """A fixed map pin posted for each new item: latitude and longitude in degrees."""

    type: ClassVar[str] = "location"
    lat: float
    lon: float


@frozen
class Contact:
    """A fixed contact card posted for each new item."""

    type: ClassVar[str] = "contact"
    name: str
    phone_number: str


@frozen
class Sticker:
    """A fixed sticker, by its numeric id, posted for each new item."""

    type: ClassVar[str] = "sticker"
    sticker_id: int


Fixed = Location | Contact | Sticker
