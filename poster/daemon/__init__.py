"""Run poster as a service: one scheduled job per feed, one paced lane per destination.

``core`` holds the ``Daemon`` (reads, reload, chores), ``feedreads`` what a read's outcome does
to its feed, ``worker`` the thread per destination that posts, ``listener`` the webhook receiver
and ``httpserver`` the HTTP it speaks, ``health`` what it serves (/healthz and /metrics) and
``callbacks`` the gateways' status callbacks; ``schedule``, ``nextread``, ``systemd``,
``metrics`` and ``pushing`` serve ``core``.
"""
