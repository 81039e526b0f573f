"""Run poster as a service: one scheduled job per feed, one paced queue for the channel.

``core`` holds the ``Daemon`` (schedules, reads, reload, signals, chores), ``worker`` the thread
that posts to the channel, and ``health`` the listener for the webhook, /healthz and /metrics.
"""

from poster.daemon.core import Daemon

__all__ = ["Daemon"]
