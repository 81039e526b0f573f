"""Share the local sandbox's parts: the kinds' fakes on one port and the hooks of its host kind.

``hooks`` declares what the sandbox commands need from the kind whose sandbox stands in for a
destination, ``gateways`` mounts the kinds' fakes beside it, ``fakes`` says what a fake offers
the page, and ``httpio`` reads requests and writes answers for the sandbox's server.
"""
