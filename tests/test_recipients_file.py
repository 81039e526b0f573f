"""Check the recipients file: numbers normalised, bad lines named by FILE:LINE, repeats warned."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from support.blocking import finished

from poster.cli import EXIT_CONFIG, EXIT_OK, main
from poster.errors import ConfigError
from poster.recipients import load_recipients, parse_recipients
from poster.recipients.listfile import MAX_LISTED, RecipientsFile
from poster.recipients.phones import normalise


@pytest.mark.parametrize(
    ("written", "digits"),
    [
        ("+375291234567", "375291234567"),
        ("375291234567", "375291234567"),
        ("+375 (29) 123-45-67", "375291234567"),
        ("+44 20 7946 0958", "442079460958"),
        ("0044 20 7946 0958", "442079460958"),
        ("+1 (202) 555-0143", "12025550143"),
        ("+7 912 345 67 89", "79123456789"),
        ("[+375] 29.123.45.67", "375291234567"),
        ("+882 1234 5678", "88212345678"),
        ("+44 (0)20 7946 0958", "442079460958"),
        ("0044(0)2079460958", "442079460958"),
        ("44 (0)20 7946 0958", "442079460958"),
        ("375 (0) 29 111 11 11", "375291111111"),
        ("375(0)291111111", "375291111111"),
        ("+49 ( 0 ) 30-1234567", "49301234567"),
        ("+375 (29) 101-01-01", "375291010101"),
    ],
    ids=[
        "plus",
        "bare",
        "brackets-dashes",
        "uk-spaces",
        "double-zero",
        "nanp",
        "ru",
        "dots",
        "global",
        "uk-trunk-zero",
        "double-zero-trunk",
        "uk-trunk-without-plus",
        "by-trunk-without-plus",
        "by-trunk-unspaced-without-plus",
        "de-trunk-spaced",
        "area-code-not-trunk",
    ],
)
def test_normalise_keeps_the_digits_with_the_country_code(written: str, digits: str) -> None:
    assert normalise(written) == digits


@pytest.mark.parametrize(
    ("written", "fault"),
    [
        ("029 123 45 67", "starts with 0"),
        ("12345", "has 5 digits"),
        ("+3752912345678901", "has 16 digits"),
        ("+375 29 abc 45 67", "holds 'a'"),
        ("375+291234567", r"holds '\+'"),
        ("+2921234567", "does not start with a country code"),
        ("+8001234567", "does not start with a country code"),
        ("020 (0)7946 0958", "starts with 0"),
        ("+٣٧٥٢٩١٢٣٤٥٦٧", "holds '٣'"),
    ],
    ids=[
        "national",
        "short",
        "long",
        "letters",
        "inner-plus",
        "no-code-29x",
        "freephone",
        "national-trunk",
        "arabic",
    ],
)
def test_normalise_names_the_fault(written: str, fault: str) -> None:
    with pytest.raises(ValueError, match=fault):
        normalise(written)


def test_comments_and_blank_lines_are_skipped_and_order_is_kept() -> None:
    text = "# subscribers\n\n+44 20 7946 0958  # office\n   \n375291234567\n"
    recipients = parse_recipients(text, "r.txt")
    assert recipients.phones == ("442079460958", "375291234567")
    assert len(recipients) == 2


def test_every_bad_line_is_listed_at_once_with_file_and_line() -> None:
    text = "375291234567\n0291234567\n# fine\n12\n+44 abc\n"
    with pytest.raises(ConfigError) as caught:
        parse_recipients(text, "subs.txt")
    where = [problem.file for problem in caught.value.problems]
    assert where == ["subs.txt:2", "subs.txt:4", "subs.txt:5"]
    assert "subs.txt:4: '12' has 2 digits" in str(caught.value)


def test_a_long_list_of_bad_lines_is_summed_up() -> None:
    text = "12\n" * (MAX_LISTED + 7)
    with pytest.raises(ConfigError) as caught:
        parse_recipients(text, "subs.txt")
    assert len(caught.value.problems) == MAX_LISTED + 1
    assert caught.value.problems[-1].message == "and 7 more bad lines"


def test_a_repeated_number_is_kept_once_with_a_warning_naming_both_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = "+375 29 123 45 67\n442079460958\n375291234567\n"
    with caplog.at_level(logging.WARNING):
        recipients = parse_recipients(text, "subs.txt")
    assert recipients.phones == ("375291234567", "442079460958")
    assert recipients.duplicates == ("subs.txt:3: 375291234567 repeats line 1",)
    assert "subs.txt:3: 375291234567 repeats line 1" in caplog.text


def test_a_trunk_zero_after_the_country_code_is_the_same_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        recipients = parse_recipients("+44 (0)20 7946 0958\n+44 20 7946 0958\n", "subs.txt")
    assert recipients.phones == ("442079460958",)
    assert recipients.duplicates == ("subs.txt:2: 442079460958 repeats line 1",)
    assert "subs.txt:2: 442079460958 repeats line 1" in caplog.text


def test_the_version_follows_the_numbers_and_their_order() -> None:
    one = parse_recipients("375291234567\n442079460958\n", "a")
    same = parse_recipients("# x\n+375 29 123-45-67\n+44 20 7946 0958\n", "b")
    swapped = parse_recipients("442079460958\n375291234567\n", "a")
    assert one.version == same.version != swapped.version


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        (b"", "holds no phone numbers"),
        (b"# only a comment\n\n", "holds no phone numbers"),
        (b"\xff\xfe375291234567", r"is not UTF-8 text \(byte 0\) \(hint: save it as UTF-8 text"),
    ],
    ids=["empty", "comments-only", "not-utf8"],
)
def test_a_file_that_cannot_be_used_is_a_config_error(
    tmp_path: Path, content: bytes, fault: str
) -> None:
    path = tmp_path / "subs.txt"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=fault):
        load_recipients(path)


def test_a_missing_or_huge_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read: No such file"):
        load_recipients(tmp_path / "absent.txt")
    os.mkfifo(tmp_path / "fifo")
    for named in (tmp_path / "fifo", Path("/dev/zero")):
        refused = finished(lambda: load_recipients(named))  # noqa: B023
        assert isinstance(refused, ConfigError)
        assert "cannot be read: not a regular file" in str(refused)
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as out:
        out.truncate((16 << 20) + 1)
    with pytest.raises(ConfigError, match="larger than 16 MiB"):
        load_recipients(huge)


def test_a_destinations_file_is_told_at_the_key_that_names_it(tmp_path: Path) -> None:
    config, path = tmp_path / "feeds.toml", tmp_path / "subs.txt"
    named_by = (str(config), "destinations.subs.recipients")
    missing = (
        f"{config}: destinations.subs.recipients: {path} cannot be read: No such file or "
        "directory (hint: write the numbers in it, one a line, or make recipients name the "
        "file that has them)"
    )
    with pytest.raises(ConfigError) as refused:
        RecipientsFile(path, named_by)
    assert [str(problem) for problem in refused.value.problems] == [missing]
    path.write_text("+375291234567\n", encoding="utf-8")
    numbers = RecipientsFile(path, named_by)
    path.write_text("+375291234567\n0291234567\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        numbers()
    [bad_line] = refused.value.problems
    assert str(bad_line).startswith(f"{path}:2: '0291234567' starts with 0")
    path.write_text("# nobody\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        numbers()
    assert [str(p) for p in refused.value.problems] == [
        f"{config}: destinations.subs.recipients: {path} holds no phone numbers"
    ]
    path.unlink()
    with pytest.raises(ConfigError) as refused:
        numbers()
    assert [str(problem) for problem in refused.value.problems] == [missing]


def test_a_run_names_the_destination_whose_file_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTER_SUBS_TOKEN", "a-key-of-the-gateway-0123456789")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    config = tmp_path / "feeds.toml"
    config.write_text(
        '[destinations.subs]\nkind = "decisiontelecom"\napi_url = "http://127.0.0.1:9"\n'
        'source_addr = "Poster"\nrecipients = "subs.txt"\n'
        '[[feeds]]\nname = "city"\nurl = "http://127.0.0.1:9/feed.xml"\n',
        encoding="utf-8",
    )
    state = tmp_path / "state"
    code = main(["-c", str(config), "run", "--once", "--state-dir", str(state)])
    assert code == EXIT_CONFIG
    assert (
        f"{config}: destinations.subs.recipients: {tmp_path / 'subs.txt'} cannot be read"
        in capsys.readouterr().err
    )


def test_check_command_counts_the_numbers_or_lists_the_bad_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("\ufeff375291234567\n442079460958\n", encoding="utf-8")
    assert main(["recipients", "check", str(good)]) == EXIT_OK
    assert "2 numbers, version" in capsys.readouterr().out
    bad = tmp_path / "bad.txt"
    bad.write_text("375291234567\n0291234567\n", encoding="utf-8")
    assert main(["recipients", "check", str(bad)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"{bad}:2: '0291234567' starts with 0" in err
    assert f"poster: 1 problem in {bad}:" in err  # the file alone, not the configuration
    assert "Traceback" not in err
