"""Prove a state folder written by the single-channel release keeps working: nothing reposts.

``tests/data/upgrade/state`` was written by ``poster run --once`` of the release before
destinations were named, posting news.xml and blog.atom to a sandbox channel.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from poster.app import build
from poster.cli import EXIT_OK, main
from poster.config import Config, DestinationConfig, ViberConfig
from poster.destinations.viber.api import ViberChannel
from poster.destinations.viber.kind import channel, remembered_sender
from poster.destinations.viber.sandbox import Sandbox
from poster.destinations.viber.token import token_mark
from poster.errors import PosterError
from poster.store import Store
from poster.store.ledger import sender_key, sender_token_key

DATA = Path(__file__).parent / "data" / "upgrade"
OLD_API = "http://127.0.0.1:38767/pa"
"""The sandbox address the old release remembered its sender under."""


@pytest.fixture
def channel_token() -> str:
    return "upgrade-token-0123456789"


def project(root: Path, api_url: str, section: str = "[viber]") -> Path:
    """Copy the old state, feeds and templates under ``root``; return its feeds.toml."""
    for part in ("state", "feeds", "templates"):
        shutil.copytree(DATA / part, root / part)
    config = root / "feeds.toml"
    config.write_text(
        f'templates = "templates"\n\n{section}\napi_url = "{api_url}"\nmin_gap = "0s"\n\n'
        '[[feeds]]\nname = "news"\nurl = "feeds/news.xml"\nbacklog = "all"\n\n'
        '[[feeds]]\nname = "blog"\nurl = "feeds/blog.atom"\nbacklog = 1\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize(
    "section",
    [
        pytest.param("[viber]", id="shorthand"),
        pytest.param('[destinations.viber]\nkind = "viber"', id="destinations-section"),
    ],
)
def test_old_state_posts_only_what_is_new(
    section: str,
    tmp_path: Path,
    sandbox: Sandbox,
    set_webhook: Callable[[], None],
    channel_token: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_webhook()
    monkeypatch.setenv("POSTER_VIBER_TOKEN", channel_token)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    config = project(tmp_path, sandbox.api_url, section)
    # A new item makes the feed parse again, so every old item meets the ledger once more.
    shutil.copy(DATA / "news-updated.xml", tmp_path / "feeds" / "news.xml")
    state = str(tmp_path / "state")
    assert main(["-c", str(config), "run", "--once", "--state-dir", state]) == EXIT_OK
    assert [post["text"] for post in sandbox.posts] == ["Tram depot opens"]
    capsys.readouterr()


def test_the_shorthand_channel_keeps_the_sender_remembered_per_api_url(tmp_path: Path) -> None:
    project(tmp_path, OLD_API)
    with Store(tmp_path / "state") as store:
        assert remembered_sender(store, "viber", OLD_API) == "sandbox-superadmin="
        # Another destination on the same API is another channel: it looks its sender up.
        assert remembered_sender(store, "news", OLD_API) is None


def test_a_looked_up_sender_is_remembered_per_destination(
    tmp_path: Path, sandbox: Sandbox, channel_token: str
) -> None:
    viber = ViberConfig(api_url=sandbox.api_url)
    config = Config(tmp_path / "feeds.toml", tmp_path, viber)
    news = DestinationConfig("news", "viber", settings=viber)
    with build(config, tmp_path / "state", specs=[news], tokens={"news": channel_token}) as app:
        channel = app.destinations["news"]
        assert isinstance(channel, ViberChannel)
        assert channel.resolve_sender() == "sandbox-superadmin="
    with Store(tmp_path / "state") as store:
        assert store.get_meta(sender_key("news")) == "sandbox-superadmin="
        assert store.get_meta(sender_key("viber")) is None


def test_a_sender_remembered_before_tokens_were_told_apart_is_kept_for_the_token_in_use(
    tmp_path: Path, channel_token: str
) -> None:
    project(tmp_path, OLD_API)
    spec = DestinationConfig("viber", "viber", settings=ViberConfig(api_url=OLD_API))
    # Nothing answers at OLD_API: a sender that is not recalled fails to resolve.
    with Store(tmp_path / "state") as store, httpx.Client() as client:
        assert store.get_meta(sender_token_key("viber")) is None
        viber = channel(spec, "feeds.toml", client, store, token=channel_token)
        assert viber.resolve_sender() == "sandbox-superadmin="
        assert store.get_meta(sender_token_key("viber")) == token_mark(channel_token)
        again = channel(spec, "feeds.toml", client, store, token=channel_token)
        assert again.resolve_sender() == "sandbox-superadmin="
        other = channel(spec, "feeds.toml", client, store, token="another-token-0123456789")
        with pytest.raises(PosterError, match="get_account_info"):
            other.resolve_sender()  # another token asks the channel again
