"""Run a local channel that behaves like the Viber Channels Post API and shows what it got.

``Sandbox`` answers ``/pa/post``, ``/pa/set_webhook`` and ``/pa/get_account_info`` with the
reference's status codes, keeps the accepted posts, and serves a page that renders them the way a
Viber channel shows them. Faults (rate limits, HTTP 500, lost answers, slow answers) can be queued
to test how a client copes.
"""

from poster.destinations.viber.sandbox.server import Sandbox, serve_forever

__all__ = ["Sandbox", "serve_forever"]
