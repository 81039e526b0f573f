"""Frozen records: ``dataclass(frozen=True)`` classes made with one compiled method, not six.

A frozen dataclass gets its ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` written as source and compiled while its module is
imported: 0.7–1.3 ms a class, so a command that makes twenty records spent 15–25 ms on it
before reading anything. ``frozen`` lets ``dataclasses`` read the fields, so ``fields()``,
``replace()`` and ``asdict()`` work as ever, compiles only the ``__init__``, whose speed
matters, and gives the class the other five as functions over its fields, made without
compiling: a quarter of the cost. A record behaves as the frozen dataclass would
(``tests/test_frozen.py`` holds the two side by side); it takes no ``InitVar`` and no
keyword-only field.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, FrozenInstanceError, InitVar, dataclass, field, fields
from operator import attrgetter
from reprlib import recursive_repr
from typing import Any, TypeVar, dataclass_transform

__all__ = ["frozen"]

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
def frozen(cls: type[_T], /) -> type[_T]:
    """Make ``cls`` a frozen dataclass; a class's own ``__init__`` is kept, as dataclass does."""
    documented = bool(cls.__dict__.get("__doc__"))
    made: Any = dataclass(init=False, repr=False, eq=False)(cls)
    _refuse_unsupported(made)
    every = fields(made)
    written = made.__dict__
    if "__init__" not in written:
        _attach(made, "__init__", _init(made, every))
    if "__repr__" not in written:
        _attach(made, "__repr__", _repr(made, [f.name for f in every if f.repr]))
    compared = [f.name for f in every if f.compare]
    hashed = [f.name for f in every if (f.compare if f.hash is None else f.hash)]
    own_hash, own_eq = written.get("__hash__", MISSING), "__eq__" in written
    if not own_eq:
        _attach(made, "__eq__", _eq(_values(compared)))
    if own_hash is MISSING or (own_hash is None and own_eq):
        _attach(made, "__hash__", _hash(_values(hashed)))
    names = frozenset(f.name for f in every)
    _attach(made, "__setattr__", _setattr(made, names))
    _attach(made, "__delattr__", _delattr(made, names))
    if not documented:
        made.__doc__ = made.__name__ + str(inspect.signature(made)).replace(" -> None", "")
    return made  # type: ignore[no-any-return]


def _refuse_unsupported(cls: Any) -> None:
    """Raise ``TypeError`` for what only ``dataclass`` itself handles."""
    for f in cls.__dataclass_fields__.values():
        if f.kw_only is True or isinstance(f.type, InitVar) or "InitVar" in str(f.type):
            raise TypeError(f"{cls.__qualname__}.{f.name}: a record takes no InitVar or kw_only")
        if f.name == "self":
            raise TypeError(f"{cls.__qualname__}: a record has no field named 'self'")
    for name in ("__setattr__", "__delattr__"):
        if name in cls.__dict__:
            raise TypeError(f"cannot overwrite attribute {name} in class {cls.__name__}")


def _attach(cls: Any, name: str, function: Callable[..., Any]) -> None:
    """Set ``function`` on ``cls`` under ``name``, named as a method written in the class."""
    function.__name__ = name
    function.__qualname__ = f"{cls.__qualname__}.{name}"
    function.__module__ = cls.__module__
    setattr(cls, name, function)


def _init(cls: Any, every: Sequence[Field[Any]]) -> Callable[..., None]:
    """Compile the ``__init__`` a frozen dataclass would have, filling the fields at once."""
    space: dict[str, Any] = {"_MISSING_FACTORY": _MISSING_FACTORY}
    params, values = [], []
    defaulted = None
    for f in every:
        space[f"_type_{f.name}"] = f.type
        if not f.init:
            if f.default is not MISSING:
                space[f"_default_{f.name}"] = f.default
                values.append(f"{f.name!r}: _default_{f.name}")
            elif f.default_factory is not MISSING:
                space[f"_factory_{f.name}"] = f.default_factory
                values.append(f"{f.name!r}: _factory_{f.name}()")
            continue
        if f.default is not MISSING:
            space[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}: _type_{f.name} = _default_{f.name}")
            values.append(f"{f.name!r}: {f.name}")
        elif f.default_factory is not MISSING:
            space[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}: _type_{f.name} = _MISSING_FACTORY")
            values.append(
                f"{f.name!r}: _factory_{f.name}() if {f.name} is _MISSING_FACTORY else {f.name}"
            )
        else:
            if defaulted is not None:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            params.append(f"{f.name}: _type_{f.name}")
            values.append(f"{f.name!r}: {f.name}")
        if f.default is not MISSING or f.default_factory is not MISSING:
            defaulted = f.name
    body = f"    self.__dict__.update({{{', '.join(values)}}})\n" if values else ""
    if hasattr(cls, "__post_init__"):
        body += "    self.__post_init__()\n"
    source = f"def __init__(self, {', '.join(params)}) -> None:\n{body or '    pass'}\n"
    # dont_inherit: the annotations stay the fields' types, not this module's strings.
    code = compile(source, f"<record {cls.__qualname__}>", "exec", dont_inherit=True)
    exec(code, space)
    return space["__init__"]  # type: ignore[no-any-return]


class _MissingFactory:
    """The default of a field with a ``default_factory``: replaced by a fresh value."""

    def __repr__(self) -> str:
        return "<factory>"


_MISSING_FACTORY = _MissingFactory()


def _values(names: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """Return a function giving a record's ``names`` fields as a tuple."""
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    if not names:
        return lambda self: ()
    return attrgetter(*names)


def _repr(cls: Any, names: Sequence[str]) -> Callable[[Any], str]:
    """Return the ``__repr__`` of a dataclass showing ``names``."""

    @recursive_repr()
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__


def _eq(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, object], Any]:
    """Return the ``__eq__`` of a dataclass comparing the fields ``values`` gives."""

    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    """Return the ``__hash__`` of a frozen dataclass over the fields ``values`` gives."""
    return lambda self: hash(values(self))


def _setattr(cls: Any, names: frozenset[str]) -> Callable[[Any, str, Any], None]:
    """Return the ``__setattr__`` of a frozen dataclass."""

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    return __setattr__


def _delattr(cls: Any, names: frozenset[str]) -> Callable[[Any, str], None]:
    """Return the ``__delattr__`` of a frozen dataclass."""

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __delattr__
