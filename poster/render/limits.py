"""Bound every render in time, memory and output, inside Jinja's sandbox.

The sandbox stops a template from reaching Python's internals, not from running for ever or
building a string of gigabytes. Here every render gets a ``Budget``: a deadline checked on each
loop step, call, filter and operator that can build large values, and a count of the characters
it has produced. Operations that could build a huge value in one step (``'x' * 10**9``,
``9**(9**9)``, ``'x'|center(10**9)``, ``'{:>999999999}'.format(1)``) are refused before they run,
from the sizes of their operands.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateRuntimeError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from poster.frozen import frozen

__all__ = ["BoundedEnvironment", "Budget", "Limits", "RenderLimitError"]

_DIGITS = re.compile(r"\d+")
_SIZED = (str, bytes, bytearray, list, tuple)
_TEXTS = (str, bytes, bytearray)
MEMORY = 256 * 1024 * 1024
"""Bytes the process may grow by during a render before the render is stopped."""
MEMORY_EVERY = 256
"""Ticks between two looks at the process's memory: each look reads /proc."""


@frozen
class Limits:
    """How long a render may take and how much text it may make."""

    seconds: float = 1.0
    output: int = 256 * 1024
    """Characters a template may output; far above what any message can carry."""
    timer: Callable[[], float] = time.monotonic

    @property
    def produced(self) -> int:
        """Return how many characters a render may write in all, macros and set blocks too."""
        return 4 * self.output


class RenderLimitError(TemplateRuntimeError):
    """A template went over the time or size limit of a render."""


@dataclass
class Budget:
    """What one render has used of its limits.

    Each value a template builds in one step is sized before it is built; what it keeps
    building step by step (a loop appending long strings to a list) is caught by the growth of
    the process's memory, looked at every ``MEMORY_EVERY`` ticks.
    """

    limits: Limits
    deadline: float = field(init=False)
    produced: int = 0
    ticks: int = 0
    memory_at_start: int = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = self.limits.timer() + self.limits.seconds
        self.memory_at_start = resident_bytes()

    def tick(self) -> None:
        """Raise when the render is past its deadline or has grown the process too much."""
        if self.limits.timer() > self.deadline:
            raise RenderLimitError(f"stopped: over the {self.limits.seconds:g} s time limit")
        self.ticks += 1
        if self.ticks % MEMORY_EVERY == 0 and self.memory_at_start:
            grown = resident_bytes() - self.memory_at_start
            if grown > MEMORY:
                raise RenderLimitError(f"stopped: over the {MEMORY >> 20} MiB memory limit")


