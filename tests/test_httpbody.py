"""Check how callback bodies are read: sized or chunked, capped, drained, or refused."""

from __future__ import annotations

import io

import pytest

from poster.daemon.httpbody import DRAIN, Body, overhead, read_chunked, read_sized


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", Body(b"hello world")),
        (b"5;name=value\r\nhello\r\n0\r\nExpires: never\r\n\r\n", Body(b"hello")),
        (b"A \r\n0123456789\r\n0\r\n\r\n", Body(b"0123456789")),
        (b"0\r\n\r\n", Body(b"")),
        (b"8\r\n01234567\r\n9\r\n890123456\r\n0\r\n\r\n", Body(b"", too_large=True)),
        (b"0x5\r\nhello\r\n0\r\n\r\n", None),
        (b"-5\r\nhello\r\n0\r\n\r\n", None),
        (b"5\r\nhelloX\r\n0\r\n\r\n", None),
        (b"5\r\nhel", None),
        (b"5\nhello\r\n0\r\n\r\n", None),
        (b"5\r\nhello\r\n0\r\n", None),
    ],
    ids=[
        "two-chunks", "extension-and-trailer", "hex-and-space", "empty", "over-the-cap",
        "0x", "negative", "no-crlf-after-data", "cut-short", "bare-lf", "no-last-crlf",
    ],
)  # fmt: skip
def test_a_chunked_body_is_read_to_the_cap_or_refused(wire: bytes, expected: Body | None) -> None:
    assert read_chunked(io.BytesIO(wire), 16) == expected


def test_a_chunked_body_far_over_the_cap_is_not_read_on() -> None:
    wire = io.BytesIO(b"%x\r\n" % (DRAIN + 11) + b"x" * 100)
    assert read_chunked(wire, 10) == Body(b"", too_large=True, whole=False)
    assert wire.tell() < 20


def test_a_sized_body_over_the_cap_is_drained_up_to_a_bound() -> None:
    wire = io.BytesIO(b"x" * 100 + b"NEXT")
    assert read_sized(wire, 100, 10) == Body(b"", too_large=True)
    assert wire.read() == b"NEXT"
    assert read_sized(io.BytesIO(b"x"), DRAIN + 11, 10) == Body(b"", True, whole=False)
    assert read_sized(io.BytesIO(b"x" * 20), 20, 10, drain_to=15) == Body(b"", True, False)


def test_a_body_sent_a_byte_a_chunk_is_read_within_its_framing_bound_and_no_further() -> None:
    limit = 1024 * 1024
    within = overhead(limit) // 6  # "1\r\n" and "\r\n" frame each byte
    body = b"1\r\na\r\n" * within + b"0\r\n\r\n"
    assert read_chunked(io.BytesIO(body), limit) == Body(b"a" * within)
    endless = io.BytesIO(b"1\r\na\r\n" * (10 * within) + b"0\r\n\r\n")
    assert read_chunked(endless, limit) == Body(b"", too_large=True, whole=False)
    assert endless.tell() <= overhead(limit) + 6 + overhead(limit) // 3


def test_chunks_of_a_hundred_bytes_fill_the_whole_cap() -> None:
    limit = 64 * 1024
    chunks = b"64\r\n" + b"x" * 100 + b"\r\n"
    body = chunks * (limit // 100) + b"0\r\n\r\n"
    assert read_chunked(io.BytesIO(body), limit) == Body(b"x" * 100 * (limit // 100))
