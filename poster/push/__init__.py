"""Subscribe to the WebSub hubs feeds advertise, so new items arrive without waiting for a poll.

W3C WebSub Recommendation (https://www.w3.org/TR/websub/): ``discover`` finds a feed's hub and
topic, ``subscriptions`` keeps each subscription in the state, ``plan`` decides what is due at a
given time, ``hub`` talks to hubs, ``service`` answers them and ties these to the daemon,
``handoff`` hands what hubs push to the pipeline off the listener's thread, and ``describe``
shows each subscription in ``poster status``.
"""

ENTRY = "websub:"
"""The prefix of the store meta entry holding a feed's subscription, named by the feed after it."""
META = "websub"
"""The store meta entry of earlier releases, holding every subscription at once."""
