"""Read ``[destinations.*]`` and each feed's ``to``: kinds declare their keys, names are checked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from poster.config import ViberConfig, load_config, token_env
from poster.errors import ConfigError
from poster.secrets import find_token

FEED = '[[feeds]]\nname = "a"\nurl = "https://example.org/a.xml"\n'
TOKEN = "dest-token-0123456789"


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    path = tmp_path / "feeds.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return [str(problem) for problem in caught.value.problems]


def test_several_destinations_are_read_with_their_kinds_keys(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[destinations.news]\nkind = "viber"\nmin_gap = "3s"\nmax_per_pass = 4\n'
            'from = "admin="\n[destinations.archive]\nkind = "recording"\n'
            + FEED
            + 'to = ["archive"]\n',
        )
    )
    news, archive = config.destinations
    assert (news.name, news.kind, news.min_gap, news.max_per_pass) == (
        "news", "viber", timedelta(seconds=3), 4
    )  # fmt: skip
    assert isinstance(news.settings, ViberConfig) and news.settings.sender == "admin="
    assert (archive.kind, archive.min_gap) == ("recording", timedelta(seconds=10))
    assert config.routes(config.feeds[0]) == ("archive",)


def test_a_feed_without_to_posts_to_every_destination(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[destinations.a1]\nkind = "viber"\n[destinations.b]\nkind = "recording"\n' + FEED,
        )
    )
    assert config.routes(config.feeds[0]) == ("a1", "b")


def test_the_viber_section_stands_for_one_destination_called_viber(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[viber]\nmin_gap = "2s"\n' + FEED))
    [only] = config.destinations
    assert (only.name, only.kind, only.min_gap) == ("viber", "viber", timedelta(seconds=2))
    assert only.token_env == "POSTER_VIBER_TOKEN" and only.credential == "viber-token"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '[destinations.news]\nkind = "vibr"\n' + FEED,
            "destinations.news.kind: 'vibr' is not a kind of destination"
            ' (hint: did you mean "viber"?)',
            id="unknown-kind",
        ),
        pytest.param(
            '[destinations.news]\nmin_gap = "1s"\n' + FEED,
            "destinations.news.kind: is required",
            id="missing-kind",
        ),
        pytest.param(
            '[destinations.news]\nkind = "recording"\napi_url = "https://x.org"\n' + FEED,
            "destinations.news.api_url: unknown key",
            id="key-of-another-kind",
        ),
        pytest.param(
            '[destinations.sports]\nkind = "viber"\n' + FEED + 'to = ["sport"]\n',
            "feed 'a': to: 'sport' is not a configured destination"
            ' (hint: did you mean "sports"?)',
            id="unknown-route",
        ),
        pytest.param(
            '[viber]\n[destinations.news]\nkind = "viber"\n' + FEED,
            "destinations: cannot be combined with [viber]",
            id="shorthand-and-sections",
        ),
    ],
)
def test_bad_destinations_are_named_with_file_feed_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    found = problems(tmp_path, text)
    assert any(expected in problem for problem in found), found
    assert all(str(tmp_path / "feeds.toml") in problem for problem in found)


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("news", "POSTER_NEWS_TOKEN"),
        ("sports-2", "POSTER_SPORTS_2_TOKEN"),
        ("a.b", "POSTER_A_B_TOKEN"),
    ],
)
def test_each_destination_has_its_own_token_variable(name: str, variable: str) -> None:
    assert token_env(name) == variable
    found = find_token(ViberConfig(), {variable: TOKEN}, name=name)
    assert found is not None and found[0] == TOKEN
    assert find_token(ViberConfig(), {"POSTER_VIBER_TOKEN": TOKEN}, name=name) is None


def test_a_destinations_credential_is_named_after_it(tmp_path: Path) -> None:
    (tmp_path / "news-token").write_text(TOKEN)
    found = find_token(ViberConfig(), {"CREDENTIALS_DIRECTORY": str(tmp_path)}, name="news")
    assert found is not None and found[0] == TOKEN


def test_the_registry_names_the_kind_that_declares_a_shorthand_section() -> None:
    from poster.destinations import HasShorthand, kind, shorthand

    found = shorthand()
    assert found is not None
    section, name = found
    declared = kind(name)
    assert isinstance(declared, HasShorthand) and declared.shorthand == section


def test_the_shorthand_section_is_read_with_its_kinds_keys(tmp_path: Path) -> None:
    from poster.destinations import kind, shorthand

    section, name = shorthand() or ("", "")
    config = load_config(write(tmp_path, f'[{section}]\nfrom = "admin="\nmin_gap = "2s"\n' + FEED))
    (only,) = config.destinations
    assert (only.name, only.kind, only.min_gap) == (section, name, timedelta(seconds=2))
    assert "from" in kind(name).keys and only.settings.sender == "admin="


@pytest.mark.parametrize(
    ("field", "size", "most"),
    [("name", 29, 28), ("phone_number", 19, 18)],
    ids=["name", "phone"],
)
def test_a_fixed_contact_is_held_to_the_tightest_limit_a_kind_declares(
    tmp_path: Path, field: str, size: int, most: int
) -> None:
    from poster.destinations import Limit, fixed_limit

    assert fixed_limit(f"contact.{field}") == Limit(most, "the Channels Post API")
    contact = {"name": "Desk", "phone_number": "+375291234567", field: "1" * size}
    table = ", ".join(f'{key} = "{value}"' for key, value in contact.items())
    found = problems(tmp_path, FEED + f'type = "contact"\ncontact = {{ {table} }}\n')
    assert f"contact.{field}: is {size} characters; the Channels Post API takes at most {most}" in (
        " ".join(found)
    )
    assert fixed_limit("contact.unknown") is None


@pytest.mark.parametrize(("first", "second"), [("sp-x", "sp_x"), ("news", "News")])
def test_two_destinations_sharing_a_token_variable_are_refused(
    tmp_path: Path, first: str, second: str
) -> None:
    text = (
        f'[destinations.{first}]\nkind = "viber"\n\n[destinations.{second}]\nkind = "viber"\n\n'
        '[[feeds]]\nname = "a"\nurl = "a.xml"\n'
    )
    [problem] = [found for found in problems(tmp_path, text) if "shares" in found]
    variable = f"POSTER_{first.replace('-', '_').upper()}_TOKEN"
    assert f"destinations.{second}: shares its token variable {variable}" in problem
    assert f"with destination {first!r}" in problem and "rename one" in problem


def test_a_fixed_contact_name_is_counted_as_the_api_counts_text(tmp_path: Path) -> None:
    fits = "Desk " + "😀" * 11  # 16 characters, 27 UTF-16 units
    over = "Desk " + "😀" * 12  # 17 characters, 29 units: over the 28
    for name, refused in ((fits, False), (over, True)):
        table = f'name = "{name}", phone_number = "+375291234567"'
        config = FEED + f'type = "contact"\ncontact = {{ {table} }}\n'
        if refused:
            found = " ".join(problems(tmp_path, config))
            assert "contact.name: is 29 characters (an emoji counts two)" in found
        else:
            load_config(write(tmp_path, config))
