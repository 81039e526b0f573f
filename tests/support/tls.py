"""Let the HTTP clients that tests make share one verifying TLS context per CA source.

Each ``httpx.Client`` with the default ``verify=True`` loads the whole CA bundle into a new TLS
context, which costs tens of milliseconds of CPU. The suite makes well over a thousand such
clients (every ``build()``, most fixtures), nearly all of them for plain HTTP to 127.0.0.1, and
that loading was the largest single cost of the suite. Inside ``shared_contexts()`` clients whose
CA source is the same (certifi's bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` as httpx reads
them) get one context, as the connections of one client already do: verification is unchanged.
A test that counts the contexts poster builds asks for ``own_contexts`` instead.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from httpx._transports import default

_ORIGINAL = default.create_ssl_context


@contextmanager
def shared_contexts() -> Iterator[None]:
    """Make httpx's transports reuse the default verifying context for each CA source."""
    made: dict[tuple[str | None, str | None], ssl.SSLContext] = {}

    def create(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is not True or cert is not None:
            return _ORIGINAL(verify=verify, cert=cert, trust_env=trust_env)
        env = os.environ if trust_env else {}
        source = (env.get("SSL_CERT_FILE"), env.get("SSL_CERT_DIR"))
        if source not in made:
            made[source] = _ORIGINAL(verify=True, trust_env=trust_env)
        return made[source]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(default, "create_ssl_context", create)
        yield


def own_contexts(patch: pytest.MonkeyPatch) -> None:
    """Let every client build its own context again, for as long as ``patch`` is in force."""
    patch.setattr(default, "create_ssl_context", _ORIGINAL)
