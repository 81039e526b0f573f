"""Fetch a feed's source: ``feed.fetch`` over the client, transport, connections and caps here."""
