"""Count what the daemon does and show it in the Prometheus text format (version 0.0.4)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]

_HELP = {
    "poster_fetches_total": ("counter", "Feed fetches by result (ok, not_modified, error)."),
    "poster_reads_put_off_total": ("counter", "Scheduled reads put off by a publisher's hint."),
    "poster_posts_total": ("counter", "Posts by outcome (sent, failed, uncertain, deferred)."),
    "poster_queue_length": ("gauge", "Items waiting to be posted."),
    "poster_channel_fatal": ("gauge", "1 while the channel refuses every post."),
    "poster_feed_failures": ("gauge", "Consecutive failures of each feed."),
    "poster_feeds_disabled": ("gauge", "Feeds disabled after repeated failures or by hand."),
    "poster_gateway_recipients": (
        "gauge",
        "Recipients of each recent item at a gateway by state (accepted, delivered, read, ...).",
    ),
    "poster_gateway_opted_out": ("gauge", "Numbers a gateway reported as opted out."),
}


class Metrics:
    """Keep counters and gauges, safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[Labels, float]] = {name: {} for name in _HELP}
        self._gauges: dict[str, Callable[[], float]] = {}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to a counter."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._values[name]
            series[key] = series.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge."""
        with self._lock:
            self._values[name][tuple(sorted(labels.items()))] = value

    def replace_all(self, name: str, samples: Iterable[tuple[Mapping[str, str], float]]) -> None:
        """Replace every series of gauge ``name`` with ``samples``, dropping the ones left out."""
        series = {tuple(sorted(labels.items())): value for labels, value in samples}
        with self._lock:
            self._values[name] = series

    def gauge_from(self, name: str, read: Callable[[], float]) -> None:
        """Read an unlabelled gauge from ``read`` each time metrics are shown."""
        self._gauges[name] = read

    def get(self, name: str, **labels: str) -> float:
        """Return one series' current value (0 when never set)."""
        if name in self._gauges:
            return self._gauges[name]()
        with self._lock:
            return self._values[name].get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> str:
        """Return every metric in the Prometheus text exposition format."""
        lines: list[str] = []
        for name, (kind, text) in _HELP.items():
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            if name in self._gauges:
                lines.append(f"{name} {_number(self._gauges[name]())}")
                continue
            with self._lock:
                series = sorted(self._values[name].items())
            lines += [f"{name}{_labels(labels)} {_number(value)}" for labels, value in series]
        return "\n".join(lines) + "\n"


def _labels(labels: Labels) -> str:
    """Format label pairs, escaping as the exposition format requires."""
    if not labels:
        return ""
    escaped = (
        (k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")) for k, v in labels
    )
    return "{" + ",".join(f'{k}="{v}"' for k, v in escaped) + "}"


def _number(value: float) -> str:
    """Format a sample value: integers without a fraction."""
    return str(int(value)) if value == int(value) else repr(value)
