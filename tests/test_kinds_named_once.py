"""Prove that only a kind's own folder and the registry name a kind of destination.

A kind is named by importing its folder (``poster.destinations.viber``) or by writing its name
as a string (``"viber"``). Everything else reaches a kind through the registry's calls, which
name none: ``kind(spec.kind)``, ``shorthand()`` for the section a kind declares, ``fixed_limit``
for the limits kinds put on fixed messages, ``stand_in`` for the recording destination a
preview puts in each destination's place, and ``sandbox_host()`` for the kind whose sandbox the
sandbox commands open. Writing ``kind("recording")`` outside the registry still names a kind and
is caught. There are no exceptions: adding a kind is its folder and one registry line.
"""

from __future__ import annotations

import ast
from pathlib import Path

from poster.destinations import KINDS

POSTER = Path(__file__).parents[1] / "poster"
REGISTRY = POSTER / "destinations" / "__init__.py"


def kind_homes() -> dict[str, Path]:
    """Return each kind's name and the folder (or module) that implements it."""
    homes = {}
    for name, module in KINDS.items():
        parts = module.split(".")
        package = POSTER.joinpath(*parts[1:-1])
        homes[name] = (
            package
            if package != POSTER / "destinations"
            else POSTER.joinpath(*parts[1:]).with_suffix(".py")
        )
    return homes


def namings(path: Path, homes: dict[str, Path], text: str | None = None) -> list[str]:
    """Return each place in ``path`` (or ``text`` as if it were there) naming a foreign kind."""
    tree = ast.parse(path.read_text(encoding="utf-8") if text is None else text)
    place = path.relative_to(POSTER)
    foreign = {
        name: "poster." + ".".join(home.relative_to(POSTER).with_suffix("").parts)
        for name, home in homes.items()
        if not (path.is_relative_to(home) or path == home)
    }
    found = []
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif not isinstance(node, ast.Constant):
            continue  # only imports and constants can name a kind
        for name, dotted in foreign.items():
            if any(m == dotted or m.startswith(dotted + ".") for m in modules):
                found.append(f"{place}:{node.lineno} imports {dotted}")
            if isinstance(node, ast.Constant) and node.value == name:
                found.append(f"{place}:{node.lineno} names kind {name!r}")
    return found


def test_no_module_outside_a_kind_and_the_registry_names_a_kind() -> None:
    homes = kind_homes()
    found = [
        naming
        for path in sorted(POSTER.rglob("*.py"))
        if path != REGISTRY
        for naming in namings(path, homes)
    ]
    assert found == []


def test_the_check_finds_an_import_and_a_kind_written_out() -> None:
    text = 'from poster.destinations.viber.api import ViberChannel\nKIND = "viber"\n'
    assert namings(POSTER / "ops/status.py", kind_homes(), text) == [
        "ops/status.py:1 imports poster.destinations.viber",
        "ops/status.py:2 names kind 'viber'",
    ]


def test_asking_the_registry_for_a_kind_by_its_name_still_names_it() -> None:
    text = 'from poster.destinations import kind\nRECORDER = kind("recording")\n'
    assert namings(POSTER / "app.py", kind_homes(), text) == ["app.py:2 names kind 'recording'"]
