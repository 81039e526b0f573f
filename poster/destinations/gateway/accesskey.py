"""Load a gateway's access key the way every destination's token is found, and redact it."""

from __future__ import annotations

from poster.config import token_env
from poster.destinations import TokenSource
from poster.destinations.gateway import GatewaySettings
from poster.secrets import exposed, find_token, require_token, section, source_text

_GIVEN = " to the key the gateway gave you"


def gateway_token(name: str, settings: GatewaySettings, config_file: str) -> str:
    """Return destination ``name``'s key, hidden from every log line, or say where to put it."""
    missing = f"no access key for destination {name!r}"
    return require_token(settings, config_file, name=name, missing=missing, also=_GIVEN)


def key_source(name: str, settings: GatewaySettings) -> TokenSource:
    """Say where destination ``name``'s key comes from; raise ``ConfigError`` when unusable."""
    found = find_token(settings, name=name)
    if found is None:
        hint = (
            f"set {token_env(name)}, [{section(name)}] token_file, or the systemd credential "
            f"{name}-token{_GIVEN}"
        )
        return TokenSource(None, f"no access key for {name!r}", hint)
    return TokenSource(source_text(found[1]), warning=exposed(found[1]))
