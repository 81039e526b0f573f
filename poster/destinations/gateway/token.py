"""Load a gateway's access key the way every destination's token is found, and redact it."""

from __future__ import annotations

from poster.config import ViberConfig, token_env
from poster.destinations.gateway import GatewaySettings
from poster.errors import ConfigError, ConfigProblem
from poster.secrets import find_token, install_redaction, section


def gateway_token(name: str, settings: GatewaySettings, config_file: str) -> str:
    """Return destination ``name``'s key, hidden from every log line, or say where to put it."""
    # find_token reads only the token file of the record it is given.
    found = find_token(ViberConfig(api_url=settings.api_url, token_file=settings.token_file),
                       name=name)  # fmt: skip
    if found is None:
        where = section(name)
        hint = (
            f"set {token_env(name)}, [{where}] token_file, or the systemd credential "
            f"{name}-token to the key the gateway gave you"
        )
        message = f"no access key for destination {name!r}"
        raise ConfigError([ConfigProblem(config_file, where, message, None, hint)])
    install_redaction(found[0])
    return found[0]
