"""Decide which network addresses poster may connect to, resolving each name once.

A public source that redirects to ``http://127.0.0.1/…`` or ``http://10.0.0.5/…`` would make
poster read, and post, pages of the network it runs in. ``AddressPolicy.check`` resolves a host
once and refuses it when any of its addresses is not public; the caller then connects to exactly
the addresses checked, so a name that resolves differently a moment later (DNS rebinding) cannot
get round the check.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import httpx

from poster.fetch.watchdog import DeadlineExceeded
from poster.frozen import frozen

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""Return the addresses a host name resolves to, for a port."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
RESOLVE_TTL = 30.0
"""Seconds a name's addresses are reused: a pass asks the same few hosts again and again."""
FAILED_TTL = 10.0
"""Seconds a name that failed to resolve fails again without asking, as resolvers cache a
negative answer: a feed's hundred images on a host that is down cost one lookup, not a hundred."""


class NonPublicAddress(httpx.ConnectError):
    """A host resolves to an address that is not public, and the request may not go there."""

    def __init__(self, host: str, address: Address) -> None:
        self.host = host
        self.address = address
        super().__init__(f"{host} resolves to non-public address {address}")


def system_resolver(host: str, port: int) -> tuple[str, ...]:
    """Return the addresses ``host`` resolves to, in the system's order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


class ResolveCache:
    """Resolve each host once per ``ttl`` seconds and reuse its addresses; safe between threads.

    The addresses reused are the ones checked and connected to, so a name that resolves
    differently in between still cannot lead a request elsewhere. A failure is kept for
    ``failed_ttl`` seconds and raised again, unchanged, for that long.
    """

    def __init__(
        self,
        resolve: Resolver = system_resolver,
        *,
        ttl: float = RESOLVE_TTL,
        failed_ttl: float = FAILED_TTL,
        clock: Callable[[], float] = time.monotonic,
        max_names: int = 4096,
    ) -> None:
        self._resolve = resolve
        self._ttl = ttl
        self._failed_ttl = failed_ttl
        self._clock = clock
        self._max = max_names
        self._found: dict[tuple[str, int], tuple[float, tuple[str, ...] | OSError]] = {}
        self._pending: dict[tuple[str, int], Future[tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int, deadline: float | None = None) -> tuple[str, ...]:
        """Return the addresses of ``host``, resolving it when not resolved within ``ttl``.

        With a ``deadline`` (on the ``time.monotonic`` clock) the lookup runs in a worker thread
        shared by every caller asking for the same name, and a caller gives up at its deadline
        with ``DeadlineExceeded``; the lookup still ends on its own and its answer is kept.
        """
        now = self._clock()
        with self._lock:
            kept = self._found.get((host, port))
        if kept is not None:
            at, answer = kept
            if isinstance(answer, OSError):
                if now - at < self._failed_ttl:
                    raise type(answer)(*answer.args)  # a new one: no traceback piles up
            elif now - at < self._ttl:
                return answer
        if deadline is None:
            return self._lookup(host, port, now)
        return _awaited(self._shared(host, port, now), host, deadline)

    def _lookup(self, host: str, port: int, now: float) -> tuple[str, ...]:
        """Resolve ``host`` and keep the answer, or the failure."""
        try:
            found = tuple(self._resolve(host, port))
        except OSError as failure:
            self._keep(host, port, now, failure)
            raise
        self._keep(host, port, now, found)
        return found

    def _shared(self, host: str, port: int, now: float) -> Future[tuple[str, ...]]:
        """Return the lookup of ``host`` under way, starting one in a worker thread if none is."""
        with self._lock:
            pending = self._pending.get((host, port))
            if pending is not None:
                return pending
            pending = self._pending[(host, port)] = Future()

        def done() -> None:
            with self._lock:
                self._pending.pop((host, port), None)

        _fill(pending, lambda: self._lookup(host, port, now), host, done)
        return pending

    def _keep(self, host: str, port: int, now: float, answer: tuple[str, ...] | OSError) -> None:
        """Remember ``answer`` for ``host``, forgetting the oldest name beyond ``max_names``."""
        with self._lock:
            self._found.pop((host, port), None)
            self._found[(host, port)] = (now, answer)  # insertion order is age order
            while len(self._found) > self._max:
                del self._found[next(iter(self._found))]


def _resolve_by(resolve: Resolver, host: str, port: int, deadline: float) -> tuple[str, ...]:
    """Resolve ``host`` in a worker thread, giving up at ``deadline`` with ``DeadlineExceeded``.

    ``getaddrinfo`` takes no timeout; the worker may go on after the caller gave up, and ends
    when the system resolver does.
    """
    pending: Future[tuple[str, ...]] = Future()
    _fill(pending, lambda: tuple(resolve(host, port)), host)
    return _awaited(pending, host, deadline)


def _fill(
    pending: Future[tuple[str, ...]],
    lookup: Callable[[], tuple[str, ...]],
    host: str,
    done: Callable[[], None] = lambda: None,
) -> None:
    """Run ``lookup`` in a worker thread of its own, its answer or error set on ``pending``."""

    def work() -> None:
        try:
            pending.set_result(lookup())
        except BaseException as exc:  # handed to whoever waits, as a call would raise it
            pending.set_exception(exc)
        finally:
            done()

    threading.Thread(target=work, name=f"resolve {host}", daemon=True).start()


def _awaited(pending: Future[tuple[str, ...]], host: str, deadline: float) -> tuple[str, ...]:
    """Return the lookup's answer once it comes, raising ``DeadlineExceeded`` at ``deadline``."""
    try:
        return pending.result(max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        if pending.done():
            raise  # the resolver itself timed out
        raise DeadlineExceeded(f"resolving {host} went past the deadline") from None
    except OSError as exc:
        raise type(exc)(*exc.args) from None  # a new one for each waiter: no traceback piles up


# Every request checks its addresses, and a poll asks the same few hosts over and over.
@functools.lru_cache(maxsize=4096)
def is_public(address: Address) -> bool:
    """Tell whether ``address`` is public unicast, judging IPv4 inside IPv6 by its IPv4 part."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        return is_public(inner)
    # is_global leaves out loopback, private, link-local, unique-local, unspecified and shared
    # space, but not multicast; is_reserved adds 240.0.0.0/4 and the unassigned IPv6 blocks.
    return address.is_global and not address.is_multicast and not address.is_reserved


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv4-mapped, 6to4 or NAT64 IPv6 address leads to."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@functools.lru_cache(maxsize=4096)
def _literal(host: str) -> Address | None:
    """Return ``host`` as an address when it is an IP literal, else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@frozen
class AddressPolicy:
    """How names are resolved and which addresses count as public; tests swap in their own."""

    resolve: Resolver = system_resolver
    public: Callable[[Address], bool] = is_public

    def addresses(self, host: str, port: int, deadline: float | None = None) -> tuple[Address, ...]:
        """Resolve ``host`` once, by ``deadline`` if given; an IP literal is its own address."""
        literal = _literal(host)
        if literal is not None:
            return (literal,)
        resolve = self.resolve
        if deadline is None:
            found = resolve(host, port)
        elif isinstance(resolve, ResolveCache):
            found = resolve(host, port, deadline)  # a worker thread only when not kept
        else:
            found = _resolve_by(resolve, host, port, deadline)
        return tuple(ipaddress.ip_address(address) for address in found)

    def check(
        self, host: str, port: int, *, allow_private: bool, deadline: float | None = None
    ) -> tuple[Address, ...]:
        """Return the addresses to connect to, refusing a non-public one unless allowed."""
        found = self.addresses(host, port, deadline)
        if not allow_private:
            refused = next((address for address in found if not self.public(address)), None)
            if refused is not None:
                raise NonPublicAddress(host, refused)
        return found

    def all_public(self, addresses: Sequence[Address]) -> bool:
        """Tell whether every one of ``addresses`` is public."""
        return all(self.public(address) for address in addresses)
