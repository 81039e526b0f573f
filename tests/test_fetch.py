"""Test reading feed sources: conditional GET, byte caps, redirects and error mapping."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
import respx
from feedserver import FeedServer, Route
from support.blocking import finished

from poster import errors
from poster.config import FeedConfig
from poster.errors import HostError
from poster.fetch.client import FeedClient, display, env_client
from poster.fetch.feed import ACCEPT, USER_AGENT, _translate, fetch, make_client, url_mark
from poster.fetch.headers import parse_retry_after
from poster.models import Freshness, Validators

DATA = Path(__file__).parent / "data" / "fetch"
FEED_XML = (DATA / "feed.xml").read_bytes()
URL = "https://feeds.example.org/feed.xml"


def feed_config(url: str = URL, **options: object) -> FeedConfig:
    """Build a FeedConfig for tests."""
    return FeedConfig(name="news", url=url, **options)  # type: ignore[arg-type]


def sha256(body: bytes) -> str:
    """Return the hex digest fetch uses as body hash."""
    return hashlib.sha256(body).hexdigest()


@pytest.fixture
def router() -> respx.Router:
    """Route requests made through the ``client`` fixture; nothing reaches the network."""
    return respx.Router(assert_all_mocked=True)


@pytest.fixture
def client(router: respx.Router) -> Iterator[FeedClient]:
    """Yield a client whose transport is the respx router."""
    with make_client(transport=httpx.MockTransport(router.handler)) as mocked:
        yield mocked


@pytest.fixture
def real_client() -> Iterator[FeedClient]:
    """Yield a client with the real transport, for the 127.0.0.1 server."""
    with make_client() as http:
        yield http


def closed_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- client defaults ---------------------------------------------------------------------------


def test_make_client_defaults() -> None:
    with make_client() as http:
        assert http.headers["User-Agent"] == USER_AGENT
        assert http.headers["Accept"] == ACCEPT
        assert http.headers["Accept-Encoding"] == "gzip, deflate"
        assert http.timeout == FeedConfig.timeout
    assert USER_AGENT.startswith("poster/0.1.0 (+https://")


def test_no_cookie_is_kept_between_requests(client: FeedClient, router: respx.Router) -> None:
    route = router.get(URL).respond(200, content=FEED_XML, headers={"Set-Cookie": "sid=abc"})
    headers = (("X-Api-Key", "k"), ("Cookie", "consent=yes"))

    fetch(feed_config(), client)
    fetch(feed_config(), client)
    fetch(feed_config(headers=headers), client)

    sent = [call.request.headers.get("cookie") for call in route.calls]
    assert sent == [None, None, "consent=yes"]


# --- 200, 304 and unchanged ------------------------------------------------------------------


def test_200_returns_body_validators_and_headers(router: respx.Router, client: FeedClient) -> None:
    router.get(URL).respond(
        200,
        headers={
            "Content-Type": "application/rss+xml; charset=utf-8",
            "ETag": '"v1"',
            "Last-Modified": "Mon, 03 Mar 2025 10:00:00 GMT",
            "X-Custom": "Yes",
        },
        content=FEED_XML,
    )
    before = datetime.now(UTC)
    result = fetch(feed_config(), client)
    assert (result.feed, result.url, result.status) == ("news", URL, 200)
    assert result.body == FEED_XML
    assert result.validators == Validators(
        '"v1"', "Mon, 03 Mar 2025 10:00:00 GMT", sha256(FEED_XML), source=url_mark(URL)
    )
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert ("x-custom", "Yes") in result.headers
    assert ("content-type", "application/rss+xml; charset=utf-8") in result.headers
    assert result.unchanged is False
    assert result.fetched_at is not None and result.fetched_at >= before
    assert result.fetched_at.tzinfo is UTC
    assert 0.0 <= result.elapsed < 5.0


@pytest.mark.parametrize(
    ("answer_headers", "expected"),
    [
        pytest.param(
            {},
            Validators('"v1"', "Mon, 03 Mar 2025 10:00:00 GMT", "h1", source=url_mark(URL)),
            id="kept",
        ),
        pytest.param(
            {"ETag": '"v2"'},
            Validators('"v2"', "Mon, 03 Mar 2025 10:00:00 GMT", "h1", source=url_mark(URL)),
            id="new-etag",
        ),
        pytest.param(
            {"Last-Modified": "Tue, 04 Mar 2025 10:00:00 GMT"},
            Validators('"v1"', "Tue, 04 Mar 2025 10:00:00 GMT", "h1", source=url_mark(URL)),
            id="new-last-modified",
        ),
    ],
)
def test_304_sends_conditionals_and_carries_validators(
    router: respx.Router,
    client: FeedClient,
    answer_headers: dict[str, str],
    expected: Validators,
) -> None:
    route = router.get(URL).respond(304, headers=answer_headers)
    previous = Validators('"v1"', "Mon, 03 Mar 2025 10:00:00 GMT", "h1")
    result = fetch(feed_config(), client, previous)
    sent = route.calls.last.request.headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Mon, 03 Mar 2025 10:00:00 GMT"
    assert (result.status, result.body, result.unchanged) == (304, None, False)
    assert result.validators == expected
    assert result.has_body is False


def test_no_conditionals_without_previous(router: respx.Router, client: FeedClient) -> None:
    route = router.get(URL).respond(200, content=FEED_XML)
    fetch(feed_config(), client, Validators(body_hash="h1"))
    sent = route.calls.last.request.headers
    assert "If-None-Match" not in sent
    assert "If-Modified-Since" not in sent


def test_same_body_hash_is_unchanged(router: respx.Router, client: FeedClient) -> None:
    router.get(URL).respond(200, headers={"ETag": '"v2"'}, content=FEED_XML)
    previous = Validators('"v1"', None, sha256(FEED_XML))
    result = fetch(feed_config(), client, previous)
    assert (result.status, result.body, result.unchanged) == (200, None, True)
    assert result.validators == Validators('"v2"', None, sha256(FEED_XML), source=url_mark(URL))


@pytest.mark.parametrize("status", [200, 304])
def test_the_validators_carry_the_mark_of_the_read_they_were_taken_for(
    router: respx.Router, client: FeedClient, status: int
) -> None:
    router.get(URL).respond(status, headers={"ETag": '"v2"'}, content=FEED_XML)
    previous = Validators('"v1"', None, "h1", "old-mark")
    result = fetch(feed_config(), client, previous, taken_for="new-mark")
    assert result.validators.taken_for == "new-mark"
    assert fetch(feed_config(), client, previous).validators.taken_for is None


def test_real_server_answers_304_to_second_fetch(
    feed_server: FeedServer, real_client: FeedClient
) -> None:
    feed_server.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, FEED_XML)
    feed = feed_config(feed_server.url("/feed.xml"))
    first = fetch(feed, real_client)
    second = fetch(feed, real_client, first.validators)
    etag = '"' + hashlib.sha1(FEED_XML).hexdigest() + '"'
    assert (first.status, first.body) == (200, FEED_XML)
    assert first.validators.etag == etag
    assert first.validators.last_modified is not None
    assert feed_server.requests[1].headers["if-none-match"] == etag
    assert feed_server.requests[1].headers["if-modified-since"] == first.validators.last_modified
    assert (second.status, second.body) == (304, None)
    assert second.validators == first.validators
    feed_server.routes["/feed.xml"] = (200, {}, FEED_XML + b"\n")
    third = fetch(feed, real_client, second.validators)
    assert (third.status, third.body) == (200, FEED_XML + b"\n")
    assert third.validators.last_modified != first.validators.last_modified


def test_a_304_keeps_the_connection_for_the_next_fetch(
    feed_server: FeedServer, real_client: FeedClient
) -> None:
    feed_server.keep_alive = True
    feed_server.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, FEED_XML)
    feed = feed_config(feed_server.url("/feed.xml"))
    first = fetch(feed, real_client)
    for _ in range(3):
        assert fetch(feed, real_client, first.validators).status == 304
    # One connection for all four requests: each 304 was read to its (empty) end.
    assert len({request.peer for request in feed_server.requests}) == 1


def test_real_server_answers_304_to_if_modified_since(
    feed_server: FeedServer, real_client: FeedClient
) -> None:
    feed_server.routes["/feed.xml"] = (200, {}, FEED_XML)
    feed = feed_config(feed_server.url("/feed.xml"))
    first = fetch(feed, real_client)
    only_date = Validators(last_modified=first.validators.last_modified, body_hash="h1")
    second = fetch(feed, real_client, only_date)
    assert "if-none-match" not in feed_server.requests[1].headers
    assert second.status == 304
    mark = url_mark(feed.url)
    assert second.validators == Validators(
        first.validators.etag, only_date.last_modified, "h1", source=mark
    )


# --- size cap ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "fits"),
    [
        pytest.param(99, True, id="under"),
        pytest.param(100, True, id="at-cap"),
        pytest.param(101, False, id="over"),
    ],
)
def test_size_cap_boundary(router: respx.Router, client: FeedClient, size: int, fits: bool) -> None:
    router.get(URL).respond(200, content=b"x" * size)
    if fits:
        assert fetch(feed_config(max_bytes=100), client).body == b"x" * size
    else:
        with pytest.raises(errors.ResponseTooLarge, match=r"response from https://feeds"):
            fetch(feed_config(max_bytes=100), client)


def test_size_cap_by_content_length_reads_nothing(router: respx.Router, client: FeedClient) -> None:
    pulled: list[bytes] = []

    def body() -> Iterator[bytes]:
        pulled.append(b"x" * 10)
        yield b"x" * 10

    router.get(URL).respond(200, headers={"Content-Length": "1000000"}, content=body())
    with pytest.raises(errors.ResponseTooLarge) as caught:
        fetch(feed_config(max_bytes=1000), client)
    assert caught.value.limit == 1000
    assert pulled == []


def test_size_cap_while_streaming_stops_early(router: respx.Router, client: FeedClient) -> None:
    pulled: list[int] = []

    def body() -> Iterator[bytes]:
        for index in range(100):
            pulled.append(index)
            yield b"y" * 100

    router.get(URL).respond(200, content=body())
    with pytest.raises(errors.ResponseTooLarge):
        fetch(feed_config(max_bytes=1050), client)
    assert len(pulled) == 11


def test_size_cap_on_real_chunked_response(
    feed_server: FeedServer, real_client: FeedClient
) -> None:
    feed_server.routes["/big"] = Route(200, {}, b"z" * 10_000, chunked=True)
    with pytest.raises(errors.ResponseTooLarge):
        fetch(feed_config(feed_server.url("/big"), max_bytes=4096), real_client)
    assert fetch(feed_config(feed_server.url("/big")), real_client).body == b"z" * 10_000


def test_size_cap_counts_decoded_bytes(feed_server: FeedServer, real_client: FeedClient) -> None:
    feed_server.routes["/bomb"] = Route(200, {}, b"\0" * 200_000, gzip=True)
    with pytest.raises(errors.ResponseTooLarge):
        fetch(feed_config(feed_server.url("/bomb"), max_bytes=10_000), real_client)


# --- encodings ---------------------------------------------------------------------------------


def test_gzip_body_is_decoded(feed_server: FeedServer, real_client: FeedClient) -> None:
    feed_server.routes["/feed.xml"] = Route(200, {}, FEED_XML, gzip=True)
    result = fetch(feed_config(feed_server.url("/feed.xml")), real_client)
    assert result.body == FEED_XML
    assert ("content-encoding", "gzip") in result.headers
    assert result.validators.body_hash == sha256(FEED_XML)


def test_deflate_body_is_decoded(router: respx.Router, client: FeedClient) -> None:
    headers = {"Content-Encoding": "deflate"}
    router.get(URL).respond(200, headers=headers, content=iter([zlib.compress(FEED_XML)]))
    assert fetch(feed_config(), client).body == FEED_XML


def test_corrupt_gzip_is_fetch_error(feed_server: FeedServer, real_client: FeedClient) -> None:
    feed_server.routes["/feed.xml"] = (200, {"Content-Encoding": "gzip"}, b"not gzip at all")
    url = feed_server.url("/feed.xml")
    with pytest.raises(errors.FetchError) as caught:
        fetch(feed_config(url), real_client)
    assert type(caught.value) is errors.FetchError
    assert isinstance(caught.value.__cause__, httpx.DecodingError)
    assert str(caught.value) == f"feed 'news': {url}: the compressed body is corrupt"


def test_windows_1251_body_passes_through(feed_server: FeedServer, real_client: FeedClient) -> None:
    body = (DATA / "cp1251.xml").read_bytes()
    content_type = "application/rss+xml; charset=windows-1251"
    feed_server.routes["/ru.xml"] = (200, {"Content-Type": content_type}, body)
    result = fetch(feed_config(feed_server.url("/ru.xml")), real_client)
    assert result.body == body
    assert "Новости".encode("cp1251") in body
    assert result.content_type == content_type
    assert ("content-type", content_type) in result.headers


# --- request headers ---------------------------------------------------------------------------


def test_user_agent_and_feed_headers_are_sent(
    feed_server: FeedServer, real_client: FeedClient
) -> None:
    feed_server.routes["/feed.xml"] = (200, {}, FEED_XML)
    headers = (("X-Api-Key", "k1"), ("Accept-Language", "ru"))
    fetch(feed_config(feed_server.url("/feed.xml"), headers=headers), real_client)
    (received,) = feed_server.requests
    assert (received.method, received.path) == ("GET", "/feed.xml")
    assert received.headers["user-agent"] == USER_AGENT
    assert received.headers["accept"] == ACCEPT
    assert received.headers["accept-encoding"] == "gzip, deflate"
    assert received.headers["x-api-key"] == "k1"
    assert received.headers["accept-language"] == "ru"


def test_feed_header_overrides_client_default(router: respx.Router, client: FeedClient) -> None:
    route = router.get(URL).respond(200, content=FEED_XML)
    fetch(feed_config(headers=(("Accept", "application/json"),)), client)
    assert route.calls.last.request.headers.get_list("Accept") == ["application/json"]


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        pytest.param(404, None, None, id="404"),
        pytest.param(500, None, None, id="500"),
        pytest.param(503, "120", 120.0, id="503-seconds"),
        pytest.param(429, "0", 0.0, id="429-zero"),
        pytest.param(503, "Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="503-past-date"),
        pytest.param(503, "later", None, id="503-garbage"),
    ],
)
def test_http_error_status(
    router: respx.Router,
    client: FeedClient,
    status: int,
    retry_after: str | None,
    expected: float | None,
) -> None:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    router.get(URL).respond(status, headers=headers)
    with pytest.raises(errors.HTTPStatusError) as caught:
        fetch(feed_config(), client)
    assert (caught.value.status, caught.value.retry_after) == (status, expected)
    assert str(caught.value).startswith(f"feed 'news': HTTP {status} from {URL}")


def test_410_says_the_feed_is_gone_and_what_to_do(router: respx.Router, client: FeedClient) -> None:
    router.get(URL).respond(410)
    with pytest.raises(errors.HTTPStatusError) as caught:
        fetch(feed_config(), client)
    assert (caught.value.status, caught.value.gone) == (410, True)
    assert str(caught.value) == (
        f"feed 'news': the server says the feed is gone (HTTP 410 from {URL});"
        " fix or remove its url in feeds.toml"
    )


def test_503_retry_after_future_date(feed_server: FeedServer, real_client: FeedClient) -> None:
    when = datetime.now(UTC).replace(microsecond=0).timestamp() + 3600
    date = format_datetime(datetime.fromtimestamp(when, UTC), usegmt=True)
    feed_server.routes["/busy"] = (503, {"Retry-After": date}, b"busy")
    with pytest.raises(errors.HTTPStatusError) as caught:
        fetch(feed_config(feed_server.url("/busy")), real_client)
    assert caught.value.status == 503
    assert caught.value.retry_after is not None
    assert 3590 <= caught.value.retry_after <= 3600


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("120", 120.0, id="seconds"),
        pytest.param(" 30 ", 30.0, id="padded"),
        pytest.param("-5", None, id="negative"),
        pytest.param("1.5", None, id="fraction"),
        pytest.param("\u00b2", None, id="superscript-digit"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 60.0, id="imf-fixdate"),
        pytest.param("Wednesday, 21-Oct-15 07:28:00 GMT", 60.0, id="rfc850-date"),
        pytest.param("Wed Oct 21 07:28:00 2015", 60.0, id="asctime-date"),
        pytest.param("Wed, 21 Oct 2015 07:00:00 GMT", 0.0, id="past-clamped"),
        pytest.param("soon", None, id="garbage"),
        # RFC 9111 §1.2.2: delta-seconds past 2^31 are read as 2^31.
        pytest.param("2147483648", 2.0**31, id="at-the-limit"),
        pytest.param("99999999999999", 2.0**31, id="huge-seconds"),
        pytest.param("9" * 5000, 2.0**31, id="past-int-digits"),
        pytest.param("0000000000000060", 60.0, id="leading-zeros"),
        pytest.param("Fri, 31 Dec 9999 23:59:59 GMT", 2.0**31, id="year-9999"),
    ],
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 27, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected


def test_unexpected_status_is_fetch_error(router: respx.Router, client: FeedClient) -> None:
    router.get(URL).respond(300)
    with pytest.raises(errors.FetchError, match=r"unexpected HTTP 300 from https://feeds"):
        fetch(feed_config(), client)


@pytest.mark.parametrize(
    ("side_effect", "expected"),
    [
        pytest.param(httpx.ConnectTimeout, errors.FetchTimeout, id="connect-timeout"),
        pytest.param(httpx.ReadTimeout, errors.FetchTimeout, id="read-timeout"),
        pytest.param(httpx.ConnectError, errors.FetchConnectError, id="connect-error"),
        pytest.param(httpx.RemoteProtocolError, errors.FetchConnectError, id="remote-protocol"),
    ],
)
def test_transport_errors_are_translated(
    router: respx.Router,
    client: FeedClient,
    side_effect: type[Exception],
    expected: type[errors.FetchError],
) -> None:
    router.get(URL).mock(side_effect=side_effect)
    with pytest.raises(expected) as caught:
        fetch(feed_config(), client)
    assert URL in str(caught.value)
    assert str(caught.value).startswith("feed 'news': ")
    assert isinstance(caught.value.__cause__, side_effect)


def test_real_read_timeout(feed_server: FeedServer, real_client: FeedClient) -> None:
    feed_server.routes["/slow"] = Route(200, {}, FEED_XML, delay=5.0)
    with pytest.raises(errors.FetchTimeout, match=r"no answer within 0.2s \(ReadTimeout\)"):
        fetch(feed_config(feed_server.url("/slow"), timeout=0.2), real_client)


def test_connect_refused(real_client: FeedClient) -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed.xml"
    with pytest.raises(errors.FetchConnectError) as caught:
        fetch(feed_config(url), real_client)
    assert str(caught.value).startswith(f"feed 'news': cannot reach {url}: ")


def test_password_in_url_is_not_shown(real_client: FeedClient) -> None:
    url = f"http://reader:hunter2@127.0.0.1:{closed_port()}/feed.xml"
    with pytest.raises(errors.FetchConnectError) as caught:
        fetch(feed_config(url), real_client)
    assert "hunter2" not in str(caught.value)
    assert f"http://127.0.0.1:{url.rsplit(':', 1)[1]}" in str(caught.value)


def test_header_values_are_not_shown(feed_server: FeedServer, real_client: FeedClient) -> None:
    feed_server.routes["/feed.xml"] = (200, {}, FEED_XML)
    feed = feed_config(feed_server.url("/feed.xml"), headers=(("X-Api-Key", "s3cret\r\nX: y"),))
    with pytest.raises(errors.FetchError) as caught:
        fetch(feed, real_client)
    assert isinstance(caught.value.__cause__, httpx.LocalProtocolError)
    assert "s3cret" not in str(caught.value)
    assert feed_server.url("/feed.xml") in str(caught.value)


# --- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hops", "limit", "follows"),
    [
        pytest.param(0, 0, True, id="none-allowed-none-needed"),
        pytest.param(1, 0, False, id="none-allowed"),
        pytest.param(2, 2, True, id="at-limit"),
        pytest.param(3, 2, False, id="over-limit"),
    ],
)
def test_redirect_limit(
    router: respx.Router, client: FeedClient, hops: int, limit: int, follows: bool
) -> None:
    base = "https://feeds.example.org"
    for hop in range(hops):
        router.get(f"{base}/r{hop}").respond(302, headers={"Location": f"/r{hop + 1}"})
    router.get(f"{base}/r{hops}").respond(200, content=FEED_XML)
    feed = feed_config(f"{base}/r0", max_redirects=limit)
    if follows:
        result = fetch(feed, client)
        assert (result.url, result.body) == (f"{base}/r{hops}", FEED_XML)
    else:
        with pytest.raises(errors.TooManyRedirects, match=rf"more than {limit} redirects"):
            fetch(feed, client)


SECRETS = (("Authorization", "Bearer t"), ("Cookie", "sid=1"), ("X-Api-Key", "k"))


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        pytest.param("/next.xml", ["Bearer t", "sid=1", "k"], id="same-origin"),
        pytest.param("https://cdn.example.net/f.xml", [None, None, "k"], id="other-host"),
        pytest.param("https://feeds.example.org:8443/f.xml", [None, None, "k"], id="other-port"),
        pytest.param("https://feeds.example.org/f.xml", ["Bearer t", "sid=1", "k"], id="to-https"),
    ],
)
def test_a_redirect_keeps_credentials_only_for_their_origin(
    router: respx.Router, client: FeedClient, target: str, kept: list[str | None]
) -> None:
    start = "http://feeds.example.org/feed.xml"
    router.get(start).respond(301, headers={"Location": target})
    final = router.get(httpx.URL(start).join(target)).respond(200, content=FEED_XML)

    fetch(feed_config(start, headers=SECRETS), client, Validators(etag='"v"'))

    sent = final.calls.last.request.headers
    assert [sent.get(name) for name, _ in SECRETS] == kept
    assert sent["host"] == httpx.URL(start).join(target).netloc.decode()
    assert "if-none-match" not in sent  # the validator belongs to the URL that redirected


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_followed_unconditionally(
    feed_server: FeedServer, real_client: FeedClient, status: int
) -> None:
    # The validators were the feed URL's; sent to the new one they could get a 304 for a body
    # never read (RFC 9110 §15.4).
    feed_server.routes["/old"] = (status, {"Location": "/new"}, b"")
    feed_server.routes["/new"] = (200, {}, FEED_XML)
    previous = Validators(etag='"old"', last_modified="Mon, 02 Mar 2026 08:00:00 GMT")
    result = fetch(feed_config(feed_server.url("/old")), real_client, previous)
    assert (result.url, result.body) == (feed_server.url("/new"), FEED_XML)
    assert [r.path for r in feed_server.requests] == ["/old", "/new"]
    first, second = (r.headers for r in feed_server.requests)
    assert (first["if-none-match"], first["if-modified-since"]) == (
        previous.etag,
        previous.last_modified,
    )
    assert "if-none-match" not in second and "if-modified-since" not in second


def test_a_permanent_redirect_is_logged_once_with_the_new_url(
    feed_server: FeedServer, real_client: FeedClient, caplog: pytest.LogCaptureFixture
) -> None:
    feed_server.routes["/moved"] = (301, {"Location": "/here"}, b"")
    feed_server.routes["/for-now"] = (302, {"Location": "/here"}, b"")
    feed_server.routes["/here"] = (200, {}, FEED_XML)
    caplog.set_level(logging.WARNING, logger="poster.fetch.client")
    for _ in range(3):
        fetch(feed_config(feed_server.url("/moved")), real_client)
        fetch(feed_config(feed_server.url("/for-now")), real_client)
    lines = [r.getMessage() for r in caplog.records if r.name == "poster.fetch.client"]
    assert len(lines) == 1
    assert lines[0].startswith(
        f"event=feed-moved feed=news url={feed_server.url('/moved')} status=301"
        f" location={feed_server.url('/here')} hint="
    )
    assert "url in feeds.toml" in lines[0]


def test_a_304_to_a_request_without_validators_is_an_error_not_an_unchanged_feed(
    feed_server: FeedServer, real_client: FeedClient
) -> None:
    feed_server.routes["/feed.xml"] = (304, {}, b"")
    with pytest.raises(errors.FetchError, match="304 Not Modified to a request with no validators"):
        fetch(feed_config(feed_server.url("/feed.xml")), real_client)


def test_redirect_to_file_is_refused(feed_server: FeedServer, real_client: FeedClient) -> None:
    feed_server.routes["/feed.xml"] = (302, {"Location": "file:///etc/passwd"}, b"")
    with pytest.raises(
        errors.FetchError, match=r"cannot fetch file://127\.0\.0\.1/etc/passwd: .*unsupported"
    ):
        fetch(feed_config(feed_server.url("/feed.xml")), real_client)


@pytest.mark.parametrize(
    "location",
    ["http://xn--/feed", "http://XN--a.example/feed", "http://127.0.0.1:" + "9" * 40 + "/feed"],
    ids=["empty-a-label", "bad-a-label", "port-of-forty-digits"],
)
def test_a_redirect_to_a_url_no_request_can_go_to_is_a_fetch_error(
    feed_server: FeedServer, real_client: FeedClient, location: str
) -> None:
    feed_server.routes["/feed.xml"] = (302, {"Location": location}, b"")
    with pytest.raises(errors.FetchError, match="Invalid URL in location header"):
        fetch(feed_config(feed_server.url("/feed.xml")), real_client)


def test_a_feed_url_with_a_malformed_international_host_is_a_fetch_error(
    real_client: FeedClient,
) -> None:
    with pytest.raises(errors.FetchError, match=r"cannot reach http://xn--/feed"):
        fetch(feed_config("http://xn--/feed"), real_client)


# --- file:// -----------------------------------------------------------------------------------


def test_file_url_is_read_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "my feed.xml"
    path.write_bytes(FEED_XML)
    feed = feed_config(path.as_uri())
    with make_client(transport=httpx.MockTransport(respx.Router().handler)) as unused:
        first = fetch(feed, unused)
        again = fetch(feed, unused, first.validators)
    assert (first.status, first.body, first.url) == (200, FEED_XML, path.as_uri())
    assert first.validators == Validators(None, None, sha256(FEED_XML), source=url_mark(feed.url))
    assert (again.status, again.body, again.unchanged) == (200, None, True)


def test_file_url_size_cap(tmp_path: Path, client: FeedClient) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED_XML)
    with pytest.raises(errors.ResponseTooLarge, match=re.escape(f"{path} is larger than the 100")):
        fetch(feed_config(path.as_uri(), max_bytes=100), client)


@pytest.mark.parametrize("name", ["missing.xml", ".", "fifo"], ids=["missing", "directory", "fifo"])
def test_file_url_unreadable(tmp_path: Path, client: FeedClient, name: str) -> None:
    os.mkfifo(tmp_path / "fifo")
    path = (tmp_path / name).resolve()
    refused = finished(lambda: fetch(feed_config(path.as_uri()), client))
    assert type(refused) is errors.FetchError
    assert str(path) in str(refused)


# --- error mapping -----------------------------------------------------------------------------

REQUEST = httpx.Request("GET", URL)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectTimeout("t", request=REQUEST), errors.FetchTimeout),
        (httpx.ReadTimeout("t", request=REQUEST), errors.FetchTimeout),
        (httpx.WriteTimeout("t", request=REQUEST), errors.FetchTimeout),
        (httpx.PoolTimeout("t", request=REQUEST), errors.FetchTimeout),
        (httpx.ConnectError("refused", request=REQUEST), errors.FetchConnectError),
        (httpx.ReadError("reset", request=REQUEST), errors.FetchConnectError),
        (httpx.WriteError("broken pipe", request=REQUEST), errors.FetchConnectError),
        (httpx.CloseError("close", request=REQUEST), errors.FetchConnectError),
        (httpx.RemoteProtocolError("eof", request=REQUEST), errors.FetchConnectError),
        (httpx.ProxyError("proxy", request=REQUEST), errors.FetchConnectError),
        (httpx.LocalProtocolError("bad header", request=REQUEST), errors.FetchError),
        (httpx.UnsupportedProtocol("ftp", request=REQUEST), errors.FetchError),
        (httpx.DecodingError("bad gzip", request=REQUEST), errors.FetchError),
        (httpx.TooManyRedirects("loop", request=REQUEST), errors.TooManyRedirects),
        (
            httpx.HTTPStatusError(
                "418", request=REQUEST, response=httpx.Response(418, request=REQUEST)
            ),
            errors.HTTPStatusError,
        ),
        (httpx.InvalidURL("bad url"), errors.FetchError),
        (httpx.TransportError("other", request=REQUEST), errors.FetchError),
        (httpx.RequestError("other"), errors.FetchError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_translate_maps_each_httpx_error(exc: Exception, expected: type[errors.FetchError]) -> None:
    assert isinstance(exc, httpx.HTTPError | httpx.InvalidURL)
    translated = _translate(exc, feed_config())
    assert type(translated) is expected
    assert str(translated).startswith("feed 'news': ")
    assert URL in str(translated)


def test_translate_covers_every_httpx_error_class() -> None:
    families = [
        value
        for value in vars(httpx).values()
        if isinstance(value, type) and issubclass(value, httpx.HTTPError)
    ]
    assert len(families) >= 18
    for family in families:
        if family is httpx.HTTPStatusError:
            exc: httpx.HTTPError = family(
                "x", request=REQUEST, response=httpx.Response(500, request=REQUEST)
            )
        else:
            exc = family("x")
        assert isinstance(_translate(exc, feed_config()), errors.FetchError), family


def test_freshness_is_carried_on_a_200_and_on_a_304(
    feed_server: FeedServer, real_client: FeedClient
) -> None:
    headers = {"Content-Type": "application/rss+xml", "Cache-Control": "max-age=1800"}
    feed_server.routes["/feed.xml"] = (200, headers, FEED_XML)
    feed = feed_config(feed_server.url("/feed.xml"))
    first = fetch(feed, real_client)
    assert first.freshness == Freshness(1800, "Cache-Control max-age=1800")
    # A 304 refreshes what the stored response said (RFC 9111 §4.3.4), freshness included.
    answer = {"ETag": first.validators.etag or "", "Cache-Control": "public, max-age=600"}
    feed_server.routes["/feed.xml"] = Route(304, answer, b"", validators=False)
    second = fetch(feed, real_client, first.validators)
    assert (second.status, second.freshness) == (304, Freshness(600, "Cache-Control max-age=600"))
    feed_server.routes["/feed.xml"] = Route(
        304, {"Cache-Control": "no-cache"}, b"", validators=False
    )
    assert fetch(feed, real_client, first.validators).freshness is None


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            [("Cache-Control", "max-age=600"), ("Cache-Control", "public")],
            Freshness(600, "Cache-Control max-age=600"),
        ),
        ([("Cache-Control", "max-age=600"), ("Cache-Control", "no-cache")], None),
        (
            [
                ("Expires", "Mon, 02 Mar 2026 09:00:00 GMT"),
                ("Expires", "Mon, 02 Mar 2026 08:00:00 GMT"),
                ("Date", "Mon, 02 Mar 2026 08:00:00 GMT"),
            ],
            Freshness(3600, "Expires Mon, 02 Mar 2026 09:00:00 GMT"),
        ),
    ],
    ids=["max-age-then-public", "no-cache-on-a-second-line", "first-expires"],
)
def test_repeated_field_lines_are_read_as_one_list(
    router: respx.Router, client: FeedClient, lines: list[tuple[str, str]], expected: object
) -> None:
    # RFC 9110 §5.3: a list field's lines are one comma-separated list; RFC 9111 §4.2.1: of
    # two Expires lines the first counts.
    router.get(URL).respond(200, headers=lines, content=FEED_XML)
    assert fetch(feed_config(), client).freshness == expected


# --- credentials in the URL --------------------------------------------------------------------

USER, PASSWORD = "feed reader", "s3cr€t:pw"
"""A user with a space and a password with a colon and a non-ASCII letter, as RFC 7617 allows."""
USERINFO = "feed%20reader:s3cr%E2%82%ACt%3Apw"


def with_userinfo(url: str) -> str:
    """Return ``url`` with the test's user and password in it."""
    return url.replace("://", f"://{USERINFO}@", 1)


