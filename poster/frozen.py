"""Frozen records: classes that behave as ``dataclass(frozen=True)`` ones, made without it.

A frozen dataclass gets its ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` written as source and compiled while its module is
imported: 0.7–1.3 ms a class. Loading ``dataclasses`` itself loads ``inspect``, ``ast``,
``dis`` and ``tokenize``: another 5 ms, a tenth of what ``status`` may take. ``frozen``
reads the fields from the class's annotations as ``dataclass`` does, compiles only the
``__init__``, whose speed matters, and gives the class the other five as functions over its
fields, made without compiling.

``dataclasses.fields()``, ``replace()``, ``asdict()`` and ``is_dataclass()`` work on a record
as ever: its ``__dataclass_fields__`` are made, with ``dataclasses``, the first time something
asks for them. Modules on the commands' path use this module's ``fields`` and ``replace``,
which need no ``dataclasses``. A record behaves as the frozen dataclass would
(``tests/test_frozen.py`` holds the two side by side); it takes no ``InitVar`` and no
keyword-only field, and its bases are records or plain classes.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from reprlib import recursive_repr
from typing import TYPE_CHECKING, Any, TypeVar, dataclass_transform

from poster.keptcode import compiled

__all__ = ["Spec", "field", "fields", "frozen", "replace"]

_T = TypeVar("_T")


class _Missing:
    """No default: the marker ``dataclasses.MISSING`` is, for a record."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Spec:
    """One field of a record: its name, annotation, default and what it takes part in."""

    __slots__ = (
        *("compare", "default", "default_factory", "hash", "init", "metadata", "name"),
        *("repr", "type"),
    )

    def __init__(
        self,
        default: Any = MISSING,
        default_factory: Any = MISSING,
        init: bool = True,
        repr: bool = True,
        hash: bool | None = None,
        compare: bool = True,
        metadata: Mapping[Any, Any] | None = None,
    ) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.default, self.default_factory = default, default_factory
        self.init, self.repr, self.hash, self.compare = init, repr, hash, compare
        self.metadata: Mapping[Any, Any] = {} if metadata is None else metadata
        self.name = ""
        self.type: Any = None

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _SPEC_SHOWN)
        return f"Spec({shown})"

    def has_default(self) -> bool:
        """Tell whether ``__init__`` may leave this field out."""
        return self.default is not MISSING or self.default_factory is not MISSING


_SPEC_SHOWN = ("name", "type", "default", "default_factory", "init", "repr", "hash", "compare")


if TYPE_CHECKING:
    # Typed as the standard one: mypy reads a record's fields through it.
    from dataclasses import field as field
else:
    field = Spec  # field(default=..., ...) describes a field, as dataclasses.field does


_FIELDS = "__record_fields__"
"""The class attribute holding a record's fields, each a ``Spec``, in order."""


def fields(record: Any) -> tuple[Any, ...]:
    """Return the fields of a record or of its class, in order; of a dataclass, its ``Field``s."""
    own = getattr(record, _FIELDS, None)
    if own is None:
        import dataclasses

        return dataclasses.fields(record)
    return tuple(own.values())


def _replace(record: _T, /, **changes: Any) -> _T:
    """Return a copy of ``record`` with ``changes``, as ``dataclasses.replace`` does."""
    own = getattr(record, _FIELDS, None)
    if own is None:
        import dataclasses

        return dataclasses.replace(record, **changes)  # type: ignore[type-var]
    for spec in own.values():
        if not spec.init:
            if spec.name in changes:
                raise ValueError(
                    f"field {spec.name} is declared with init=False, it cannot be specified with "
                    "replace()"
                )
        elif spec.name not in changes:
            changes[spec.name] = getattr(record, spec.name)
    return record.__class__(**changes)


if TYPE_CHECKING:
    # Typed as the standard one, so that mypy checks the names and types of the changes.
    from dataclasses import replace as replace
else:
    replace = _replace


@dataclass_transform(frozen_default=True, field_specifiers=(field, Spec))
def frozen(cls: type[_T], /) -> type[_T]:
    """Make ``cls`` a record; a class's own ``__init__`` is kept, as dataclass does."""
    every = _fields_of(cls)
    written = cls.__dict__
    for name in ("__setattr__", "__delattr__"):
        if name in written:
            raise TypeError(f"cannot overwrite attribute {name} in class {cls.__name__}")
    made: Any = cls
    made.__record_fields__ = {spec.name: spec for spec in every}
    made.__dataclass_fields__ = _DataclassView("__dataclass_fields__")
    made.__dataclass_params__ = _DataclassView("__dataclass_params__")
    if "__init__" not in written:
        _attach(made, "__init__", _init(made, every))
    if "__repr__" not in written:
        _attach(made, "__repr__", _repr([s.name for s in every if s.repr]))
    compared = [s.name for s in every if s.compare]
    hashed = [s.name for s in every if (s.compare if s.hash is None else s.hash)]
    own_hash, own_eq = written.get("__hash__", MISSING), "__eq__" in written
    if not own_eq:
        _attach(made, "__eq__", _eq(_values(compared)))
    if own_hash is MISSING or (own_hash is None and own_eq):
        _attach(made, "__hash__", _hash(_values(hashed)))
    names = frozenset(s.name for s in every)
    _attach(made, "__setattr__", _setattr(made, names))
    _attach(made, "__delattr__", _delattr(made, names))
    if "__match_args__" not in written:
        setattr(made, "__match_args__", tuple(s.name for s in every if s.init))  # noqa: B010
    if not written.get("__doc__"):
        made.__doc__ = _Signature()
    return cls


