"""Split a URL into what a request needs, skipping httpx's parser when the URL is already plain.

httpx's parser checks and percent-encodes every character, about 50 µs a URL; a pass reads each
feed's URL once, so that is most of a millisecond in twenty of a pass of 304 answers. A URL that
is already in the form httpx would give it (lowercase host, no default port, nothing to encode,
no dot segments, no user info or fragment) is split by one regular expression; any other goes
through httpx, and ``Target.url`` builds httpx's form on demand.
"""

from __future__ import annotations

import functools
import ipaddress
import re

import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 §3: unreserved and sub-delims characters, ":" and "@" in the path, "/" and "?" besides
# in the query; "%" is left out, so nothing needs encoding or decoding.
_PLAIN = re.compile(
    r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::([1-9][0-9]{0,4}))?"
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)((?:\?[A-Za-z0-9._~!$&'()*+,;=:@/?-]+)?)"
)
_IPV4_STYLE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")


class Target:
    """Where a request goes: the URL as text, scheme, host, port, Host value and request target."""

    __slots__ = ("_url", "host", "netloc", "port", "scheme", "target", "text")

    def __init__(
        self,
        text: str,
        scheme: str,
        host: str,
        port: int,
        netloc: bytes,
        target: bytes,
        url: httpx.URL | None = None,
    ) -> None:
        self.text = text
        self.scheme = scheme
        self.host = host
        self.port = port
        """The port to connect to, the scheme's default when the URL names none."""
        self.netloc = netloc
        self.target = target
        self._url = url

    @property
    def url(self) -> httpx.URL:
        """Return the URL as httpx has it, for errors and for resolving redirects."""
        if self._url is None:
            self._url = httpx.URL(self.text)
        return self._url

    def __str__(self) -> str:
        return self.text


def split_url(text: str) -> Target:
    """Return the target of the URL ``text``; raise httpx.InvalidURL when it is not a URL."""
    plain = _PLAIN.fullmatch(text)
    if plain is None or not _plain_enough(plain):
        return from_url(httpx.URL(text))
    scheme, host, port, path, query = plain.groups()
    netloc = f"{host}:{port}" if port else host
    number = int(port) if port else _DEFAULT_PORTS[scheme]
    return Target(text, scheme, host, number, netloc.encode("ascii"), (path + query).encode())


target_of = functools.lru_cache(maxsize=4096)(split_url)
"""Return the target of a feed's URL, split once: a pass asks for the same ones again."""


def from_url(url: httpx.URL) -> Target:
    """Return the target of a URL httpx has parsed (an unsupported scheme gets port 0)."""
    scheme = url.scheme
    port = url.port or _DEFAULT_PORTS.get(scheme, 0)
    host = url.raw_host.decode("ascii")
    return Target(str(url), scheme, host, port, url.netloc, url.raw_path, url)


def _plain_enough(plain: re.Match[str]) -> bool:
    """Tell whether httpx would leave a URL the pattern matched exactly as it is."""
    scheme, host, port, path, _ = plain.groups()
    if port and (int(port) > 65535 or int(port) == _DEFAULT_PORTS[scheme]):
        return False
    segments = path.split("/")
    if "." in segments or ".." in segments:
        return False  # httpx removes dot segments (RFC 3986 §5.2.4)
    return not _IPV4_STYLE.fullmatch(host) or _is_ipv4(host)


@functools.lru_cache(maxsize=256)
def _is_ipv4(host: str) -> bool:
    """Tell whether ``host`` is a valid dotted IPv4 address (httpx refuses the others)."""
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True
