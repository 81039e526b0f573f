"""Test that the code compiled for records is kept between processes, and used only as compiled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from poster import keptcode

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A process's first look at a cache folder of the test's own; the folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    monkeypatch.setattr(keptcode, "_KEPT", keptcode._Kept())
    return tmp_path / "poster"


def _run(source: str, name: str) -> object:
    """Run ``code`` compiled from ``source`` and return what its ``f()`` gives."""
    space: dict[str, object] = {}
    exec(keptcode.compiled(source, name), space)
    return space["f"]()  # type: ignore[operator]


def test_code_is_kept_by_its_exact_source_and_name(fresh: Path) -> None:
    assert _run("def f():\n    return 1\n", "<record A>") == 1
    keptcode._save()
    keptcode._KEPT = keptcode._Kept()
    assert _run("def f():\n    return 1\n", "<record A>") == 1
    assert not keptcode._KEPT.added
    assert _run("def f():\n    return 2\n", "<record A>") == 2
    assert keptcode.compiled("def f(): pass\n", "<record B>").co_filename == "<record B>"


@pytest.mark.parametrize(
    "damage", ["truncated", "not code", "marshalled but not code", "writable by others"]
)
def test_a_file_poster_cannot_trust_only_means_compiling(fresh: Path, damage: str) -> None:
    _run("def f():\n    return 1\n", "<record A>")
    keptcode._save()
    [kept] = fresh.iterdir()
    if damage == "truncated":
        kept.write_bytes(kept.read_bytes()[:20])
    elif damage == "not code":
        import marshal

        kept.write_bytes(marshal.dumps({("<record A>", "def f():\n    return 1\n"): "evil"}))
    elif damage == "marshalled but not code":
        import marshal

        key = ("<record A>", "def f():\n    return 1\n")
        kept.write_bytes(marshal.dumps({key: marshal.dumps("evil")}))
    else:
        kept.chmod(0o666)
    keptcode._KEPT = keptcode._Kept()
    assert _run("def f():\n    return 1\n", "<record A>") == 1
    assert keptcode._KEPT.added


def test_a_second_process_compiles_no_record(tmp_path: Path) -> None:
    probe = (
        "import builtins, sys\ncompiled = []\noriginal = builtins.compile\n"
        "def noted(source, name, *args, **kwargs):\n"
        "    if str(name).startswith('<record'):\n"
        "        compiled.append(name)\n"
        "    return original(source, name, *args, **kwargs)\n"
        "builtins.compile = noted\n"
        "from poster.config import FeedConfig\n"
        "FeedConfig(name='news', url='https://example.org/feed')\n"
        "print(len(compiled))"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env
        )
        for _ in range(2)
    ]
    assert int(runs[0].stdout) > 0
    assert int(runs[1].stdout) == 0, runs[1].stderr
