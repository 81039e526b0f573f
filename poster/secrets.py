"""Find a destination's token and keep it out of every log line.

A destination's token is looked up, in order, in the ``POSTER_<NAME>_TOKEN`` environment variable,
the file named by its ``token_file``, and ``$CREDENTIALS_DIRECTORY/<name>-token`` (systemd
``LoadCredential=<name>-token:/path``). It is never stored in the configuration. What a token
looks like is each kind's to say: ``require_token`` takes the kind's ``Shape``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from poster.config import token_env
from poster.destinations import shorthand
from poster.errors import ConfigError, ConfigProblem
from poster.frozen import frozen

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
MASK = "***"
WHOLE_SECRET = 12
"""A secret this long is masked wherever it appears; a shorter one only where it stands alone,
so that a key like ``bar123`` does not blank out parts of ordinary words."""

Shape = Callable[[str], "str | None"]
"""A kind's check of how its tokens look: why one cannot be a token of that kind, or None."""


class Place(Protocol):
    """Where a destination's settings say its token is."""

    @property
    def token_file(self) -> Path | None:
        """Return the file holding the token, if the section names one."""
        ...


def load_token(place: Place, environ: Mapping[str, str] | None = None, *, name: str) -> str | None:
    """Return the token from the environment, the token file or systemd credentials, or None."""
    found = find_token(place, environ, name=name)
    return None if found is None else found[0]


@frozen
class TokenSource:
    """Where a destination's token comes from, or what to say when it has none."""

    where: str | None
    """The variable, file or credential holding it; None when none is set."""
    missing: str = ""
    """What is missing, when none is set."""
    hint: str = ""
    """How to give it one."""
    warning: str = ""
    """What is wrong with where it is kept, such as a file others may read."""


def find_token(
    place: Place, environ: Mapping[str, str] | None = None, *, name: str
) -> tuple[str, ConfigProblem] | None:
    """Return destination ``name``'s token and a problem naming its source, or None when unset."""
    env = os.environ if environ is None else environ
    variable = token_env(name)
    # An empty variable counts as unset, so `POSTER_VIBER_TOKEN=` cannot hide a token file.
    value = env.get(variable, "").strip()
    if value:
        source = ConfigProblem("environment", variable, "", hint=_HINT)
        _check(value, source)
        return value, source
    if place.token_file is not None:
        return _read_token_file(place.token_file, f"{section(name)}.token_file")
    directory = env.get(CREDENTIALS_ENV, "")
    credential = f"{name}-token"
    if directory:
        path = Path(directory) / credential
        try:
            os.lstat(path)  # a dangling or looping link is told, not taken for none
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError:
            pass  # a folder poster may not look into: reading the file tells why
        return _read_token_file(path, f"LoadCredential={credential}")
    return None


def section(name: str) -> str:
    """Return the dotted name of destination ``name``'s section in feeds.toml."""
    found = shorthand()
    return name if found is not None and found[0] == name else f"destinations.{name}"


def require_token(
    place: Place,
    config_file: str,
    *,
    name: str,
    missing: str,
    also: str = "",
    shape: Shape | None = None,
) -> str:
    """Return the token, hidden from every log line from now on, or explain where to put it.

    ``missing`` says what is missing when no token is set; a token must pass ``shape``, which a
    kind gives for its real API only.
    """
    found = find_token(place, name=name)
    if found is None:
        where = section(name)
        hint = (
            f"set {token_env(name)}, [{where}] token_file, or the systemd credential {name}-token"
        )
        raise ConfigError([ConfigProblem(config_file, where, missing, None, hint + also)])
    token, source = found
    judge_token(token, source, shape)
    from poster.redaction import install_redaction  # here: looking a token up logs nothing

    install_redaction(token)
    return token


def judge_token(token: str, source: ConfigProblem, shape: Shape | None) -> None:
    """Raise ``ConfigError`` at ``source`` when ``token`` fails the kind's ``shape``, if any."""
    reason = None if shape is None else shape(token)
    if reason:
        raise ConfigError([_with(source, f"the token {reason}", source.hint)])


def exposed(source: ConfigProblem) -> str:
    """Say that the file a token came from is open to others, and what to do; else ""."""
    if source.file == "environment":
        return ""
    try:
        mode = os.stat(source.file).st_mode
    except OSError:
        return ""
    if not mode & 0o077:
        return ""
    return (
        f"the token file {source.file} may be read or written by others (mode "
        f"{mode & 0o7777:04o}): `chmod 600` it, owned by the user poster runs as"
    )


def source_text(source: ConfigProblem) -> str:
    """Return where a found token came from: a variable, or a key and its file."""
    return source.key if source.file == "environment" else f"{source.key} ({source.file})"


def token_problem(token: str) -> str | None:
    """Return why ``token`` cannot be sent in an HTTP header, or None when it can."""
    if not token:
        return "is empty"
    if not all("!" <= ch <= "~" for ch in token):
        return "contains spaces, control characters or non-ASCII characters"
    return None


_HINT = "copy the token again from where it was issued (a channel's info screen, Developer Tools)"
MAX_TOKEN_FILE = 64 * 1024
"""The most of a token file read: a token is under a hundred characters."""


def _read_token_file(path: Path, key: str) -> tuple[str, ConfigProblem]:
    """Return the stripped token kept in ``path`` and its source; never quote the content."""
    from poster.localfiles import NotAFileError, read_capped

    problem = ConfigProblem(str(path), key, "", hint=_HINT)
    try:
        raw = read_capped(path, MAX_TOKEN_FILE)
    except NotAFileError as exc:
        hint = "name the file that holds the token"
        raise ConfigError([_with(problem, "the token file is not a regular file", hint)]) from exc
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and _looks_like_token(path.name):
            message = (
                "token_file does not name a readable file (is the token itself written there?)"
            )
            hint = "write the token into a file and name that file in token_file"
            pasted = ConfigProblem(str(path.parent), key, message, hint=hint)
            raise ConfigError([pasted]) from None
        reason = exc.strerror or type(exc).__name__
        hint = "make the file readable by the user poster runs as (and by no one else)"
        raise ConfigError([_with(problem, f"cannot read the token file: {reason}", hint)]) from exc
    if len(raw) > MAX_TOKEN_FILE:
        hint = "name the file that holds the token, and only the token"
        message = f"the token file is larger than {MAX_TOKEN_FILE >> 10} KiB"
        raise ConfigError([_with(problem, message, hint)])
    # Undecodable bytes become U+FFFD, which token_problem rejects without quoting them.
    token = raw.decode("utf-8", errors="replace").strip()
    _check(token, problem)
    return token, problem


def _looks_like_token(name: str) -> bool:
    """Tell whether a file name that cannot be read is more likely a token pasted in its place.

    Such a name is long, has no extension, mixes letters and digits and could go in a header;
    an error then names its folder only, so that it never quotes a token.
    """
    return (
        len(name) > _TOKEN_LIKE
        and "." not in name
        and any(ch.isdigit() for ch in name)
        and any(ch.isalpha() for ch in name)
        and token_problem(name) is None
    )


_TOKEN_LIKE = 20
"""A file name longer than this that reads like a token is not quoted in an error."""


def _check(token: str, problem: ConfigProblem) -> None:
    """Raise ConfigError when ``token`` is not usable, naming where it came from."""
    reason = token_problem(token)
    if reason:
        raise ConfigError([_with(problem, f"the token {reason}", problem.hint)])


def _with(problem: ConfigProblem, message: str, hint: str | None) -> ConfigProblem:
    """Return ``problem`` with its message and hint filled in."""
    return ConfigProblem(problem.file, problem.key, message, problem.feed, hint)