# What ``dataclasses`` takes for a ``ClassVar`` or an ``InitVar`` written as a string: the
# name, bare or after a module's, at the start of the annotation. Compiled the first time an
# annotation holds one of the names.
_TYPE_NAME = r"^(?:\s*(\w+)\s*\.)?\s*(\w+)"
_SPECIAL = ("ClassVar", "InitVar", "KW_ONLY")


def _fields_of(cls: type) -> list[Spec]:
    """Return the fields of ``cls``, its bases' first; refuse what a record cannot take."""
    found: dict[str, Spec] = {}
    for base in cls.__mro__[-1:0:-1]:
        if _FIELDS in base.__dict__:
            found.update(base.__dict__[_FIELDS])
        elif "__dataclass_fields__" in base.__dict__:
            raise TypeError(f"{cls.__qualname__}: a record's base {base.__qualname__} is not one")
    written = cls.__dict__
    annotations = written.get("__annotations__", {})
    for name, annotation in annotations.items():
        kind = _kind(annotation)
        if kind == "ClassVar":
            _class_constant(cls, name, written.get(name))
            continue
        if kind in ("InitVar", "KW_ONLY"):
            raise TypeError(f"{cls.__qualname__}.{name}: a record takes no InitVar or kw_only")
        found[name] = _spec(cls, name, annotation, written.get(name, MISSING))
    for name, value in written.items():
        if _is_spec(value) and name not in annotations:
            raise TypeError(f"{name!r} is a field but has no type annotation")
    if "self" in found:
        raise TypeError(f"{cls.__qualname__}: a record has no field named 'self'")
    return list(found.values())


def _class_constant(cls: type, name: str, value: object) -> None:
    """Leave a class constant given with ``field()`` as its default, as dataclass does."""
    if _is_spec(value):
        default: Any = getattr(value, "default", MISSING)
        theirs = getattr(sys.modules.get("dataclasses"), "MISSING", MISSING)
        _leave_default(cls, name, MISSING if default is theirs else default)


def _leave_default(cls: type, name: str, default: Any) -> None:
    """Put the default of a field given with ``field()`` in its place on the class, or none."""
    if default is MISSING:
        delattr(cls, name)
    else:
        setattr(cls, name, default)


def _kind(annotation: object) -> str | None:
    """Return "ClassVar", "InitVar" or "KW_ONLY" for an annotation that is one, else None."""
    if isinstance(annotation, str):
        if not any(special in annotation for special in _SPECIAL):
            return None
        match = re.match(_TYPE_NAME, annotation)
        name = match.group(2) if match else None
        return name if name in _SPECIAL else None
    typing = sys.modules.get("typing")
    if typing is not None and getattr(annotation, "__origin__", None) is typing.ClassVar:
        return "ClassVar"
    if annotation is getattr(typing, "ClassVar", None):
        return "ClassVar"
    known = sys.modules.get("dataclasses")
    if known is not None:
        if annotation is known.KW_ONLY:
            return "KW_ONLY"
        if annotation is known.InitVar or isinstance(annotation, known.InitVar):
            return "InitVar"
    return None


def _is_spec(value: object) -> bool:
    """Tell whether ``value`` describes a field: this module's ``field`` or ``dataclasses``'."""
    return isinstance(value, Spec) or (
        type(value).__name__ == "Field" and type(value).__module__ == "dataclasses"
    )


def _spec(cls: type, name: str, annotation: object, value: object) -> Spec:
    """Return the field ``name`` of ``cls`` from its annotation and what the class body set."""
    if isinstance(value, Spec):
        spec = value
    elif _is_spec(value):
        theirs: Any = value
        if theirs.kw_only is True:
            raise TypeError(f"{cls.__qualname__}.{name}: a record takes no InitVar or kw_only")
        known: Any = sys.modules["dataclasses"]
        spec = Spec(
            MISSING if theirs.default is known.MISSING else theirs.default,
            MISSING if theirs.default_factory is known.MISSING else theirs.default_factory,
            theirs.init, theirs.repr, theirs.hash, theirs.compare, theirs.metadata or None,
        )  # fmt: skip
    else:
        spec = Spec(value)
    spec.name, spec.type = name, annotation
    if spec.default is not MISSING and type(spec.default).__hash__ is None:
        raise ValueError(
            f"mutable default {type(spec.default)} for field {name} is not allowed: "
            "use default_factory"
        )
    if _is_spec(value):
        _leave_default(cls, name, spec.default)
    return spec


