"""Check that the units of work the scheduler groups and starts first name modules and tests that
exist, so that a renamed module or test cannot silently drop out of them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from support.scheduling import BATCH, LONGEST_FIRST, SHARED_SETUP, SharedSetupScheduling

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


class Config:
    """The little of pytest's config the scheduler reads: two workers, tests in given order."""

    option = SimpleNamespace(loadscopereorder=False)

    def getvalue(self, name: str) -> list[str]:
        assert name == "tx"
        return ["2*popen"]


class Worker:
    """A worker that records the tests it is sent, by their index in its collection."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[list[int]] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.append(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


LONG = LONGEST_FIRST[-1]
SHORT = [f"tests/test_short.py::test_{n}" for n in range(10)]


def scheduled(collection: list[str]) -> tuple[SharedSetupScheduling, Worker, Worker]:
    """Return a scheduler that has handed out its first work to two workers."""
    scheduler = SharedSetupScheduling(Config())  # type: ignore[arg-type]
    first, second = Worker("gw0"), Worker("gw1")
    for worker in (first, second):
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()
    return scheduler, first, second


def test_short_tests_go_out_a_few_at_a_time_and_a_long_one_alone_first() -> None:
    collection = [*SHORT, LONG]
    scheduler, first, second = scheduled(collection)
    assert first.sent == [[len(SHORT)], list(range(BATCH, 2 * BATCH))]
    assert second.sent == [list(range(BATCH))]
    for index in range(2):
        scheduler.mark_test_complete(second, index)  # type: ignore[arg-type]
    assert second.sent[1:] == [list(range(2 * BATCH, len(SHORT)))]
    every = sorted(i for worker in (first, second) for batch in worker.sent for i in batch)
    assert every == list(range(len(collection)))


def test_finished_units_are_forgotten_and_a_crash_names_the_test_cut_short() -> None:
    collection = [LONG, *SHORT]
    scheduler, first, _ = scheduled(collection)
    for index in first.sent[0] + first.sent[1][:2]:
        scheduler.mark_test_complete(first, index)  # type: ignore[arg-type]
    pending = [collection[i] for batch in first.sent for i in batch][3:]
    assert [test for unit in scheduler.assigned_work[first].values() for test in unit] == pending
    assert scheduler.remove_node(first) == pending[0]  # type: ignore[arg-type]
