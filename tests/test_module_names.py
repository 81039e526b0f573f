"""Prove that each module name in ``poster/`` says one thing: no basename is used twice.

The exception is a destination kind's shape: every kind's folder may hold the same few files,
each doing for its kind what the others do for theirs. ``SHAPE`` lists them with their reason,
and they are allowed only inside the kinds' folders the registry names.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from poster.destinations import KINDS

POSTER = Path(__file__).parents[1] / "poster"
SHAPE: dict[str, str] = {
    "kind.py": "the kind's entry the registry imports: its keys, types and how it opens",
    "compose.py": "the kind's message composed from a rendered post under its own limits",
    "api.py": "the kind's client of its remote API",
    "schema.py": "the typed requests and results of the kind's API",
    "codes.py": "the kind's table of API errors and what poster does about each",
    "rules.py": "the request checks of the kind's API reference, for its fake and client",
    "adapter.py": "the gateway kind's client adapted to the shared gateway destination",
    "fake.py": "the gateway kind's strict fake served over HTTP for tests and the sandbox",
    "fakestate.py": "the state of the gateway kind's fake account, answering its API calls",
    "sandboxed.py": "what the gateway kind's fake offers the combined sandbox",
}
"""Basenames every kind's folder may hold, and what each holds."""


def kind_folders() -> set[Path]:
    """Return the folder of each kind the registry names that lives in a folder of its own."""
    folders = {POSTER.joinpath(*module.split(".")[1:-1]) for module in KINDS.values()}
    return folders - {POSTER / "destinations"}


def modules_by_name(root: Path = POSTER) -> dict[str, list[Path]]:
    """Return every module under ``root`` but packages' ``__init__``, grouped by basename."""
    names: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(root.rglob("*.py")):
        if path.name not in ("__init__.py", "__main__.py"):
            names[path.name].append(path)
    return names


def in_a_kind(path: Path, folders: set[Path]) -> bool:
    """Tell whether ``path`` lies inside one of the kinds' ``folders``."""
    return any(path.is_relative_to(folder) for folder in folders)


def used_twice(root: Path, folders: set[Path]) -> dict[str, list[str]]:
    """Return each basename under ``root`` used twice or more, but the shape inside ``folders``."""
    return {
        name: [str(path.relative_to(root)) for path in paths]
        for name, paths in modules_by_name(root).items()
        if len(paths) > 1
        and not (name in SHAPE and all(in_a_kind(path, folders) for path in paths))
    }


def test_no_module_name_is_used_twice_outside_the_kinds_shape() -> None:
    assert used_twice(POSTER, kind_folders()) == {}


def test_a_shape_name_is_used_only_in_the_kinds_folders() -> None:
    folders = kind_folders()
    stray = [
        str(path.relative_to(POSTER))
        for name in SHAPE
        for path in modules_by_name().get(name, [])
        if not in_a_kind(path, folders)
    ]
    assert stray == []


def test_every_shape_name_is_shared_by_two_kinds_at_least() -> None:
    names = modules_by_name()
    lone = [name for name in SHAPE if len(names.get(name, [])) < 2]
    assert lone == []


def test_a_name_used_twice_is_caught_unless_it_is_the_shape_in_kinds(tmp_path: Path) -> None:
    files = ["config/keys.py", "parse/keys.py", "a/api.py", "b/api.py", "a/kind.py", "kind.py"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("", encoding="utf-8")
    found = used_twice(tmp_path, {tmp_path / "a", tmp_path / "b"})
    assert found == {
        "keys.py": ["config/keys.py", "parse/keys.py"],
        "kind.py": ["a/kind.py", "kind.py"],
    }
