"""Test that a large body waits in a temporary file, not in memory, until it is complete.

A fetch that ends at its cap must have held no more than ``SPILL_AFTER`` bytes of the body in
memory, whatever the encoding; one that completes gets its body back once, intact. Memory is
counted with tracemalloc, which sees every buffer of the interpreter and zlib but not the
kernel's page cache where the temporary file lives.
"""

from __future__ import annotations

import functools
import os
import tempfile
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import TypeVar

import pytest
from feedserver import FeedServer, Route

from poster import errors
from poster.config import FeedConfig
from poster.fetch.client import FeedClient
from poster.fetch.feed import fetch, make_client
from poster.fetch.spool import SPILL_AFTER, SpillFailed, Spool

CAP = 8 * SPILL_AFTER
RSS = "application/rss+xml"
WORKING = 256 * 1024
"""Buffers besides the body: the 64 KiB read from the socket, zlib's window, a few pieces."""
T = TypeVar("T")


@pytest.fixture
def client() -> Iterator[FeedClient]:
    """Yield a client with the real transport."""
    with make_client() as http:
        yield http


@pytest.fixture
def temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``tmp_path`` the folder temporary files go to."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def peak_of(action: Callable[[], T]) -> tuple[T | BaseException, int]:
    """Run ``action``; return what it returned or raised and the peak of traced memory."""
    tracemalloc.start()
    try:
        try:
            outcome: T | BaseException = action()
        except errors.FetchError as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@functools.cache
def gzip_of_zeros(size: int) -> bytes:
    """Return ``size`` zero bytes compressed with gzip."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join([*(packer.compress(block) for _ in range(size >> 20)), packer.flush()])


@pytest.mark.parametrize(
    ("headers", "body", "chunked"),
    [
        pytest.param(
            {"Content-Encoding": "gzip"}, lambda: gzip_of_zeros(64 << 20), False, id="gzip-bomb"
        ),
        pytest.param({}, lambda: b"<rss>".ljust(CAP * 2, b" "), True, id="endless-body"),
    ],
)
def test_a_body_refused_at_the_cap_held_little_memory(
    feed_server: FeedServer,
    client: FeedClient,
    temp_folder: Path,
    headers: dict[str, str],
    body: Callable[[], bytes],
    chunked: bool,
) -> None:
    # Bodies are made when the test runs, not in every process that collects it.
    route = Route(200, {"Content-Type": RSS, **headers}, body(), chunked=chunked)
    feed_server.routes["/big"] = route
    feed = FeedConfig(name="big", url=feed_server.url("/big"), max_bytes=CAP)
    outcome, peak = peak_of(lambda: fetch(feed, client))
    assert isinstance(outcome, errors.ResponseTooLarge)
    assert f"larger than the {CAP} byte cap (max_bytes)" in str(outcome)
    # Held in memory, the body alone would have been the cap (8 MiB).
    assert peak < SPILL_AFTER * 9 // 8 + WORKING
    assert os.listdir(temp_folder) == []


def test_a_large_body_within_the_cap_comes_back_whole_and_once(
    feed_server: FeedServer, client: FeedClient, temp_folder: Path
) -> None:
    body = b"<rss>" + bytes(range(256)) * (CAP // 512) + b"</rss>"
    feed_server.routes["/big"] = Route(200, {"Content-Type": RSS}, body, chunked=True)
    feed = FeedConfig(name="big", url=feed_server.url("/big"), max_bytes=CAP)
    result, peak = peak_of(lambda: fetch(feed, client))
    assert not isinstance(result, BaseException)
    assert result.body == body
    assert peak < len(body) + SPILL_AFTER * 9 // 8 + WORKING
    assert os.listdir(temp_folder) == []


def test_a_temporary_folder_that_cannot_be_written_is_one_clear_error(
    feed_server: FeedServer, client: FeedClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "missing"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))
    feed_server.routes["/big"] = Route(200, {"Content-Type": RSS}, b" " * (SPILL_AFTER + 1))
    feed = FeedConfig(name="big", url=feed_server.url("/big"), max_bytes=CAP)
    with pytest.raises(errors.FetchError) as caught:
        fetch(feed, client)
    assert str(caught.value) == (
        f"feed 'big': {feed.url}: cannot keep the body in a temporary file in {missing}: "
        "No such file or directory; free some space there or set TMPDIR to another folder"
    )


def test_a_small_body_stays_in_memory(temp_folder: Path) -> None:
    with closing(Spool(spill_after=10)) as spool:
        spool.write(b"0123456789")
        assert not spool.spilled
        assert spool.getvalue() == b"0123456789"


def test_a_body_past_the_spill_size_goes_to_a_file_and_comes_back(temp_folder: Path) -> None:
    with closing(Spool(spill_after=10)) as spool:
        for piece in (b"01234", b"56789", b"a", b"bcdef"):
            spool.write(piece)
        assert (spool.spilled, spool.size) == (True, 16)
        assert spool.getvalue() == b"0123456789abcdef"
        spool.write(b"g")
        assert spool.getvalue() == b"0123456789abcdefg"
    assert not spool.spilled


def test_a_failed_write_to_the_file_is_a_spill_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with closing(Spool(spill_after=1)) as spool:
        spool.write(b"a")
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
        with pytest.raises(SpillFailed, match="No such file or directory"):
            spool.write(b"b")