def test_user_info_is_sent_as_basic_auth_and_kept_out_of_the_url(
    feed_server: FeedServer, real_client: FeedClient
) -> None:
    feed_server.routes["/feed.xml"] = Route(200, {}, FEED_XML, basic=(USER, PASSWORD))
    result = fetch(feed_config(with_userinfo(feed_server.url("/feed.xml"))), real_client)
    assert result.status == 200 and result.body == FEED_XML
    # The URL relative links resolve against carries no password.
    assert result.url == feed_server.url("/feed.xml")
    [request] = feed_server.requests
    assert request.headers["authorization"].startswith("Basic ")


def test_user_info_follows_a_redirect_on_the_same_origin_only_as_basic_auth(
    feed_server: FeedServer, real_client: FeedClient
) -> None:
    feed_server.routes["/old.xml"] = (301, {"Location": "/feed.xml"}, b"")
    feed_server.routes["/feed.xml"] = Route(200, {}, FEED_XML, basic=(USER, PASSWORD))
    result = fetch(feed_config(with_userinfo(feed_server.url("/old.xml"))), real_client)
    assert (result.status, result.url) == (200, feed_server.url("/feed.xml"))


def test_a_feed_header_authorization_wins_over_user_info(
    feed_server: FeedServer, real_client: FeedClient
) -> None:
    feed_server.routes["/feed.xml"] = Route(200, {}, FEED_XML, basic=(USER, PASSWORD))
    feed = feed_config(
        with_userinfo(feed_server.url("/feed.xml")), headers=(("Authorization", "Bearer t0k"),)
    )
    with pytest.raises(errors.HTTPStatusError) as caught:
        fetch(feed, real_client)
    assert caught.value.status == 401
    assert feed_server.requests[0].headers["authorization"] == "Bearer t0k"


