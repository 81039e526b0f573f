"""Run poster as a service: one scheduled job per feed, one paced queue for the channel.

``core`` holds the ``Daemon`` (schedules, reads, reload, signals, chores), ``worker`` the thread
that posts to the channel, ``listener`` the HTTP server and ``health`` what it serves: the
webhook, /healthz and /metrics; ``schedule``, ``systemd`` and ``metrics`` serve ``core``.
"""
