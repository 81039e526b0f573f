"""A record made by ``frozen`` behaves as the same class made by ``dataclass(frozen=True)``."""

from __future__ import annotations

import ast
import copy
import inspect
import pickle
from collections.abc import Callable
from dataclasses import KW_ONLY, FrozenInstanceError, InitVar, asdict, dataclass, field, fields
from dataclasses import replace as replaced
from pathlib import Path
from typing import Any, ClassVar

import pytest

from poster.frozen import frozen

POSTER = Path(__file__).resolve().parent.parent / "poster"
STDLIB = dataclass(frozen=True)


def _shapes(make: Callable[[type], Any]) -> dict[str, Any]:
    """Return one class of each shape the records use, made by ``make``."""

    class Plain:
        """Two fields without defaults."""

        url: str
        count: int

    class Defaults:
        """Defaults, a factory, a field left out of eq and one out of repr, a class constant."""

        name: str
        tags: list[str] = field(default_factory=list)
        note: str | None = None
        seen: int = field(default=0, compare=False)
        secret: str = field(default="", repr=False)
        kind: ClassVar[str] = "defaults"

    class Hashing:
        """A field hashed though not compared, and one compared though not hashed."""

        a: int
        b: int = field(default=0, compare=False, hash=True)
        c: int = field(default=0, hash=False)

    class Checked:
        """A ``__post_init__`` that derives a field and refuses a bad value."""

        text: str
        length: int = field(default=0, init=False)

        def __post_init__(self) -> None:
            if not self.text:
                raise ValueError("text is empty")
            object.__setattr__(self, "length", len(self.text))

    class Undocumented:
        one: int
        two: str = "2"

    class Empty:
        """No field at all."""

    base = make(Defaults)

    class Derived(base):  # type: ignore[valid-type, misc]
        """A record that adds a field to another."""

        extra: float = 1.5

    class OwnInit:
        """A record that writes its own ``__init__``."""

        value: int
        double: int = 0

        def __init__(self, value: int) -> None:
            object.__setattr__(self, "value", value)
            object.__setattr__(self, "double", 2 * value)

    shapes = {c.__name__: c for c in (Plain, Hashing, Checked, Undocumented, Empty, OwnInit)}
    return {**{name: make(c) for name, c in shapes.items()}, "Defaults": base,
            "Derived": make(Derived)}  # fmt: skip


SAMPLES: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {
    "Plain": [(("https://a.example/feed", 3), {}), (("https://b.example/feed", 0), {})],
    "Defaults": [(("a",), {}), (("a",), {"tags": ["x"], "seen": 4, "secret": "s"}), (("b",), {})],
    "Hashing": [((1,), {}), ((1,), {"b": 2, "c": 3}), ((2,), {"c": 3})],
    "Checked": [(("abc",), {}), (("ab",), {})],
    "Undocumented": [((1,), {}), ((1, "3"), {})],
    "Empty": [((), {})],
    "Derived": [(("a",), {}), (("a",), {"extra": 2.0}), (("a", ["t"]), {"note": "n"})],
    "OwnInit": [((4,), {}), ((5,), {})],
}


@pytest.fixture(scope="module")
def pairs() -> dict[str, tuple[Any, Any]]:
    """Each shape made both ways: (the standard library's, ours)."""
    ours, theirs = _shapes(frozen), _shapes(STDLIB)
    return {name: (theirs[name], ours[name]) for name in ours}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_record_is_made_and_shown_as_the_frozen_dataclass(pairs: dict, name: str) -> None:
    theirs, ours = pairs[name]
    assert str(inspect.signature(ours)) == str(inspect.signature(theirs))
    assert ours.__init__.__annotations__ == theirs.__init__.__annotations__
    assert ours.__doc__.replace(ours.__qualname__, "") == theirs.__doc__.replace(
        theirs.__qualname__, ""
    )
    assert [f.name for f in fields(ours)] == [f.name for f in fields(theirs)]
    assert ours.__match_args__ == theirs.__match_args__
    for args, kwargs in SAMPLES[name]:
        mine, stdlib = ours(*args, **kwargs), theirs(*args, **kwargs)
        assert repr(mine) == repr(stdlib)
        assert vars(mine) == vars(stdlib)
        assert asdict(mine) == asdict(stdlib)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_record_compares_and_hashes_as_the_frozen_dataclass(pairs: dict, name: str) -> None:
    theirs, ours = pairs[name]
    made = [(ours(*a, **k), theirs(*a, **k)) for a, k in SAMPLES[name]]
    for mine, stdlib in made:
        assert _outcome(hash, mine) == _outcome(hash, stdlib)
        for other_mine, other_stdlib in made:
            assert (mine == other_mine) == (stdlib == other_stdlib)
            assert (mine != other_mine) == (stdlib != other_stdlib)
        assert mine != stdlib
        assert (mine == (1, 2)) is False


