"""Hold a body as it arrives: in memory while it is small, in a temporary file once it is not.

A fetch that ends at its byte cap (a compression bomb, a body that never ends) throws away all it
held, and four fetches at a 10 MB cap at once would hold 40 MB of a daemon's memory for nothing.
Past ``SPILL_AFTER`` bytes a body goes to an unnamed temporary file (in ``TMPDIR``, gone when
closed even if the process dies) and comes back into memory, once, only when it is complete.
A body under that size, as nearly every feed is, never touches the disk.
"""

from __future__ import annotations

import io
import tempfile
from typing import IO

SPILL_AFTER = 1 << 20
"""Bytes of a body held in memory before the rest goes to a temporary file."""


class SpillFailed(Exception):
    """The temporary file could not be made, written or read back; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Spool:
    """Collect a body's pieces, spilling them to a temporary file past ``spill_after`` bytes."""

    def __init__(self, spill_after: int = SPILL_AFTER) -> None:
        self.size = 0
        self._spill_after = spill_after
        # BytesIO hands its buffer over as the result: a bytearray would be copied.
        self._memory = io.BytesIO()
        self._file: IO[bytes] | None = None

    @property
    def spilled(self) -> bool:
        """Tell whether the body went to a temporary file."""
        return self._file is not None

    def write(self, data: bytes) -> None:
        """Add ``data`` to the body; raise SpillFailed when the temporary file cannot take it."""
        self.size += len(data)
        if self._file is None and self.size <= self._spill_after:
            self._memory.write(data)
            return
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
                self._file.write(self._memory.getbuffer())
                self._memory = io.BytesIO()
            self._file.write(data)
        except OSError as exc:
            raise SpillFailed(_reason(exc)) from exc

    def getvalue(self) -> bytes:
        """Return the whole body, read back from the temporary file if it went there."""
        if self._file is None:
            return self._memory.getvalue()
        try:
            self._file.seek(0)
            return self._file.read()
        except OSError as exc:
            raise SpillFailed(_reason(exc)) from exc

    def close(self) -> None:
        """Free what the body holds, in memory and on disk."""
        self._memory.close()
        if self._file is not None:
            self._file.close()
            self._file = None


def _reason(exc: OSError) -> str:
    """Say what went wrong with the temporary file and where it was."""
    folder = tempfile.gettempdir()
    return f"cannot keep the body in a temporary file in {folder}: {exc.strerror or exc}"
