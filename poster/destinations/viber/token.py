"""Say how a Viber channel's token looks and load it, for the ``[viber]`` shorthand and sections."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from poster.config import DEFAULT_API_URL, ViberConfig, token_env

if TYPE_CHECKING:
    from poster.secrets import Shape

SHORTHAND = "viber"
"""The ``[viber]`` section: the name of the one channel it stands for, of this kind."""
TOKEN_ENV = token_env(SHORTHAND)
CREDENTIAL_NAME = f"{SHORTHAND}-token"
"""The systemd credential holding the shorthand channel's token."""
# Viber channel tokens are groups of letters and digits joined by dashes, such as
# "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"; the check is loose on group count and size.
_VIBER_TOKEN = r"[0-9A-Za-z]{6,}(?:-[0-9A-Za-z]{6,})+"
_VIBER_LENGTH = range(30, 129)
VIBER_HOST = urlsplit(DEFAULT_API_URL).hostname
_SANDBOX_TIP = "; to try poster without a channel, run `poster run --once --sandbox`"


def token_mark(token: str) -> str:
    """Return a fingerprint of ``token`` that tells two tokens apart and gives neither away.

    The state keeps it beside the looked-up sender, so that a channel given another token
    (another channel, most likely) asks ``get_account_info`` for its own sender again.
    """
    import hashlib  # here: status and check, which import this module, never need it

    salted = b"poster sender lookup\0" + token.encode("utf-8", "surrogatepass")
    return hashlib.sha256(salted).hexdigest()[:16]


def shape_for(api_url: str) -> Shape | None:
    """Return the check of a token's shape when ``api_url`` is Viber's own API, else None.

    A token sent to Viber must look like one of its tokens; a sandbox, a test server or any
    other stand-in takes whatever token it was given.
    """
    return token_shape if urlsplit(api_url).hostname == VIBER_HOST else None


def token_shape(token: str) -> str | None:
    """Return why ``token`` cannot be a Viber channel token, or None when it looks like one."""
    if len(token) not in _VIBER_LENGTH or not re.fullmatch(_VIBER_TOKEN, token):
        return (
            "does not look like a Viber channel token (groups of letters and digits joined "
            "by dashes, such as 445da6az…-dazcczb2…-e0vc5fva…)"
        )
    return None


def missing(name: str) -> str:
    """Say that channel ``name`` has no token."""
    return "no Viber token" if name == SHORTHAND else f"no token for destination {name!r}"


def channel_token(settings: ViberConfig, config_file: str, *, name: str = SHORTHAND) -> str:
    """Return channel ``name``'s token, checked and redacted, or explain where to put it."""
    from poster.secrets import require_token  # here: status reads the config, never a token

    return require_token(
        settings, config_file, name=name, missing=missing(name), also=_SANDBOX_TIP,
        shape=shape_for(settings.api_url),
    )  # fmt: skip
