"""Check that the units of work the scheduler groups and starts first name modules and tests that
exist, so that a renamed module or test cannot silently drop out of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.scheduling import LONGEST_FIRST, SHARED_SETUP

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("module", sorted(SHARED_SETUP))
def test_each_module_sharing_a_setup_exists(module: str) -> None:
    assert (ROOT / module).is_file()


@pytest.mark.parametrize("unit", LONGEST_FIRST)
def test_each_unit_started_first_is_a_shared_unit_or_a_test(unit: str) -> None:
    if unit in SHARED_SETUP.values():
        return
    module, _, test = unit.partition("::")
    assert test, f"{unit} is neither a unit of SHARED_SETUP nor a test's id"
    assert module not in SHARED_SETUP, f"{module}'s tests go out as its unit"
    name = test.split("[", 1)[0]
    assert f"\ndef {name}(" in (ROOT / module).read_text(encoding="utf-8")
