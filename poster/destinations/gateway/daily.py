"""Count what a gateway destination sent today, so ``max_per_day`` holds the rest back."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from poster.errors import StateError
from poster.recipients.daycap import DailyCap


@dataclass
class DayCounter:
    """Messages sent on the destination's current day, kept in a small file across restarts."""

    cap: DailyCap
    path: Path

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def take(self, wanted: int, moment: datetime) -> int:
        """Return how many of ``wanted`` may go at ``moment``, counting them as sent today."""
        day = self.cap.day_of(moment).isoformat()
        with self._lock:
            sent = self._read(day)
            allowed = self.cap.allow(wanted, sent, moment).now
            if allowed:
                self._write(day, sent + allowed)
        return allowed

    def sent_on(self, moment: datetime) -> int:
        """Return how many went on ``moment``'s day, as the count file says."""
        return self._read(self.cap.day_of(moment).isoformat())

    def resume_at(self, moment: datetime) -> datetime:
        """Return when the destination's next day starts."""
        return self.cap.next_day(moment)

    def _read(self, day: str) -> int:
        """Return today's count; a count of another day is zero."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            raise StateError(self.path, f"cannot read the day's count ({exc}); delete it") from exc
        sent = data.get("sent") if isinstance(data, dict) and data.get("day") == day else 0
        return sent if isinstance(sent, int) else 0

    def _write(self, day: str, sent: int) -> None:
        """Replace the count atomically."""
        temp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps({"day": day, "sent": sent}), encoding="utf-8")
            os.replace(temp, self.path)
        except OSError as exc:
            raise StateError(self.path, f"cannot write the day's count: {exc.strerror}") from exc
