"""The test modules rewritten once before the workers start are what pytest would load."""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.assertion import rewrite
from support.rewrite import rewrite_stale

MODULE = "def test_sum():\n    total = 1 + 1\n    assert total == 3\n"


def _kept(module: Path) -> Path:
    return module.parent / "__pycache__" / (module.name[:-3] + rewrite.PYC_TAIL)


def test_stale_modules_are_rewritten_once_and_kept_where_pytest_looks(tmp_path: Path) -> None:
    modules = [tmp_path / f"test_m{n}.py" for n in range(3)]
    for module in modules:
        module.write_text(MODULE, encoding="utf-8")
    assert rewrite_stale(modules, 2) == 3
    code = rewrite._read_pyc(modules[0], _kept(modules[0]))
    assert code is not None
    namespace: dict[str, object] = {}
    exec(code, namespace)
    with pytest.raises(AssertionError, match=r"assert 2 == 3"):
        namespace["test_sum"]()  # type: ignore[operator]
    assert rewrite_stale(modules, 2) == 0  # all current now


def test_a_changed_module_is_rewritten_again(tmp_path: Path) -> None:
    modules = [tmp_path / f"test_m{n}.py" for n in range(2)]
    for module in modules:
        module.write_text(MODULE, encoding="utf-8")
    rewrite_stale(modules, 2)
    for module in modules:
        module.write_text(MODULE.replace("3", "4"), encoding="utf-8")
    assert rewrite_stale(modules, 2) == 2
    code = rewrite._read_pyc(modules[1], _kept(modules[1]))
    namespace: dict[str, object] = {}
    exec(code, namespace)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match=r"assert 2 == 4"):
        namespace["test_sum"]()  # type: ignore[operator]
