"""Offer an item again after a crash only where the destination records each recipient itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from poster.app import build
from poster.config import load_config
from poster.destinations.gateway.destination import close_ledgers
from poster.pipeline.runner import resume_interrupted
from poster.store import RELEASED, Store
from poster.store.ledger import UNCERTAIN


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SUBS", "NEWS"):
        monkeypatch.setenv(f"POSTER_{name}_TOKEN", f"{name.lower()}-key-never-used-1234")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    (tmp_path / "subscribers.txt").write_text("+375291234567\n")
    path = tmp_path / "feeds.toml"
    path.write_text(
        'templates = "templates"\n'
        '[destinations.subs]\nkind = "decisiontelecom"\napi_url = "http://127.0.0.1:9"\n'
        'source_addr = "Poster"\nrecipients = "subscribers.txt"\n'
        '[destinations.news]\nkind = "viber"\napi_url = "http://127.0.0.1:9"\nfrom = "admin="\n'
        '[destinations.archive]\nkind = "recording"\n'
        '[[feeds]]\nname = "city"\nurl = "http://127.0.0.1:9/feed"\n'
        'to = ["subs", "news", "archive"]\n',
        encoding="utf-8",
    )
    return path


def test_only_a_gateways_interrupted_item_is_offered_again(config: Path) -> None:
    state = config.parent / "state"
    with Store(state) as store:
        for name in ("subs", "news", "archive"):
            store.record_pending("city", "a", name)
    # Reopening finds the three pending: the process stopped mid-send.
    with build(load_config(config), state) as app:
        assert resume_interrupted(app.store, app.destinations) == 1
        states = {r.destination: r.state for r in app.store.deliveries(feed="city")}
    close_ledgers()
    assert states == {"subs": RELEASED, "news": UNCERTAIN, "archive": UNCERTAIN}
