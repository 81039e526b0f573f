"""Have glibc hand large buffers back to the system as soon as they are freed, and free pages.

glibc serves an allocation over its mmap threshold (128 KiB) from a mapping of its own, unmapped
on free; but each time such a buffer is freed it raises the threshold to that buffer's size, up
to 32 MiB. After the first 10 MB body, later bodies come from the heap of whichever thread read
them, and each of the ``max_fetches`` threads keeps its own arena at its own high-water mark.
A fixed threshold keeps every body, document and tree buffer in a mapping that goes when it does.
"""

from __future__ import annotations

import ctypes

MMAP_THRESHOLD = 256 * 1024
"""Bytes from which an allocation gets a mapping of its own."""
_M_MMAP_THRESHOLD = -3  # from glibc's <malloc.h>


def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD``; tell whether the C library took it."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl, macOS): their allocators do not move the threshold
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def release_free_memory() -> bool:
    """Hand every malloc arena's free pages back to the system; tell whether any went.

    Each fetch thread allocates from an arena of its own, and glibc gives an arena's pages back
    only from its top: the free pages between live chunks stay resident until ``malloc_trim``.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False  # not glibc
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))
