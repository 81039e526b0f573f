"""Test where the token comes from and that logs never show it."""

from __future__ import annotations

import base64
import io
import logging
import os
from pathlib import Path

import pytest
from support.blocking import finished

from poster import redaction, secrets
from poster.cli import _fail
from poster.config import ViberConfig
from poster.destinations.viber.token import SHORTHAND, TOKEN_ENV, channel_token
from poster.errors import ConfigError, PosterError, RetryLater
from poster.recipients.listfile import parse_recipients
from poster.redaction import RedactingFilter, install_redaction
from poster.store.recipientledger import RecipientLedger, ledger_path
from poster.store.store import Store

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"


def write(path: Path, content: bytes | str) -> Path:
    """Write ``content`` to ``path`` and return the path."""
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def load_token(viber: ViberConfig, environ: dict[str, str] | None = None) -> str | None:
    """Return the ``[viber]`` shorthand's token as ``secrets.load_token`` finds it."""
    return secrets.load_token(viber, environ, name=SHORTHAND)


# --- load_token -------------------------------------------------------------------------------


def test_environment_comes_first(tmp_path: Path) -> None:
    token_file = write(tmp_path / "token", "from-file")
    creds = tmp_path / "creds"
    creds.mkdir()
    write(creds / "viber-token", "from-credentials")
    environ = {TOKEN_ENV: f"  {TOKEN}\n", "CREDENTIALS_DIRECTORY": str(creds)}
    assert load_token(ViberConfig(token_file=token_file), environ) == TOKEN


def test_token_file_comes_second(tmp_path: Path) -> None:
    token_file = write(tmp_path / "token", f"{TOKEN}\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    write(creds / "viber-token", "from-credentials")
    environ = {TOKEN_ENV: "  ", "CREDENTIALS_DIRECTORY": str(creds)}
    assert load_token(ViberConfig(token_file=token_file), environ) == TOKEN


def test_systemd_credential_comes_last(tmp_path: Path) -> None:
    write(tmp_path / "viber-token", f"\n{TOKEN}\r\n")
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert load_token(ViberConfig(), environ) == TOKEN


@pytest.mark.parametrize(
    "environ",
    [{}, {TOKEN_ENV: ""}, {"CREDENTIALS_DIRECTORY": "/nonexistent-credentials"}],
    ids=["nothing", "empty-variable", "credential-missing"],
)
def test_no_token_anywhere_is_none(environ: dict[str, str]) -> None:
    assert load_token(ViberConfig(), environ) is None


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    assert load_token(ViberConfig()) == TOKEN


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "the token is empty"),
        (b" \n\n", "the token is empty"),
        (b"secret part\n", "contains spaces"),
        (b"\xffsecret\xfe", "non-ASCII"),
        ("секрет".encode(), "non-ASCII"),
    ],
    ids=["empty", "blank", "inner-space", "not-utf8", "cyrillic"],
)
def test_unusable_token_file_names_the_file_not_the_content(
    tmp_path: Path, content: bytes, words: str
) -> None:
    token_file = write(tmp_path / "token", content)
    with pytest.raises(ConfigError) as caught:
        load_token(ViberConfig(token_file=token_file), {})
    text = str(caught.value)
    assert str(token_file) in text
    assert "viber.token_file" in text
    assert words in text
    assert "secret" not in text and "секрет" not in text


def test_missing_token_file_is_a_config_error(tmp_path: Path) -> None:
    token_file = tmp_path / "absent"
    with pytest.raises(ConfigError, match="cannot read the token file: No such file"):
        load_token(ViberConfig(token_file=token_file), {})


