"""Run local channels that behave like the Viber Channels Post API and show what they got.

``Sandbox`` holds a channel per token (the call's token picks it) and answers ``/pa/post``,
``/pa/set_webhook`` and ``/pa/get_account_info`` with the reference's status codes, keeps the
accepted posts, and serves a page that renders them the way a Viber channel shows them. Faults
(rate limits, HTTP 500, lost answers, slow answers, a revoked token) can be switched on to test
how a client copes.
"""

from poster.destinations.viber.sandbox.server import Sandbox

__all__ = ["Sandbox"]
