"""Drive ``poster account`` against a sandbox channel and the three gateway fakes, over HTTP."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.daemon import free_port
from support.decisiontelecom import Clock, fake_gateway

from poster.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, main
from poster.destinations.inteltele.fake import FakeInteltele
from poster.destinations.inteltele.fakestate import Account
from poster.destinations.smsby.fake import DEFAULT_TOKEN as SMSBY_TOKEN
from poster.destinations.smsby.fake import SmsByFake
from poster.destinations.viber.sandbox import Sandbox

CHANNEL_TOKEN = "account-channel-token-5151"
DT_KEY = "dt-account-key-never-shown-5252"
TOKENS = {
    "news": CHANNEL_TOKEN,
    "dt": DT_KEY,
    "it": Account().api_key,
    "sb": SMSBY_TOKEN,
}
WRONG = "wrong-key-never-shown-5353"


@dataclass(frozen=True)
class Shown:
    """What one ``poster account`` printed, and its exit code."""

    code: int
    out: str
    err: str

    def blocks(self) -> dict[str, list[str]]:
        """Return each block's lines under its header's destination name."""
        found = {}
        for block in self.out.split("\n\n"):
            header, *lines = block.splitlines()
            found[header.split()[0]] = [header, *lines]
        return found


@pytest.fixture
def channel_token() -> str:
    return CHANNEL_TOKEN


@pytest.fixture
def fakes() -> Iterator[tuple[str, str, FakeInteltele]]:
    """Run the three gateway fakes; yield their base URLs and the Intel Tele one."""
    with fake_gateway(DT_KEY, Clock()) as dt, FakeInteltele() as it, SmsByFake() as sb:
        it.account.balance, it.account.credit = Decimal("12.5"), Decimal("3")
        yield dt.base_url, sb.base_url, it


@pytest.fixture
def config(
    tmp_path: Path,
    sandbox: Sandbox,
    fakes: tuple[str, str, FakeInteltele],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """Write a feeds.toml with a channel, the three gateways and a recording destination."""
    dt_url, sb_url, it = fakes
    for name, token in TOKENS.items():
        monkeypatch.setenv(f"POSTER_{name.upper()}_TOKEN", token)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    (tmp_path / "subscribers.txt").write_text("+375291111111\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    path = tmp_path / "feeds.toml"
    path.write_text(
        'templates = "templates"\n'
        f'[destinations.news]\nkind = "viber"\napi_url = "{sandbox.api_url}"\n'
        f'[destinations.dt]\nkind = "decisiontelecom"\napi_url = "{dt_url}"\n'
        'source_addr = "Poster"\nrecipients = "subscribers.txt"\n'
        '[destinations.archive]\nkind = "recording"\n'
        f'[destinations.it]\nkind = "inteltele"\napi_url = "{it.base_url}"\n'
        'username = "poster"\nrecipients = "subscribers.txt"\n'
        f'[destinations.sb]\nkind = "smsby"\napi_url = "{sb_url}"\n'
        'alphaname_id = 444\nrecipients = "subscribers.txt"\n'
        '[[feeds]]\nname = "city"\nurl = "https://example.org/feed.xml"\n',
        encoding="utf-8",
    )
    return path


def facts(block: list[str]) -> dict[str, str]:
    """Return a gateway block's facts: each line's name and value, split at the aligned gap."""
    pairs = [re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in block[1:]]
    return {name: value for name, value in pairs}


def account(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> Shown:
    """Run ``poster account`` with ``argv``; check that no key was printed."""
    state = config.parent / "state"
    code = main(["-c", str(config), "account", "--state-dir", str(state), *argv])
    out, err = capsys.readouterr()
    for token in (*TOKENS.values(), WRONG):
        assert token not in out + err
    return Shown(code, out, err)


def test_every_destination_with_an_account_gets_a_block(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    shown = account(capsys, config)
    assert shown.code == EXIT_OK, shown.err
    blocks = shown.blocks()
    assert list(blocks) == ["news", "dt", "it", "sb"]  # config order; "archive" has none
    assert blocks["news"][:2] == ["news (viber)", "  channel  Sandbox channel"]
    it = facts(blocks["it"])
    assert (it["balance"], it["credit"]) == ("12.50", "3.00")
    assert it["currency"] == "the account's own (the Intel Tele API names none in any answer)"
    assert it["status callback URL"].startswith("none: set [webhook] public_url")
    sb = facts(blocks["sb"])
    assert (sb["viber names"], sb["subscriber lists"]) == ("7 Poster", "none")
    assert sb["balance"].startswith("not shown: the SMS.BY API has no balance call")
    (dt,) = facts(blocks["dt"]).values()
    assert dt.startswith("not shown: the DecisionTelecom API has no balance call")
    assert shown.err == ""


@pytest.mark.parametrize(
    ("failing", "key", "code", "says"),
    [
        ("it", WRONG, EXIT_FAILED, "wrong api key"),
        ("sb", WRONG, EXIT_FAILED, "invalid token"),
        ("dt", None, EXIT_CONFIG, "POSTER_DT_TOKEN"),
    ],
    ids=["inteltele-refused", "smsby-refused", "decisiontelecom-missing"],
)
def test_a_key_refused_or_missing_is_one_line_and_the_others_are_still_shown(
    capsys: pytest.CaptureFixture[str],
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
    key: str | None,
    code: int,
    says: str,
) -> None:
    if key is None:
        monkeypatch.delenv(f"POSTER_{failing.upper()}_TOKEN")
    else:
        monkeypatch.setenv(f"POSTER_{failing.upper()}_TOKEN", key)
    shown = account(capsys, config)
    assert shown.code == code
    (line,) = shown.err.splitlines()
    assert line.startswith(f"poster: {failing}: account not read: ")
    assert says.lower() in line.lower()
    expected = [name for name in ("news", "dt", "it", "sb") if name != failing]
    assert list(shown.blocks()) == expected


def test_to_shows_one_destination_and_opens_only_it(
    capsys: pytest.CaptureFixture[str], config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POSTER_NEWS_TOKEN")  # not needed to show another destination
    shown = account(capsys, config, "--to", "it")
    assert shown.code == EXIT_OK, shown.err
    assert list(shown.blocks()) == ["it"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--to", "archive"],
            "--to: destination 'archive' (recording) has no account to show; "
            "these have: news, dt, it, sb",
        ),
        (["--to", "dtt"], "--to: no destination named 'dtt' in"),
    ],
    ids=["no-account", "unknown"],
)
def test_to_must_name_a_destination_with_an_account(
    capsys: pytest.CaptureFixture[str], config: Path, argv: list[str], message: str
) -> None:
    shown = account(capsys, config, *argv)
    assert shown.code == EXIT_CONFIG
    assert shown.err.startswith(f"poster: {message}") and shown.out == ""


def test_smsby_without_its_undescribed_look_ups_still_shows_its_account(
    capsys: pytest.CaptureFixture[str], config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SmsByFake() as strict:
        strict.gateway.undescribed = False
        text = config.read_text(encoding="utf-8")
        sb_url = re.search(r'kind = "smsby"\napi_url = "([^"]+)"', text)
        assert sb_url is not None
        config.write_text(text.replace(sb_url[1], strict.base_url), encoding="utf-8")
        shown = account(capsys, config, "--to", "sb")
        monkeypatch.setenv("POSTER_SB_TOKEN", WRONG)
        refused = account(capsys, config, "--to", "sb")
    assert shown.code == EXIT_OK, shown.err
    sb = facts(shown.blocks()["sb"])
    said = "not available from this gateway ({} answered HTTP 404: Page not found)"
    assert sb["viber names"] == said.format("getVibernames")
    assert sb["subscriber lists"] == said.format("getSubscriberLists")
    assert sb["balance"].startswith("not shown: the SMS.BY API has no balance call")
    assert shown.err == ""
    assert refused.code == EXIT_FAILED
    assert "invalid token" in refused.err.lower()


class _EchoingKey(BaseHTTPRequestHandler):
    """Answer every request as Intel Tele refuses a key, quoting the key back."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"error": True, "message": f"bad key {WRONG}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test's output quiet."""


