"""Read files a person names without blocking on a FIFO or reading a device without end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.blocking import finished

from poster.localfiles import NotAFileError, read_capped


def test_a_file_is_read_up_to_one_byte_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "numbers.txt"
    path.write_bytes(b"x" * 100)
    assert read_capped(path, 100) == b"x" * 100
    assert read_capped(path, 10) == b"x" * 11


def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    refused = finished(lambda: read_capped(fifo, 1024))
    assert isinstance(refused, NotAFileError)
    assert str(refused) == f"[Errno 22] not a regular file: '{fifo}'"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused_without_reading_it(device: str) -> None:
    refused = finished(lambda: read_capped(Path(device), 1 << 30))
    assert isinstance(refused, NotAFileError)


def test_a_folder_is_refused_and_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotAFileError):
        read_capped(tmp_path, 10)
    with pytest.raises(FileNotFoundError):
        read_capped(tmp_path / "absent", 10)
