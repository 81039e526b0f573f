"""Check that a large buffer freed in a fetch thread leaves the process's resident memory."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Run in a process of its own: the setting lasts for the life of the process.
PROGRAM = """
import sys, threading
from poster.daemon.malloc import return_large_buffers

def resident():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

def read_body(size):
    body = bytearray(size)
    body[::4096] = b"x" * len(body[::4096])  # touch every page
    del body

if sys.argv[1] == "tuned":
    assert return_large_buffers()
read_body(30 * 1024 * 1024)  # freeing it raises glibc's own threshold past the next body
before = resident()
reader = threading.Thread(target=read_body, args=(10 * 1024 * 1024,))
reader.start()
reader.join()
print(resident() - before)
"""


def grown_by(mode: str) -> int:
    """Return the bytes of resident memory a freed body left behind in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_freed_large_body_goes_back_to_the_system() -> None:
    # Untuned, glibc keeps the thread's 10 MiB; tuned, it unmaps it on free.
    assert (grown_by("plain") > 8 * 1024 * 1024, grown_by("tuned") < 1024 * 1024) == (True, True)


TRIM = """
import threading
from poster.daemon.malloc import release_free_memory

def resident():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

kept = []

def read_feeds():
    chunks = [bytearray(2000) for _ in range(30_000)]  # 60 MB of chunks below the threshold
    kept.extend(chunks[::40])  # what stays between the freed ones pins the arena's top

reader = threading.Thread(target=read_feeds)
reader.start()
reader.join()
before = resident()
assert release_free_memory()
print(before - resident())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_free_pages_between_live_chunks_go_back_to_the_system() -> None:
    done = subprocess.run([sys.executable, "-c", TRIM], capture_output=True, text=True, check=True)
    assert int(done.stdout) > 30 * 1024 * 1024
