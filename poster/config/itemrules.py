"""Compile include and exclude rules: whole-word keywords, or ``/regex/flags``.

Rules are compiled by ``regex``, which reads the syntax of Python's ``re`` alike and, unlike
it, stops a match at a deadline (``Rule.found_in``).
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any

from poster.config.values import Context, each, fail, need

if TYPE_CHECKING:
    import regex

    from poster.config.parts import Rule

# As text: re compiles it on first use, and only a feed with rules has any.
_REGEX_RULE = r"/(?P<body>.*)/(?P<flags>[a-zA-Z]*)"
_REGEX_FLAGS = {"i": "IGNORECASE", "m": "MULTILINE", "s": "DOTALL", "x": "VERBOSE"}
_FOREIGN_FLAGS = frozenset("guy")
_UPPER_FLAGS = frozenset("IMSXGUY")
"""Flags written in upper case (``/Council/I``): not a keyword, which they would be read as."""
MAX_RULES = 1000
"""The most rules one include or exclude list takes."""
RULE_HINT = 'a rule is a keyword or phrase ("road works"), or a regex written "/pattern/flags"'


def compile_rule(source: str) -> Rule:
    """Compile ``/regex/flags`` as a regex, anything else as a whole-word keyword."""
    import regex  # here, as the rules' records: most feeds have no rules

    from poster.config.parts import Rule

    match = re.fullmatch(_REGEX_RULE, source, re.DOTALL)
    flags = set(match.group("flags")) if match else set()
    if match and flags <= set(_REGEX_FLAGS):
        return Rule(source, _compile_regex(match.group("body"), flags))
    if match and flags <= set(_REGEX_FLAGS) | _FOREIGN_FLAGS | _UPPER_FLAGS:
        if flags & _UPPER_FLAGS:
            lower = match.group("flags").lower()
            raise fail(
                f"regex flags are lower case, not {match.group('flags')}",
                f"write /{match.group('body')}/{lower}",
            )
        foreign = ", ".join(sorted(flags & _FOREIGN_FLAGS))
        raise fail(f"regex flag {foreign} is not supported", "use i, m, s or x")
    keyword = source.strip()
    if not keyword:
        raise fail("is an empty rule", RULE_HINT)
    # A keyword matches as a whole word or phrase: "council" must not match "councillor".
    return Rule(source, regex.compile(rf"(?<!\w){re.escape(keyword)}(?!\w)", regex.IGNORECASE))


def _compile_regex(body: str, flags: set[str]) -> regex.Pattern[str]:
    """Compile a rule's regex body with its one-letter flags, in the syntax of Python's re."""
    if not body:
        raise fail("is an empty regex, which would match every item", RULE_HINT)
    import regex

    bits = 0  # regex's version 0: the behaviour of Python's re
    for flag in flags:
        bits |= getattr(regex, _REGEX_FLAGS[flag])
    # Read with Python's own parser of the same syntax; a pattern it cannot read (syntax only
    # ``regex`` knows) is regex's to judge.
    parsed = _parsed(body, flags)
    if parsed is not None and _empty_alternative(parsed):
        raise fail(
            "has an empty alternative (||, or | at an end), which would match every item",
            "remove the extra |",
        )
    size = _steps(parsed) if parsed is not None else 0
    if size > MAX_EXPANDED:
        raise fail(
            f"its repeats spell out {size:,} steps, more than {MAX_EXPANDED:,}: compiling it "
            "would take hundreds of megabytes or more",
            "count less inside a counted repeat, or use + and * ({2,} rather than {1000})",
        )
    try:
        with warnings.catch_warnings():  # a FutureWarning's source lines are no use in a rule
            warnings.simplefilter("ignore")
            return regex.compile(body, bits)
    except regex.error as exc:
        raise fail(f"bad regular expression: {exc}", RULE_HINT) from None


MAX_EXPANDED = 100_000
"""The most steps a rule may spell out once its repeats' least counts are multiplied out:
``(?:a{1000}){1000}`` (a million) took 281 MB and 1.3 s to compile."""


def _parsed(body: str, flags: set[str]) -> list[tuple[Any, Any]] | None:
    """Return ``body`` as Python's parser of the same syntax reads it, or None when it cannot."""
    from re import _parser  # type: ignore[attr-defined]

    bits = re.VERBOSE if "x" in flags else 0
    try:
        with warnings.catch_warnings():  # "Possible nested set" for [[:alpha:]], and the like
            warnings.simplefilter("ignore")
            return list(_parser.parse(body, bits))
    except Exception:  # any pattern re cannot read is regex's to judge
        return None


def _empty_alternative(parsed: list[tuple[Any, Any]]) -> bool:
    """Tell whether the whole pattern, or the one group that is the whole of it, is a choice
    with an empty alternative ("a||b", "sale|"): it matches at every place of every text."""
    from re import _constants as c  # type: ignore[attr-defined]

    while len(parsed) == 1 and parsed[0][0] is c.SUBPATTERN:
        parsed = list(parsed[0][1][-1])
    if len(parsed) != 1 or parsed[0][0] is not c.BRANCH:
        return False
    return any(len(branch) == 0 for branch in parsed[0][1][1])


def _steps(parsed: object) -> int:
    """Return the steps a parsed pattern spells out, each repeat's least count multiplied out."""
    from re import _constants as c  # type: ignore[attr-defined]

    total = 0
    for op, value in parsed:  # type: ignore[attr-defined]
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            least, _, inner = value  # regex spells out a repeat's least count, not its most
            total += max(least, 1) * _steps(inner)
        elif op is c.SUBPATTERN:
            total += _steps(value[-1])
        elif op is c.BRANCH:
            total += sum(_steps(branch) for branch in value[1])
        elif op in (c.ASSERT, c.ASSERT_NOT):
            total += _steps(value[1])
        elif op is c.ATOMIC_GROUP:
            total += _steps(value)
        elif op is c.GROUPREF_EXISTS:
            total += sum(_steps(branch) for branch in value[1:] if branch is not None)
        else:
            total += 1
    return total


def rules(value: object, _ctx: Context) -> tuple[Rule, ...]:
    """Check an array of rules and compile each one."""
    if isinstance(value, str):
        raise fail("expected an array of strings, got a string", f"write [{value!r}]")
    entries = need(value, list, "an array of strings")
    if len(entries) > MAX_RULES:
        raise fail(
            f"has {len(entries):,} rules, more than {MAX_RULES:,}",
            "every rule is tried on every new item: join keywords into one /a|b|c/i rule",
        )
    sources = ((f"[{i}]", entry) for i, entry in enumerate(entries))
    return tuple(each(sources, lambda raw: compile_rule(need(raw, str, "a string"))))