def resident_bytes() -> int:
    """Return the process's resident memory in bytes, or 0 where /proc does not tell."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE = 4096
try:
    import os as _os

    _PAGE = _os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):
    pass


_BUDGET: ContextVar[Budget | None] = ContextVar("poster_render_budget", default=None)
_STATIC = Limits()
"""Limits on sizes when no render runs: Jinja folds constant expressions while compiling."""


def _limits() -> Limits:
    budget = _BUDGET.get()
    return budget.limits if budget is not None else _STATIC


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()


def _refuse_size(what: str, size: int) -> None:
    """Raise when ``what`` would be more than ``size`` characters or items over the limit."""
    limit = _limits().output
    if size > limit:
        message = f"refused: {what} would make {size:,} characters or items"
        raise RenderLimitError(f"{message}, over the {limit:,} limit")


def _size(value: object) -> int:
    """Return the length of a string, list or tuple, and the bytes of an integer."""
    if isinstance(value, _SIZED):
        return len(value)
    if isinstance(value, int):
        return value.bit_length() // 8
    return 0


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be over the size limit, before it runs."""
    if operator == "*":
        if isinstance(left, int) and isinstance(right, _SIZED):
            left, right = right, left
        if isinstance(left, _SIZED) and isinstance(right, int):
            _refuse_size("'*'", len(left) * right)
        else:
            _refuse_size("'*'", _size(left) + _size(right))
    elif operator == "+":
        _refuse_size("'+'", _size(left) + _size(right))
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            _refuse_size("'**'", right * left.bit_length() // 8)
    elif operator == "%" and isinstance(left, str):
        check_format(left, right if isinstance(right, tuple) else (right,))


def check_format(fmt: str, args: Iterable[object]) -> None:
    """Refuse a format string whose widths or precisions would pad past the size limit."""
    numbers = [int(run) for run in _DIGITS.findall(fmt)]
    numbers += [a for a in args if isinstance(a, int)]
    numbers += [
        int(a) for a in args if isinstance(a, str) and a.isascii() and a.isdigit() and len(a) < 20
    ]
    _refuse_size("the format", max(numbers, default=0))


def check_result(value: object, what: str) -> object:
    """Return ``value``, or refuse it when it is a string, list or tuple over the limit."""
    if isinstance(value, _SIZED):
        _refuse_size(what, len(value))
    return value


def _replaced_size(text: str | bytes | bytearray, old: object, new: object) -> int:
    """Return the most characters ``text.replace(old, new)`` can make."""
    if not isinstance(old, _TEXTS) or not isinstance(new, _TEXTS):
        return 0
    return len(text) + (len(text) // max(len(old), 1) + 1) * len(new)


def _translated_size(text: str | bytes | bytearray, table: object) -> int:
    """Return the most characters ``text.translate(table)`` can make.

    Bytes map a byte to a byte. A string's table is any object with ``__getitem__``: a dict or
    a sequence is sized by its longest string, anything else by the worst it could do.
    """
    if not isinstance(text, str):
        return len(text)
    if isinstance(table, dict):
        values: Iterable[object] = table.values()
    elif isinstance(table, list | tuple):
        values = table
    else:
        return len(text) * (_limits().output + 1)
    longest = max((len(v) for v in values if isinstance(v, _TEXTS)), default=1)
    return len(text) * max(longest, 1)


def check_call(function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Refuse a call of a string or bytes method that would build one over the limit."""
    owner = getattr(function, "__self__", None)
    if not isinstance(owner, _TEXTS):
        return args
    name = getattr(function, "__name__", "")
    if name == "join" and args and not isinstance(args[0], _SIZED):
        args = (list(args[0]), *args[1:])
    if name == "join" and args:
        _refuse_size("join", len(owner) * len(args[0]))
    elif name == "replace" and len(args) >= 2:
        _refuse_size("replace", _replaced_size(owner, args[0], args[1]))
    elif name == "translate" and args:
        _refuse_size("translate", _translated_size(owner, args[0]))
    elif name == "expandtabs":
        tab = args[0] if args and isinstance(args[0], int) else 8
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        _refuse_size("expandtabs", len(owner) + tabs * tab)
    kind = type(owner).__name__
    _refuse_size(f"{kind}.{name}", max((a for a in args if isinstance(a, int)), default=0))
    return args


LIPSUM_WORD = 12
"""The most characters a word of ``lipsum`` takes, with its space and punctuation."""


def check_lipsum(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a ``lipsum(n, html, min, max)`` whose text would be over the size limit.

    It builds its paragraphs before anything can count them: ``lipsum(10**6)`` would take
    minutes and gigabytes before its output was refused.
    """
    named = dict(zip(("n", "html", "min", "max"), args, strict=False)) | kwargs
    count, least, most = (named.get(key, default) for key, default in _LIPSUM_DEFAULTS)
    words = max(_number(least), _number(most))
    _refuse_size("lipsum", _number(count) * words * LIPSUM_WORD)


_LIPSUM_DEFAULTS = (("n", 5), ("min", 20), ("max", 100))


def _number(value: object) -> int:
    """Return ``value`` when it is a whole number (not a bool), else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def bound_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Return the filter refusing size arguments and results over the limit."""
    skip = 2 if hasattr(function, "jinja_pass_arg") else 1  # the context, then the value

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if len(args) > skip or kwargs:
            args = _check_filter(name, args[skip - 1], args[skip:], kwargs, args[: skip - 1])
            try:
                return check_result(function(*args, **kwargs), name)
            except TypeError as exc:
                raise _misused(name, function, exc) from None
        return check_result(function(*args, **kwargs), name)

    return bounded


_UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")


def _misused(name: str, function: Callable[..., Any], exc: TypeError) -> Exception:
    """Say, in the template's terms, that a filter was given arguments it does not take."""
    import inspect  # here: only a misused filter needs it

    wrong = _UNEXPECTED.search(str(exc))
    if wrong is None:
        return TemplateRuntimeError(f"filter {name!r}: {exc}")
    try:
        taken = [p for p in inspect.signature(function).parameters if p not in ("value", "s")]
    except (TypeError, ValueError):
        taken = []
    import difflib

    guess = difflib.get_close_matches(wrong.group(1), taken, n=1)
    hint = f" (did you mean {guess[0]}?)" if guess else ""
    return TemplateRuntimeError(f"filter {name!r} takes no argument {wrong.group(1)!r}{hint}")


def _check_filter(
    name: str, value: Any, rest: tuple[Any, ...], kwargs: dict[str, Any], head: tuple[Any, ...]
) -> tuple[Any, ...]:
    """Refuse a filter call whose arguments would build a value over the limit."""
    numbers = [a for a in (*rest, *kwargs.values()) if isinstance(a, int)]
    _refuse_size(name, max(numbers, default=0))
    if name == "format" and isinstance(value, str):
        check_format(value, [*rest, *kwargs.values()])
    elif name == "replace" and isinstance(value, str) and len(rest) >= 2:
        _refuse_size(name, _replaced_size(value, rest[0], rest[1]))
    elif name == "indent" and isinstance(value, str):
        width = rest[0] if rest else kwargs.get("width", 4)
        _refuse_size(name, len(value) + (value.count("\n") + 1) * _size(width))
    elif name == "join":
        value = value if isinstance(value, _SIZED) else list(value)
        _refuse_size(name, len(value) * _size(rest[0] if rest else kwargs.get("d", "")))
    return (*head, value, *rest)


class BoundedCodeGenerator(CodeGenerator):
    """Compile templates so that loops, output and ``~`` go through the render's budget."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # Jinja allows no new node types: the iterable is recognized when it is visited.
        self.__dict__.setdefault("loop_iterables", set()).add(id(node.iter))
        super().visit_For(node, frame)

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        """Visit a node, checking the deadline on each step of a loop's iterable."""
        if id(node) not in self.__dict__.get("loop_iterables", ()):
            return super().visit(node, *args, **kwargs)
        self.write("environment.bounded(")
        super().visit(node, *args, **kwargs)
        self.write(")")
        return None

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.sized(")
        super().visit_Concat(node, frame)
        self.write(")")

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.counted({super()._output_const_repr(group)})"

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.counted(")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_post(node, frame, finalize)
        self.write(")")


class BoundedEnvironment(SandboxedEnvironment):
    """A sandbox whose renders stop at the limits of the budget they run under."""

    code_generator_class = BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Run an operator that can build large values, refusing results over the limit."""
        _tick()
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call an object from the template within the render's budget."""
        _tick()
        args = check_call(__obj, args)
        if __obj is __self.globals.get("lipsum"):
            check_lipsum(args, kwargs)
        return check_result(super().call(__context, __obj, *args, **kwargs), "a call")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Return ``str.format`` for a template, refusing widths over the limit."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt: str = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            mapped = args[0].values() if args and isinstance(args[0], dict) else ()
            check_format(fmt, [*args, *mapped, *kwargs.values()])
            return wrapped(*args, **kwargs)

        return checked

    def bounded(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Yield the items of a loop, checking the deadline before each."""
        budget = _BUDGET.get()
        for value in iterable:
            if budget is not None:
                budget.tick()
            yield value

    def sized(self, text: str) -> str:
        """Return the result of ``~``, refused when it is over the limit."""
        check_result(text, "'~'")
        return text

    def counted(self, text: str) -> str:
        """Return a piece of output, counted against the render's budget."""
        budget = _BUDGET.get()
        if budget is not None:
            budget.produced += len(text)
            if budget.produced > budget.limits.produced:
                limit = budget.limits.produced
                raise RenderLimitError(f"stopped: wrote over {limit:,} characters in all")
        return text

    def run(self, render: Callable[[], Iterator[str]], limits: Limits) -> str:
        """Return the output of a render run under a fresh budget of ``limits``."""
        token = _BUDGET.set(Budget(limits))
        try:
            pieces, total = [], 0
            for piece in render():
                total += len(piece)
                if total > limits.output:
                    raise RenderLimitError(
                        f"stopped: output over the {limits.output:,}-character limit"
                    )
                pieces.append(piece)
            return "".join(pieces)
        finally:
            _BUDGET.reset(token)