def test_wrong_credentials_are_an_error_that_never_shows_them(
    feed_server: FeedServer, real_client: FeedClient
) -> None:
    feed_server.routes["/feed.xml"] = Route(200, {}, FEED_XML, basic=(USER, "another"))
    with pytest.raises(errors.HTTPStatusError) as caught:
        fetch(feed_config(with_userinfo(feed_server.url("/feed.xml"))), real_client)
    assert str(caught.value) == f"feed 'news': HTTP 401 from {feed_server.url('/feed.xml')}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://example.org/feed#access_token=abc123def", "https://example.org/feed#access_token=***"),
        ("https://example.org/feed?page=2#key=abc123def&x=1", "https://example.org/feed?page=2#key=***&x=1"),
        ("https://example.org/feed?q=a=b#top", "https://example.org/feed?q=a=b#top"),
        ("https://example.org/a=b/feed", "https://example.org/a=b/feed"),
    ],
    ids=["fragment", "query-and-fragment", "equals-in-value", "equals-in-path"],
)  # fmt: skip
def test_secret_fragment_values_are_not_shown_either(url: str, shown: str) -> None:
    assert display(url) == shown


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("token=abc123def&page=2", "token=***&page=2"),
        ("page=2&API_KEY=abc123def", "page=2&API_KEY=***"),
        ("access_token=abc123def;sig=abc123def", "access_token=***;sig=***"),
        ("x-auth-token=abc123def&monkey=3", "x-auth-token=***&monkey=3"),
        ("%70assword=abc123def", "%70assword=***"),
        ("page=2&key=", "page=2&key="),
    ],
    ids=["token", "api-key-any-case", "semicolons", "dashed-words", "encoded-name", "empty"],
)
def test_secret_query_values_are_not_shown_in_errors(
    feed_server: FeedServer, real_client: FeedClient, query: str, shown: str
) -> None:
    feed_server.routes[f"/feed.xml?{query}"] = (500, {}, b"broken\n")
    with pytest.raises(errors.HTTPStatusError) as caught:
        fetch(feed_config(feed_server.url(f"/feed.xml?{query}#top")), real_client)
    assert (
        str(caught.value)
        == f"feed 'news': HTTP 500 from {feed_server.url('/feed.xml')}?{shown}#top"
    )


@pytest.mark.parametrize(
    ("proxy", "reason"),
    [
        (
            "socks5h://127.0.0.1:1080",
            "Using SOCKS proxy, but the 'socksio' package is not installed. Make sure to "
            "install httpx using `pip install httpx[socks]`",
        ),
        (
            "ftp://user:hunter2@proxy.example",
            "Unknown scheme for proxy URL URL('ftp://***@proxy.example')",
        ),
        ("http://[::1", "Invalid port: ':1'"),
    ],
    ids=["socks-without-socksio", "unknown-scheme", "bad-url"],
)  # fmt: skip
def test_a_proxy_httpx_cannot_use_is_one_line_without_its_password(
    monkeypatch: pytest.MonkeyPatch, proxy: str, reason: str
) -> None:
    for name in ("ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    with pytest.raises(HostError) as caught:
        env_client()
    assert str(caught.value) == (
        "the proxy set in $HTTP_PROXY or $HTTPS_PROXY or $ALL_PROXY (or their lower-case forms) "
        f"cannot be used: {reason}; correct it, or unset it to connect directly"
    )
    assert "hunter2" not in str(caught.value)
    with pytest.raises(HostError):
        make_client()