class _DataclassView:
    """``__dataclass_fields__`` or ``__dataclass_params__`` of a record, made when first read.

    ``dataclasses`` makes them for a copy of the record's fields, so that its functions, and
    a dataclass deriving from a record, see the frozen dataclass the record behaves as.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, record: object, owner: type) -> Any:
        # The record the view belongs to: a plain class deriving from it finds it there.
        holder = next(c for c in owner.__mro__ if c.__dict__.get(self.name) is self)
        made = _dataclass_copy(holder)
        type.__setattr__(holder, "__dataclass_fields__", made.__dataclass_fields__)
        type.__setattr__(holder, "__dataclass_params__", made.__dataclass_params__)
        return getattr(owner, self.name)


def _dataclass_copy(record: type) -> Any:
    """Return a frozen dataclass with the fields of ``record``, for its dataclass attributes."""
    import dataclasses

    every: dict[str, Spec] = record.__dict__[_FIELDS]
    body: dict[str, Any] = {"__annotations__": {n: s.type for n, s in every.items()}}
    body["__module__"] = record.__module__
    for name, spec in every.items():
        default = dataclasses.MISSING if spec.default is MISSING else spec.default
        factory = spec.default_factory
        body[name] = dataclasses.field(
            default=default,
            default_factory=dataclasses.MISSING if factory is MISSING else factory,
            init=spec.init, repr=spec.repr, hash=spec.hash, compare=spec.compare,
            metadata=spec.metadata or None,
        )  # fmt: skip
    return dataclasses.dataclass(frozen=True, init=False, repr=False, eq=False)(
        type(record.__name__, (), body)
    )


class _Signature:
    """The ``__doc__`` of a record its class body left without one: its signature, as
    ``dataclass`` writes it, made when first read (it needs ``inspect``)."""

    def __get__(self, record: object, owner: type) -> str:
        import inspect

        text = owner.__name__ + str(inspect.signature(owner)).replace(" -> None", "")
        type.__setattr__(owner, "__doc__", text)
        return text


def _attach(cls: Any, name: str, function: Callable[..., Any]) -> None:
    """Set ``function`` on ``cls`` under ``name``, named as a method written in the class."""
    function.__name__ = name
    function.__qualname__ = f"{cls.__qualname__}.{name}"
    function.__module__ = cls.__module__
    setattr(cls, name, function)


def _init(cls: Any, every: Sequence[Spec]) -> Callable[..., None]:
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
        if f.has_default():
            defaulted = f.name
    body = f"    self.__dict__.update({{{', '.join(values)}}})\n" if values else ""
    if hasattr(cls, "__post_init__"):
        body += "    self.__post_init__()\n"
    source = f"def __init__(self, {', '.join(params)}) -> None:\n{body or '    pass'}\n"
    exec(compiled(source, f"<record {cls.__qualname__}>"), space)
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


def _repr(names: Sequence[str]) -> Callable[[Any], str]:
    """Return the ``__repr__`` of a dataclass showing ``names``, compiled at its first call.

    Most records are never shown; one that is (a feed's settings, for the mark of each read)
    is shown by one f-string rather than a value looked up and joined per field.
    """
    shown: list[Callable[[Any], str]] = []

    @recursive_repr()
    def __repr__(self: Any) -> str:
        if not shown:
            shown.append(_shown(names))
        return shown[0](self)

    return __repr__


def _shown(names: Sequence[str]) -> Callable[[Any], str]:
    """Compile the text of a record: its class's name, then each of ``names`` and its value."""
    values = ", ".join(f"{name}={{self.{name}!r}}" for name in names)
    source = f'def __repr__(self):\n    return f"{{self.__class__.__qualname__}}({values})"\n'
    space: dict[str, Any] = {}
    exec(compiled(source, "<record repr>"), space)
    return space["__repr__"]  # type: ignore[no-any-return]


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


def _frozen_error(message: str) -> Exception:
    """Return the error a frozen dataclass raises: ``dataclasses.FrozenInstanceError``."""
    from dataclasses import FrozenInstanceError  # here: only a mistake assigns to a record

    return FrozenInstanceError(message)


def _setattr(cls: Any, names: frozenset[str]) -> Callable[[Any, str, Any], None]:
    """Return the ``__setattr__`` of a frozen dataclass."""

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise _frozen_error(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    return __setattr__


def _delattr(cls: Any, names: frozenset[str]) -> Callable[[Any, str], None]:
    """Return the ``__delattr__`` of a frozen dataclass."""

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise _frozen_error(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __delattr__
