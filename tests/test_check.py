"""Test that `poster check` checks what a run needs: token source, templates, cron times."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import Environment

from poster.cli import EXIT_CONFIG, EXIT_OK, main
from poster.config import FeedConfig
from poster.destinations import Kind
from poster.errors import RenderError
from poster.models import FeedMeta
from poster.render import Renderer
from poster.render.engine import CappedLoader

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
FEED = '\n[[feeds]]\nname = "{name}"\nurl = "https://example.org/{name}.xml"\n{more}'


@pytest.fixture(autouse=True)
def no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test with no token anywhere."""
    monkeypatch.delenv("POSTER_VIBER_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def project(folder: Path, head: str = "", feeds: dict[str, str] | None = None) -> Path:
    """Write templates and a feeds.toml with ``head`` and the given feeds; return its path."""
    (folder / "templates").mkdir()
    (folder / "templates" / "default.j2").write_text("{{ item.title }}\n")
    path = folder / "feeds.toml"
    tables = "".join(FEED.format(name=n, more=m) for n, m in (feeds or {"news": ""}).items())
    path.write_text(head + tables, encoding="utf-8")
    return path


def check(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, str, str]:
    """Run `poster check` on ``config``."""
    code = main(["check", "-c", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def test_no_token_is_a_warning_that_only_preview_works(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = check(capsys, project(tmp_path))
    assert code == EXIT_OK and "OK, 1 feed (1 enabled)" in out
    assert err.startswith("warning: no Viber token") and "preview" in err


def test_a_token_from_the_environment_is_named_never_shown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTER_VIBER_TOKEN", TOKEN)
    code, out, err = check(capsys, project(tmp_path))
    assert code == EXIT_OK
    assert "token: from POSTER_VIBER_TOKEN" in out and err == ""
    assert TOKEN not in out + err


@pytest.mark.parametrize(
    ("token_file", "words"),
    [
        ("absent", "cannot read the token file: No such file"),
        (".", "the token file is not a regular file"),
        ("/dev/zero", "the token file is not a regular file"),
    ],
    ids=["missing", "folder", "device"],
)
def test_a_token_file_that_cannot_be_read_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, token_file: str, words: str
) -> None:
    config = project(tmp_path, f'[viber]\ntoken_file = "{token_file}"\n')
    code, out, err = check(capsys, config)
    assert code == EXIT_CONFIG and out == ""
    assert f"viber.token_file: {words}" in err


def test_an_implausible_token_is_an_error_naming_its_source(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("my-channel-password\n")
    code, _, err = check(capsys, project(tmp_path, '[viber]\ntoken_file = "token"\n'))
    assert code == EXIT_CONFIG
    assert f"{tmp_path / 'token'}: viber.token_file: the token does not look like" in err
    assert "my-channel-password" not in err


def test_a_template_error_is_reported_once_with_its_feeds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = project(tmp_path, feeds={name: "" for name in ("a", "b", "c")})
    (tmp_path / "templates" / "default.j2").write_text("{{ item.titel }}\n")
    code, _, err = check(capsys, config)
    assert code == EXIT_CONFIG
    [line] = [line for line in err.splitlines() if "titel" in line]
    assert "default.j2" in line and line.endswith("(used by feeds a, b, c)")


@pytest.mark.parametrize("body", ["", "  \n", "{% if false %}{{ item.title }}{% endif %}"])
def test_a_template_that_renders_nothing_is_a_problem_not_a_failed_post_later(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, body: str
) -> None:
    config = project(tmp_path)
    (tmp_path / "templates" / "default.j2").write_text(body)
    code, _, err = check(capsys, config)
    assert code == EXIT_CONFIG
    assert "cannot make a text message: the template rendered nothing (used by feed news)" in err


@pytest.mark.parametrize(
    "files",
    [
        {"default.j2": "{% if feed.name == 'b' %}{{ item.titel }}{% endif %}{{ item.title }}\n"},
        {"default.j2": "{% include 'part.j2' %}\n", "part.j2": "{{ 1 // (feed.name != 'b') }}"},
    ],
    ids=["own", "included"],
)
def test_a_template_that_fails_for_one_feed_names_only_that_feed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, files: dict[str, str]
) -> None:
    config = project(tmp_path, feeds={name: "" for name in ("a", "b", "c")})
    for name, source in files.items():
        (tmp_path / "templates" / name).write_text(source)
    code, _, err = check(capsys, config)
    assert code == EXIT_CONFIG
    [line] = [line for line in err.splitlines() if "used by" in line]
    assert line.endswith("(used by feed b)")


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the names of the feeds ``Renderer.failures`` renders, in order, as it renders them."""
    names: list[str] = []
    original = Renderer.failures

    def counted(
        self: Renderer, feed: FeedConfig, kind: Kind, meta: FeedMeta | None = None
    ) -> list[RenderError]:
        names.append(feed.name)
        return original(self, feed, kind, meta)

    monkeypatch.setattr(Renderer, "failures", counted)
    return names


def test_every_broken_template_a_feed_may_use_is_told_at_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = project(tmp_path, feeds={"cn": 'type = "auto"\nfallback = "url"\n'})
    folder = tmp_path / "templates"
    (folder / "picture.j2").write_text("{{ item.imagee }}\n")
    (folder / "url.j2").write_text("{{ item.summry }}\n")
    code, _, err = check(capsys, config)
    assert code == EXIT_CONFIG
    told = [line for line in err.splitlines() if "used by feed cn" in line]
    assert len(told) == 2, err
    assert "item.imagee is undefined" in told[0] and "item.summry is undefined" in told[1]


def test_feeds_that_differ_only_in_name_and_url_are_rendered_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, checked: list[str]
) -> None:
    broken = 'template = "broken.j2"\n'
    config = project(tmp_path, feeds={"a": "", "b": "", "c": broken, "d": broken, "e": ""})
    (tmp_path / "templates" / "broken.j2").write_text("{{ item.titel }}\n")
    code, _, err = check(capsys, config)
    assert code == EXIT_CONFIG
    assert checked == ["a", "c"]
    [line] = [line for line in err.splitlines() if "used by" in line]
    assert "broken.j2" in line and line.endswith("(used by feeds c, d)")


def test_a_template_that_reads_feed_is_rendered_for_each_feed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, checked: list[str]
) -> None:
    config = project(tmp_path, feeds={name: "" for name in ("a", "b", "c")})
    (tmp_path / "templates" / "default.j2").write_text("{{ feed.name }}: {{ item.title }}\n")
    assert check(capsys, config)[0] == EXIT_OK
    assert checked == ["a", "b", "c"]


def test_an_unreadable_template_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_loader: object, _env: object, name: str) -> None:
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(CappedLoader, "get_source", refuse)
    code, _, err = check(capsys, project(tmp_path, feeds={"a": "", "b": ""}))
    assert code == EXIT_CONFIG
    assert err.splitlines() == [
        f"poster: {tmp_path / 'feeds.toml'}: cannot read a template in {tmp_path / 'templates'}: "
        "Permission denied; make the templates readable by the user poster runs as "
        "(used by feeds a, b)"
    ]


def test_a_template_not_in_utf8_is_named_with_what_to_do(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = project(tmp_path, feeds={"a": 'template = "ru.j2"\n'})
    text = "{{ item.title }}\nПодробнее: {{ item.link }}\n"
    (tmp_path / "templates" / "ru.j2").write_bytes(text.encode("cp1251"))
    code, _, err = check(capsys, config)
    assert code == EXIT_CONFIG
    assert "'ru.j2' is not UTF-8 text (a bad byte at offset 17); save it as UTF-8" in err
    assert "UnicodeDecodeError" not in err


def test_cron_feeds_show_their_next_runs_in_their_zone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    feeds = {
        "morning": 'cron = "0 9 * * mon-fri"\ntimezone = "Asia/Tokyo"\n',
        "polled": 'interval = "10m"\n',
    }
    code, out, _ = check(capsys, project(tmp_path, feeds=feeds))
    assert code == EXIT_OK
    [line] = [line for line in out.splitlines() if "morning" in line]
    assert "cron '0 9 * * mon-fri' in Asia/Tokyo; next: " in line
    runs = re.findall(r"(\w{3}) \d{4}-\d\d-\d\d (\d\d:\d\d)", line)
    assert len(runs) == 3
    assert all(day in {"Mon", "Tue", "Wed", "Thu", "Fri"} and at == "09:00" for day, at in runs)
    assert "polled" not in out


DESTINATIONS = (
    '[destinations.news]\nkind = "viber"\n\n'
    '[destinations.sports]\nkind = "viber"\n{sports}\n'
    '[destinations.archive]\nkind = "recording"\n'
)


def test_each_destinations_token_source_is_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTER_NEWS_TOKEN", TOKEN)
    monkeypatch.delenv("POSTER_SPORTS_TOKEN", raising=False)
    code, out, err = check(capsys, project(tmp_path, DESTINATIONS.format(sports="")))
    assert code == EXIT_OK
    assert "token of news: from POSTER_NEWS_TOKEN" in out.splitlines()
    assert "archive" not in out + err, "a recording destination needs no token"
    assert err.splitlines() == [
        "warning: no token for 'sports', so preview and `run --once --sandbox` work but posting "
        "does not; set POSTER_SPORTS_TOKEN, [destinations.sports] token_file, or the systemd "
        "credential sports-token"
    ]


def test_a_destinations_unreadable_token_file_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTER_NEWS_TOKEN", TOKEN)
    config = project(tmp_path, DESTINATIONS.format(sports='token_file = "absent"\n'))
    code, out, err = check(capsys, config)
    assert code == EXIT_CONFIG and out == ""
    assert "destinations.sports.token_file: cannot read the token file: No such file" in err


GATEWAYS = (
    '[destinations.dt]\nkind = "decisiontelecom"\nsource_addr = "Poster"\n'
    'recipients = "subs.txt"\n\n'
    '[destinations.it]\nkind = "inteltele"\nusername = "poster"\nim_sender = "News"\n'
    'recipients = "subs.txt"\n\n'
    '[destinations.sb]\nkind = "smsby"\nrecipients = "subs.txt"\nalphaname_id = 444\n'
)


def numbers(folder: Path, text: str = "+375291234567\n+375291234568\n") -> Path:
    """Write the gateways' recipients file, subs.txt, in ``folder``."""
    path = folder / "subs.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_gateways_key_source_is_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers(tmp_path)
    monkeypatch.setenv("POSTER_DT_TOKEN", TOKEN)
    (tmp_path / "it-key").write_text("it-key-from-a-file\n")
    (tmp_path / "it-key").chmod(0o600)
    monkeypatch.delenv("POSTER_SB_TOKEN", raising=False)
    head = GATEWAYS.replace("im_sender", 'token_file = "it-key"\nim_sender')
    code, out, err = check(capsys, project(tmp_path, head))
    assert code == EXIT_OK, err
    assert "token of dt: from POSTER_DT_TOKEN" in out.splitlines()
    assert f"token of it: from destinations.it.token_file ({tmp_path / 'it-key'})" in out
    assert TOKEN not in out + err and "it-key-from-a-file" not in out + err
    assert err.splitlines() == [
        "warning: no access key for 'sb', so preview and `run --once --sandbox` work but "
        "posting does not; set POSTER_SB_TOKEN, [destinations.sb] token_file, or the systemd "
        "credential sb-token to the key the gateway gave you"
    ]


TWO_WAY = '[destinations.dt]\nkind = "decisiontelecom"\nsource_addr = "Poster"\nreplies = true\n'
WEBHOOK = '[webhook]\nlisten = "127.0.0.1:8080"\npublic_url = "https://poster.example.org"\n'


def test_two_way_messages_without_a_public_callback_url_are_a_config_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTER_DT_TOKEN", TOKEN)
    numbers(tmp_path)
    config = project(tmp_path, TWO_WAY + 'recipients = "subs.txt"\n')
    code, out, err = check(capsys, config)
    assert code == EXIT_CONFIG and out == ""
    assert f"{config}: destinations.dt.replies: needs [webhook] public_url: 2-Way" in err
    assert "public_url" in err.split("hint:")[1]
    config.write_text(WEBHOOK + config.read_text())
    code, out, err = check(capsys, config)
    assert code == EXIT_OK, err


def test_a_gateways_unusable_key_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DT", "IT"):
        monkeypatch.setenv(f"POSTER_{name}_TOKEN", TOKEN)
    monkeypatch.setenv("POSTER_SB_TOKEN", "two words")
    numbers(tmp_path)
    code, out, err = check(capsys, project(tmp_path, GATEWAYS))
    assert code == EXIT_CONFIG and out == ""
    assert "environment: POSTER_SB_TOKEN: the token contains spaces" in err


@pytest.fixture
def gateway_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give each gateway of ``GATEWAYS`` a key in the environment."""
    for name in ("DT", "IT", "SB"):
        monkeypatch.setenv(f"POSTER_{name}_TOKEN", TOKEN)


@pytest.mark.usefixtures("gateway_keys")
def test_each_gateways_recipients_are_read_as_a_send_reads_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = project(tmp_path, GATEWAYS)
    code, out, err = check(capsys, config)
    assert code == EXIT_CONFIG and out == ""
    assert err.splitlines() == [
        f"poster: {config}: destinations.{name}.recipients: {tmp_path / 'subs.txt'} cannot be "
        "read: No such file or directory (hint: write the numbers in it, one a line, or make "
        "recipients name the file that has them)"
        for name in ("dt", "it", "sb")
    ]
    numbers(tmp_path, "+375291234567\n+375291234568\n# left\n+44 20 7946 0958\n")
    code, out, err = check(capsys, config)
    assert code == EXIT_OK, err
    assert [line for line in out.splitlines() if line.startswith("recipients")] == [
        "recipients of dt: 3 numbers",
        "recipients of it: 3 numbers",
        "recipients of sb: 3 numbers",
    ]


@pytest.mark.usefixtures("gateway_keys")
def test_a_bad_number_is_named_by_its_line_and_one_a_gateway_refuses_by_its_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = project(tmp_path, GATEWAYS)
    subs = numbers(tmp_path, "+375291234567\n0291234567\n")
    code, out, err = check(capsys, config)
    assert code == EXIT_CONFIG and out == ""
    assert err.count(f"{subs}:2: '0291234567' starts with 0") == 3
    numbers(tmp_path, "+375291234567\n+1 234 5678\n")
    code, out, err = check(capsys, config)
    assert code == EXIT_CONFIG and out == ""
    assert err.splitlines() == [
        f"poster: {subs}: destinations.sb.recipients: 1 number(s) SMS.BY does not take "
        "(first: 12345678) (hint: SMS.BY takes 10 to 15 digits with the country code)"
    ]


def test_a_list_kept_at_the_gateway_has_no_file_to_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTER_SB_TOKEN", TOKEN)
    head = '[destinations.sb]\nkind = "smsby"\nlist_id = 7\nvibername_id = 5\n'
    code, out, err = check(capsys, project(tmp_path, head))
    assert code == EXIT_OK, err
    assert "recipients" not in out


def test_sms_forwarding_without_the_alphaname_it_comes_from_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTER_SB_TOKEN", TOKEN)
    numbers(tmp_path)
    head = '[destinations.sb]\nkind = "smsby"\nrecipients = "subs.txt"\nvibername_id = 5\n'
    config = project(tmp_path, head + 'forward_sms = "15m"\n')
    code, out, err = check(capsys, config)
    assert code == EXIT_CONFIG and out == ""
    assert (
        f"{config}: destinations.sb.alphaname_id: is required with forward_sms (hint: an "
        "undelivered message goes out as SMS from an alphaname id)"
    ) in err
    config.write_text(config.read_text().replace("vibername_id", "alphaname_id = 4\nvibername_id"))
    code, out, err = check(capsys, config)
    assert code == EXIT_OK, err


def test_a_second_check_compiles_no_template(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = project(tmp_path, feeds={"a": ""})
    assert check(capsys, config)[0] == EXIT_OK

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(Environment, "compile", refuse)
    assert check(capsys, config)[0] == EXIT_OK
    assert list((tmp_path / "cache" / "poster" / "templates").iterdir())


def test_a_template_file_too_large_to_be_one_is_refused_unread(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = project(tmp_path)
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}" + " " * (1 << 20))
    code, out, err = check(capsys, config)
    assert code == EXIT_CONFIG and out == ""
    assert err == (
        f"poster: {config}: template: 'default.j2' is larger than 1 MiB; is it a template? "
        "(used by feed news)\n"
    )


@pytest.mark.parametrize("kind", ["inteltele", "smsby"])
def test_two_way_messages_on_a_gateway_without_them_are_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    numbers(tmp_path)
    own = {"inteltele": 'username = "poster"\n', "smsby": "alphaname_id = 444\n"}[kind]
    head = f'[destinations.gw]\nkind = "{kind}"\nrecipients = "subs.txt"\n{own}replies = true\n'
    code, out, err = check(capsys, project(tmp_path, head))
    assert code == EXIT_CONFIG and out == ""
    assert f"destinations.gw.replies: is not supported by kind {kind} (hint: remove it)" in err


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o400, False), (0o644, True)])
def test_a_token_file_others_may_read_is_warned_of(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    mode: int,
    warned: bool,
) -> None:
    (tmp_path / "tok").write_text(TOKEN + "\n")
    (tmp_path / "tok").chmod(mode)
    code, out, err = check(
        capsys, project(tmp_path, f'[viber]\ntoken_file = "{tmp_path / "tok"}"\n')
    )
    assert code == EXIT_OK and "token: from viber.token_file" in out
    assert ("may be read or written by others" in err) is warned
    assert (f"mode 0{mode:o}" in err) is warned
    assert TOKEN not in out + err