def _outcome(function: Callable[[Any], Any], value: Any) -> object:
    """Return what ``function(value)`` gives, or the type of what it raises."""
    try:
        return function(value)
    except Exception as exc:
        return type(exc)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_record_refuses_every_change_as_the_frozen_dataclass(pairs: dict, name: str) -> None:
    theirs, ours = pairs[name]
    args, kwargs = SAMPLES[name][0]
    for made in (ours(*args, **kwargs), theirs(*args, **kwargs)):
        for attribute in [f.name for f in fields(made)] + ["not_a_field"]:
            with pytest.raises(FrozenInstanceError, match=f"cannot assign to field '{attribute}'"):
                setattr(made, attribute, 1)
        for f in fields(made):
            with pytest.raises(FrozenInstanceError, match=f"cannot delete field '{f.name}'"):
                delattr(made, f.name)


def test_replace_copy_and_pickle_keep_a_record() -> None:
    from poster.config import FeedConfig

    feed = FeedConfig(name="news", url="https://example.com/feed")
    other = replaced(feed, url="https://example.com/other")
    assert (other.name, other.url, type(other)) == ("news", "https://example.com/other", FeedConfig)
    assert copy.deepcopy(feed) == feed and copy.copy(feed) == feed
    assert pickle.loads(pickle.dumps(feed)) == feed
    assert hash(pickle.loads(pickle.dumps(feed))) == hash(feed)


def test_the_checks_of_init_are_the_frozen_dataclass_own(pairs: dict) -> None:
    for theirs, ours in (pairs["Checked"], pairs["Plain"]):
        with pytest.raises(Exception) as stdlib:
            theirs("") if theirs.__name__ == "Checked" else theirs("only url")
        with pytest.raises(Exception) as mine:
            ours("") if ours.__name__ == "Checked" else ours("only url")
        assert type(mine.value) is type(stdlib.value)
    theirs, ours = pairs["Defaults"]
    assert ours("a").tags is not ours("a").tags
    with pytest.raises(ValueError, match="init=False"):
        replaced(pairs["Checked"][1]("abc"), length=1)


def test_a_shape_a_record_cannot_take_is_refused_when_the_class_is_made() -> None:
    class NonDefaultAfterDefault:
        a: int = 0
        b: int

    class KeywordOnly:
        a: int
        _: KW_ONLY
        b: int = 0

    class InitOnly:
        a: int
        scale: InitVar[int] = 1

    class WritesSetattr:
        a: int

        def __setattr__(self, name: str, value: object) -> None:
            object.__setattr__(self, name, value)

    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        frozen(NonDefaultAfterDefault)
    for shape in (KeywordOnly, InitOnly):
        with pytest.raises(TypeError, match="takes no InitVar or kw_only"):
            frozen(shape)
    with pytest.raises(TypeError, match="cannot overwrite attribute __setattr__"):
        frozen(WritesSetattr)


def test_poster_makes_its_frozen_records_with_frozen() -> None:
    """A frozen dataclass made the standard way would cost start-up the compiling saved here."""
    found = []
    for path in sorted(POSTER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for decorator in node.decorator_list:
                    if isinstance(decorator, ast.Call) and any(
                        k.arg == "frozen" for k in decorator.keywords
                    ):
                        found.append(f"{path.relative_to(POSTER)}:{node.name}")
    assert found == []


def test_a_plain_class_deriving_from_a_record_stays_a_base_for_records() -> None:
    def make(decorate: Callable[[type], Any]) -> Any:
        class Base:
            """A record with a default."""

            x: int = 0

        base = decorate(Base)

        class Plain(base):  # type: ignore[valid-type, misc]
            """A plain class between two records."""

        assert fields(Plain)[0].name == "x"  # dataclasses looks at the plain class first

        class Top(Plain):
            """A record deriving from the plain class."""

            y: int = 1

        return decorate(Top)

    ours, theirs = make(frozen), make(STDLIB)
    assert repr(ours(2, 3)).split("(")[1] == repr(theirs(2, 3)).split("(")[1] == "x=2, y=3)"
    assert [f.name for f in fields(ours)] == ["x", "y"]


def test_a_class_constant_given_with_field_is_its_default() -> None:
    def constant() -> type:
        class Constant:
            """A class constant with a field() default."""

            a: int
            t: ClassVar[int] = field(default=1)

        return Constant

    ours, theirs = frozen(constant()), STDLIB(constant())
    assert ours.t == 1 == theirs.t
    assert [f.name for f in fields(ours)] == ["a"]


def test_a_record_that_holds_itself_or_is_subclassed_is_shown_as_the_dataclass() -> None:
    def make(decorate: Any) -> Any:
        @decorate
        class Node:
            """A record that may hold itself."""

            name: str
            children: list[Any]

        class Leaf(Node):
            """A plain subclass, shown by its record's repr."""

        return Node, Leaf

    (ours, our_leaf), (theirs, their_leaf) = make(frozen), make(STDLIB)
    mine, stdlib = ours("a", []), theirs("a", [])
    mine.children.append(mine)
    stdlib.children.append(stdlib)
    assert repr(mine) == repr(stdlib)
    assert repr(mine).endswith(".Node(name='a', children=[...])")
    shown = repr(our_leaf("b", [ours("c", [])]))
    assert shown == repr(their_leaf("b", [theirs("c", [])]))
    assert shown.split("(")[0].endswith(".Leaf")
