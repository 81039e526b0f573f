"""Test the address policy: which addresses are public, and redirects into private networks.

Tests can only use loopback, so the redirect tests swap in a policy that counts 127.0.0.2 as
public and every other address as private, and a resolver that answers from a table.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from feedserver import FeedServer

from poster import errors
from poster.config import FeedConfig
from poster.fetch.addresses import (
    AddressPolicy,
    NonPublicAddress,
    ResolveCache,
    is_public,
    system_resolver,
)
from poster.fetch.client import FeedClient
from poster.fetch.feed import fetch, make_client
from poster.fetch.transport import StdlibTransport
from poster.fetch.watchdog import DeadlineExceeded

PUBLIC = "127.0.0.2"
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>%s</title></channel></rss>'


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("127.255.0.9", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("fc00::5", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.215.14", True),
        ("::127.0.0.1", False),
        ("2002:7f00:1::1", False),
        ("2002:5db8:d70e::1", True),
        ("64:ff9b::a00:1", False),
        ("64:ff9b::5db8:d70e", True),
        ("2001:db8::1", False),
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_system_resolver_lists_each_address_once() -> None:
    assert system_resolver("127.0.0.1", 80) == ("127.0.0.1",)


def test_a_name_is_resolved_once_a_while_and_a_failure_is_kept_briefly() -> None:
    now, asked = [0.0], []

    def resolve(host: str, port: int) -> tuple[str, ...]:
        asked.append(host)
        if host == "down.test":
            raise OSError("temporary failure in name resolution")
        return (f"93.184.215.{len(asked)}",)

    cache = ResolveCache(resolve, ttl=30.0, failed_ttl=10.0, clock=lambda: now[0], max_names=2)
    assert cache("a.test", 80) == cache("a.test", 80) == ("93.184.215.1",)
    now[0] = 29.9
    assert cache("a.test", 80) == ("93.184.215.1",) and asked == ["a.test"]
    now[0] = 30.0
    assert cache("a.test", 80) == ("93.184.215.2",)
    for _ in range(3):  # asked once: the failure is raised again, unchanged, for 10 s
        with pytest.raises(OSError, match="temporary failure in name resolution"):
            cache("down.test", 80)
    now[0] = 39.9
    with pytest.raises(OSError):
        cache("down.test", 80)
    assert asked == ["a.test", "a.test", "down.test"]
    now[0] = 40.0
    with pytest.raises(OSError):
        cache("down.test", 80)
    cache("b.test", 80)
    cache("c.test", 80)  # a third name pushes out the oldest
    assert cache("a.test", 80) == ("93.184.215.7",)
    assert asked == ["a.test", "a.test", "down.test", "down.test", "b.test", "c.test", "a.test"]


def test_check_refuses_a_name_when_any_of_its_addresses_is_private() -> None:
    policy = AddressPolicy(resolve=lambda host, port: ("93.184.215.14", "10.0.0.1"))
    with pytest.raises(NonPublicAddress, match=r"^mixed.test resolves to non-public address 10"):
        policy.check("mixed.test", 80, allow_private=False)
    assert len(policy.check("mixed.test", 80, allow_private=True)) == 2


class Resolver:
    """Answer from a table of names, each with a list of answers used one after another."""

    def __init__(self, table: dict[str, list[Sequence[str]]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        answers = self.table[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


def policy_of(resolver: Resolver) -> AddressPolicy:
    """Return a policy where only 127.0.0.2 is public."""
    return AddressPolicy(resolve=resolver, public=lambda a: str(a) == PUBLIC)


@pytest.fixture
def servers() -> Iterator[tuple[FeedServer, FeedServer]]:
    """Run a "public" server on 127.0.0.2 and an "internal" one on 127.0.0.1, on one port."""
    for _ in range(20):
        public = FeedServer(PUBLIC)
        try:
            internal = FeedServer("127.0.0.1", public.port)
        except OSError:  # the port is taken on 127.0.0.1; try another
            public.close()
            continue
        with public, internal:
            public.routes["/feed"] = (200, {"Content-Type": "application/rss+xml"}, RSS % b"pub")
            internal.routes["/feed"] = (200, {"Content-Type": "application/rss+xml"}, RSS % b"in")
            yield public, internal
        return
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


def client_for(resolver: Resolver) -> FeedClient:
    """Return a feed client whose transport uses ``resolver`` and the test policy."""
    return make_client(transport=StdlibTransport(policy=policy_of(resolver)))


def redirect(server: FeedServer, location: str) -> str:
    """Make ``/go`` on ``server`` redirect to ``location``; return the URL of ``/go``."""
    server.routes["/go"] = (302, {"Location": location}, b"")
    return server.url("/go")


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("http://127.0.0.1:{port}/feed", id="address"),
        pytest.param("http://internal.test:{port}/feed", id="name"),
        pytest.param("http://both.test:{port}/feed", id="name-with-one-private-address"),
    ],
)
def test_a_redirect_from_public_to_private_is_refused(
    servers: tuple[FeedServer, FeedServer], target: str
) -> None:
    public, internal = servers
    resolver = Resolver({"internal.test": [["127.0.0.1"]], "both.test": [[PUBLIC, "127.0.0.1"]]})
    location = target.format(port=public.port)
    feed = FeedConfig(name="news", url=redirect(public, location))
    with client_for(resolver) as client, pytest.raises(errors.FetchError) as caught:
        fetch(feed, client)
    host = location.split("//")[1].split(":")[0]
    assert str(caught.value) == (
        f"feed 'news': refused the redirect to {location}: {host} resolves to non-public"
        " address 127.0.0.1; set allow_private = true on the feed if it may read from that network"
    )
    assert internal.requests == []


def test_allow_private_follows_the_redirect(servers: tuple[FeedServer, FeedServer]) -> None:
    public, internal = servers
    feed = FeedConfig(name="news", url=redirect(public, internal.url("/feed")), allow_private=True)
    with client_for(Resolver({})) as client:
        assert fetch(feed, client).body == RSS % b"in"


def test_a_private_source_may_redirect_within_its_network(
    servers: tuple[FeedServer, FeedServer],
) -> None:
    _, internal = servers
    feed = FeedConfig(name="intranet", url=redirect(internal, internal.url("/feed")))
    with client_for(Resolver({})) as client:
        assert fetch(feed, client).body == RSS % b"in"


def test_a_public_redirect_is_followed(servers: tuple[FeedServer, FeedServer]) -> None:
    public, _ = servers
    resolver = Resolver({"cdn.test": [[PUBLIC]]})
    feed = FeedConfig(name="news", url=redirect(public, f"http://cdn.test:{public.port}/feed"))
    with client_for(resolver) as client:
        assert fetch(feed, client).body == RSS % b"pub"
    assert public.requests[-1].headers["host"] == f"cdn.test:{public.port}"


def test_the_connection_goes_to_the_address_checked(
    servers: tuple[FeedServer, FeedServer],
) -> None:
    public, internal = servers
    # A rebinding name: public when checked, private when looked up again.
    resolver = Resolver({"rebind.test": [[PUBLIC], ["127.0.0.1"]]})
    feed = FeedConfig(name="news", url=redirect(public, f"http://rebind.test:{public.port}/feed"))
    with client_for(resolver) as client:
        assert fetch(feed, client).body == RSS % b"pub"
        assert resolver.asked == ["rebind.test"]  # checked once, and connected to what was checked
        assert public.requests[-1].headers["host"] == f"rebind.test:{public.port}"
        with pytest.raises(errors.FetchError, match=r"non-public address 127\.0\.0\.1"):
            fetch(feed, client)
    assert internal.requests == []


def test_a_slow_lookup_is_shared_given_up_at_the_deadline_and_kept_when_it_ends() -> None:
    release, asked = threading.Event(), []

    def slow(host: str, port: int) -> tuple[str, ...]:
        asked.append(host)
        release.wait(5)
        return ("93.184.215.14",)

    cache = ResolveCache(slow)
    raised: list[BaseException] = []
    waiting = [threading.Thread(target=_gives_up, args=(cache, raised)) for _ in range(3)]
    for thread in waiting:
        thread.start()
    for thread in waiting:
        thread.join(2)
    assert [str(exc) for exc in raised] == ["resolving slow.test went past the deadline"] * 3
    assert all(isinstance(exc, DeadlineExceeded) for exc in raised)
    assert asked == ["slow.test"]  # one lookup for every caller waiting on the name
    release.set()
    assert cache("slow.test", 443, time.monotonic() + 2) == ("93.184.215.14",)
    assert cache("slow.test", 443) == ("93.184.215.14",) and asked == ["slow.test"]


def _gives_up(cache: ResolveCache, raised: list[BaseException]) -> None:
    """Ask ``cache`` for slow.test with a 0.1 s deadline, keeping what it raises."""
    try:
        cache("slow.test", 443, time.monotonic() + 0.1)
    except Exception as exc:
        raised.append(exc)


def test_a_failed_lookup_in_a_worker_is_raised_to_each_caller_and_kept() -> None:
    asked = []

    def down(host: str, port: int) -> tuple[str, ...]:
        asked.append(host)
        raise OSError("temporary failure in name resolution")

    cache = ResolveCache(down)
    for _ in range(2):
        with pytest.raises(OSError, match="temporary failure"):
            cache("down.test", 80, time.monotonic() + 1)
    assert asked == ["down.test"]