def test_a_key_the_api_quotes_back_in_its_refusal_is_masked(
    capsys: pytest.CaptureFixture[str],
    config: Path,
    fakes: tuple[str, str, FakeInteltele],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingKey)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        echoing = f"http://127.0.0.1:{server.server_address[1]}"
        config.write_text(config.read_text().replace(fakes[2].base_url, echoing))
        monkeypatch.setenv("POSTER_IT_TOKEN", WRONG)
        shown = account(capsys, config, "--to", "it")  # checks WRONG is in neither stream
    finally:
        server.shutdown()
        server.server_close()
    assert shown.code == EXIT_FAILED
    assert "bad key ***" in shown.err, shown.err
    for path in (config.parent / "state").rglob("*"):
        assert not path.is_file() or WRONG.encode() not in path.read_bytes()


@pytest.mark.parametrize(
    "command", [["account", "--state-dir", "s"], ["webhook", "set", "https://e.org/hook"]]
)
def test_a_command_that_cannot_reach_the_api_says_to_try_again_not_that_it_will(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("POSTER_VIBER_TOKEN", "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    closed = free_port()  # nothing listens there
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    (tmp_path / "feed.xml").write_text("<rss/>")
    config = tmp_path / "feeds.toml"
    config.write_text(
        f'templates = "templates"\n[viber]\napi_url = "http://127.0.0.1:{closed}/pa"\n'
        '[[feeds]]\nname = "a"\nurl = "feed.xml"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["-c", str(config), *command]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "(ConnectError); try again later" in err and "will retry" not in err