def test_directory_fifo_or_device_as_token_file_is_a_config_error(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for named in (tmp_path, fifo, Path("/dev/zero")):
        refused = finished(lambda: load_token(ViberConfig(token_file=named), {}))  # noqa: B023
        assert isinstance(refused, ConfigError)
        assert str(refused.problems[0]) == (
            f"{named}: viber.token_file: the token file is not a regular file "
            "(hint: name the file that holds the token)"
        )


def test_a_token_file_larger_than_a_token_can_be_is_refused_unquoted(tmp_path: Path) -> None:
    token_file = write(tmp_path / "token", "secret-token\n" * 6000)
    with pytest.raises(ConfigError) as caught:
        load_token(ViberConfig(token_file=token_file), {})
    assert "the token file is larger than 64 KiB" in str(caught.value)
    assert "secret-token" not in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_token_file_is_a_config_error(tmp_path: Path) -> None:
    token_file = write(tmp_path / "token", "secret-token")
    token_file.chmod(0)
    with pytest.raises(ConfigError) as caught:
        load_token(ViberConfig(token_file=token_file), {})
    assert "Permission denied" in str(caught.value)
    assert "secret-token" not in str(caught.value)


def test_empty_systemd_credential_is_a_config_error(tmp_path: Path) -> None:
    write(tmp_path / "viber-token", "")
    with pytest.raises(ConfigError, match="LoadCredential=viber-token: the token is empty"):
        load_token(ViberConfig(), {"CREDENTIALS_DIRECTORY": str(tmp_path)})


def test_bad_environment_token_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_token(ViberConfig(), {TOKEN_ENV: "secret part"})
    assert f"environment: {TOKEN_ENV}: the token contains spaces" in str(caught.value)
    assert "secret" not in str(caught.value)


# --- redaction --------------------------------------------------------------------------------


def make_logger(name: str) -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    """Return a logger writing to a string through its own handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream, handler


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        (f"token={TOKEN}", ()),
        ("token=%s", (TOKEN,)),
        ("url=%(url)s", ({"url": f"https://x.example/?auth={TOKEN}"},)),
    ],
    ids=["in-message", "in-args", "in-mapping-args"],
)
def test_filter_redacts_the_final_message(msg: str, args: tuple[object, ...]) -> None:
    logger, stream, handler = make_logger("test.redact.message")
    handler.addFilter(RedactingFilter([TOKEN]))
    try:
        logger.warning(msg, *args)
    finally:
        logger.removeHandler(handler)
    assert TOKEN not in stream.getvalue()
    assert "***" in stream.getvalue()


def test_filter_redacts_a_traceback_from_log_exception() -> None:
    logger, stream, handler = make_logger("test.redact.traceback")
    handler.addFilter(RedactingFilter([TOKEN]))
    try:
        try:
            raise ValueError(f"Illegal header value {TOKEN!r}")
        except ValueError:
            logger.exception("event=post_failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "Traceback" in output
    assert "ValueError: Illegal header value '***'" in output
    assert TOKEN not in output


def test_filter_redacts_stack_info_and_longest_secret_first() -> None:
    logger, stream, handler = make_logger("test.redact.stack")
    handler.addFilter(RedactingFilter(["abcdefghijkl", "abcdefghijklmnop"]))
    try:
        logger.info("value=abcdefghijklmnopqr", stack_info=True)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().startswith("value=***qr\n")
    assert "Stack (most recent call last)" in stream.getvalue()


def test_install_redaction_covers_root_handlers_and_later_ones(
    clean_redaction: None, caplog: pytest.LogCaptureFixture
) -> None:
    install_redaction(TOKEN)
    logging.getLogger("test.redact.root").warning("token=%s", TOKEN)
    assert "token=***" in caplog.text
    assert TOKEN not in caplog.text

    later, stream, handler = make_logger("test.redact.later")  # a handler added afterwards
    try:
        later.error("token=%s", TOKEN)
        try:
            raise RuntimeError(TOKEN)
        except RuntimeError:
            later.exception("event=failed")
    finally:
        later.removeHandler(handler)
    assert TOKEN not in stream.getvalue()
    assert stream.getvalue().startswith("token=***\nevent=failed\nTraceback")
    assert "RuntimeError: ***" in stream.getvalue()


def test_install_redaction_twice_adds_one_filter(clean_redaction: None) -> None:
    install_redaction(TOKEN)
    install_redaction("another-secret")
    for handler in logging.getLogger().handlers:
        assert handler.filters.count(redaction._FILTER) == 1
    assert redaction._FILTER.redact(f"{TOKEN} another-secret") == "*** ***"


# --- what a token may look like ---------------------------------------------------------------


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        RedactingFilter([""])


@pytest.mark.parametrize(
    ("secret", "text", "shown"),
    [
        ("bar123", "GET /im/send/?username=foo&api_key=bar123&to=7", "api_key=***&to=7"),
        ("bar123", "key bar123: refused", "key ***: refused"),
        ("bar123", "foobar123 and bar1234 stay", "foobar123 and bar1234 stay"),
        ("t", "status=error url=http://x.example/", "status=error url=http://x.example/"),
        ("t", "token t was refused", "token *** was refused"),
        ("bar123", "Authorization: Basic YmFyMTIz", "Basic ***"),
        ("bar123", "cb=https%3A%2F%2Fgw%2Fs%3Fapi_key%3Dbar123%26to%3D7", "%3D***%26to"),
        ("bar123", 'key=%22bar123%22 and "\\nbar123"', 'key=%22***%22 and "\\n***"'),
        ("bar+1", "api_key=bar%2b1&to=7", "api_key=***&to=7"),
        ("bar+1", "cb=https%3A%2F%2Fgw%2Fs%3Fapi_key%3Dbar%252B1", "api_key%3D***"),
    ],
)
def test_a_short_secret_is_masked_only_where_it_stands_alone(
    secret: str, text: str, shown: str
) -> None:
    assert shown in RedactingFilter([secret]).redact(text)


def test_a_short_token_such_as_the_documents_example_key_is_accepted_and_kept_out_of_logs(
    clean_redaction: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "bar123")
    token = channel_token(ViberConfig(api_url="http://127.0.0.1:9/pa"), "feeds.toml")
    assert token == "bar123"
    logging.getLogger("test.redact.short").warning("sent api_key=bar123 to foobar123")
    assert "sent api_key=*** to foobar123" in caplog.text


def test_only_the_whole_secret_is_masked(clean_redaction: None) -> None:
    install_redaction(TOKEN)
    line = f"status=error url=https://chatapi.viber.com/pa token={TOKEN} part={TOKEN[:16]}"
    assert redaction.redact(line) == (
        f"status=error url=https://chatapi.viber.com/pa token=*** part={TOKEN[:16]}"
    )


@pytest.mark.parametrize(
    "token",
    [
        TOKEN,
        "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f",
        "4F1C2E3D5A6B7C8D-9E0F1A2B3C4D5E6F",
    ],
    ids=["docs-example", "hex", "two-groups-upper"],
)
def test_real_looking_tokens_are_accepted_for_viber(
    clean_redaction: None, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv(TOKEN_ENV, token)
    assert channel_token(ViberConfig(), "feeds.toml") == token


@pytest.mark.parametrize(
    "token",
    ["sandbox-token", "my-channel-password", "445da6az1s345z78_dazcczb2542zv51a", "x" * 40],
    ids=["sandbox", "words", "underscore", "one-group"],
)
@pytest.mark.parametrize("source", ["env", "file", "credential"])
def test_implausible_tokens_are_refused_for_viber_naming_the_source(
    clean_redaction: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    token: str,
    source: str,
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    viber = ViberConfig()
    if source == "env":
        monkeypatch.setenv(TOKEN_ENV, token)
        where = f"environment: {TOKEN_ENV}"
    elif source == "file":
        viber = ViberConfig(token_file=write(tmp_path / "token", token))
        where = f"{tmp_path / 'token'}: viber.token_file"
    else:
        write(tmp_path / "viber-token", token)
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
        where = "LoadCredential=viber-token"
    with pytest.raises(ConfigError) as caught:
        channel_token(viber, "feeds.toml")
    text = str(caught.value)
    assert where in text and "does not look like a Viber channel token" in text
    assert token not in text


@pytest.mark.parametrize(
    "api_url",
    ["http://127.0.0.1:8765/pa", "http://localhost:1/pa", "http://viber-stand-in:8080/pa"],
    ids=["loopback", "localhost", "another-host"],
)
def test_any_token_is_accepted_by_a_stand_in_for_the_channel_api(
    clean_redaction: None, monkeypatch: pytest.MonkeyPatch, api_url: str
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "your_auth_token")
    assert channel_token(ViberConfig(api_url=api_url), "feeds.toml") == "your_auth_token"


def test_a_token_for_vibers_own_api_must_look_like_one_whatever_the_path_or_scheme(
    clean_redaction: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "your_auth_token")
    with pytest.raises(ConfigError, match="does not look like a Viber channel token"):
        channel_token(ViberConfig(api_url="https://chatapi.viber.com/pa/"), "feeds.toml")


# --- a secret an API echoes in its error -------------------------------------------------------


def test_a_delivery_error_masks_a_secret_the_api_echoed(clean_redaction: None) -> None:
    install_redaction(TOKEN)
    error = RetryLater(f"bad key {TOKEN}", status=401, status_message=f"token {TOKEN} refused")
    assert str(error) == "bad key ***"
    assert error.status_message == "token *** refused"


def test_the_one_line_error_printer_masks_a_secret(
    clean_redaction: None, capsys: pytest.CaptureFixture[str]
) -> None:
    install_redaction(TOKEN)
    _fail(PosterError(f"it: account not read: bad key {TOKEN}"), 1)
    assert capsys.readouterr().err == "poster: it: account not read: bad key ***\n"


def test_no_state_file_keeps_a_secret_an_error_quoted(
    clean_redaction: None, tmp_path: Path
) -> None:
    install_redaction(TOKEN)
    state = tmp_path / "state"
    with Store(state) as store:
        store.record_pending("city", "item-1", "it")
        store.record_failed("city", "item-1", "it", f"refused: bad key {TOKEN}")
    with RecipientLedger(ledger_path(state, "it")) as book:
        book.suppress("+375291111111", f"bad key {TOKEN}")
    files = [path for path in state.rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), path
    assert "bad key ***" in path_texts(state)


def path_texts(state: Path) -> str:
    """Return every state file's text, joined."""
    return "".join(p.read_text("utf-8", "replace") for p in state.rglob("*") if p.is_file())


@pytest.mark.parametrize("raw", [TOKEN, f"{TOKEN}:"], ids=["key", "key-colon"])
def test_a_secret_is_masked_in_base64_as_in_basic_authorization(raw: str) -> None:
    encoded = base64.b64encode(raw.encode()).decode()
    masking = RedactingFilter([TOKEN])
    assert masking.redact(f"Authorization: Basic {encoded}") == "Authorization: Basic ***"
    assert masking.redact(f"header {encoded.rstrip('=')}!") == "header ***!"


def test_a_token_pasted_as_token_file_is_not_quoted(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_token(ViberConfig(token_file=tmp_path / TOKEN), {})
    text = str(caught.value)
    assert TOKEN not in text
    assert "token_file does not name a readable file (is the token itself written there?)" in text


def test_a_missing_token_file_with_a_plain_name_is_still_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"viber-token\.txt.*cannot read the token file"):
        load_token(ViberConfig(token_file=tmp_path / "viber-token.txt"), {})


def test_a_key_file_read_as_a_recipients_list_is_not_quoted(clean_redaction: None) -> None:
    key = "fake-api-key-0123456789abcdef"
    install_redaction(TOKEN)
    with pytest.raises(ConfigError) as caught:
        parse_recipients(f"{TOKEN}\n{key}\n", "it-key")
    text = str(caught.value)
    assert TOKEN not in text and key not in text
    assert "it-key:1: '***' " in text
    assert f"it-key:2: {key[:20]!r}… holds 'f'" in text


def test_a_credential_that_is_a_looping_or_dangling_link_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "viber-token").symlink_to(tmp_path / "viber-token")
    with pytest.raises(ConfigError, match="LoadCredential=viber-token: cannot read the token"):
        load_token(ViberConfig(), {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    (tmp_path / "viber-token").unlink()
    (tmp_path / "viber-token").symlink_to(tmp_path / "gone")
    with pytest.raises(ConfigError, match="cannot read the token file: No such file"):
        load_token(ViberConfig(), {"CREDENTIALS_DIRECTORY": str(tmp_path)})


def test_a_credentials_folder_poster_may_not_look_into_is_told_not_taken_for_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_lstat = os.lstat

    def refused(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if str(path).startswith(str(tmp_path)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_lstat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(secrets.os, "lstat", refused)
    with pytest.raises(ConfigError, match="LoadCredential=viber-token: cannot read the token"):
        load_token(ViberConfig(), {"CREDENTIALS_DIRECTORY": str(tmp_path / "creds")})


@pytest.mark.parametrize(("mode", "logged"), [(0o600, False), (0o640, True)])
def test_a_run_logs_a_token_file_others_may_read(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    mode: int,
    logged: bool,
) -> None:
    import httpx

    from poster.app import open_destinations
    from poster.config import load_config

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    (tmp_path / "tok").write_text(TOKEN + "\n")
    (tmp_path / "tok").chmod(mode)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    config = tmp_path / "feeds.toml"
    config.write_text(
        '[viber]\napi_url = "http://127.0.0.1:9/pa"\ntoken_file = "tok"\n'
        '[[feeds]]\nname = "news"\nurl = "https://example.org/feed.xml"\n',
        encoding="utf-8",
    )
    caplog.set_level(logging.WARNING, logger="poster.app")
    with httpx.Client() as http:
        open_destinations(load_config(config), tmp_path / "state", http, _NoEntries())
    assert ("event=token-file-exposed destination=viber" in caplog.text) is logged
    assert TOKEN not in caplog.text


class _NoEntries:
    """A state with no entries, for opening destinations without one."""

    def get_meta(self, name: str) -> str | None:
        return None

    def set_meta(self, name: str, value: str) -> None:
        """Keep nothing."""
