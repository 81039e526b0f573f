from __future__ import annotations

import pytest

from poster.daemon.health import health_page


@pytest.mark.parametrize(
    ("running", "fatal", "status", "text"),
    [
        pytest.param(True, None, 200, "ok\ndestination news: ok", id="healthy"),
        pytest.param(False, None, 503, "stopped", id="thread-or-scheduler-down"),
        pytest.param(
            True,
            "status 2 invalidAuthToken",
            503,
            "refusing posts: news\ndestination news: status 2 invalidAuthToken\n"
            "destination sports: ok",
            id="fatal",
        ),
    ],
)
def test_health_page(running: bool, fatal: str | None, status: int, text: str) -> None:
    code, kind, body = health_page(running, {"news": fatal, "sports": None})
    assert (code, kind) == (status, "text/plain; charset=utf-8")
    assert text in body.decode()
