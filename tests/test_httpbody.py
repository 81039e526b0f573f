"""Check how callback bodies are read: sized or chunked, capped, drained, or refused."""

from __future__ import annotations

import io

import pytest

from poster.daemon.httpbody import DRAIN, Body, read_chunked, read_sized


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
