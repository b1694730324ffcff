"""Concrete paths for a route pattern, through each of its optional parts and branches, named
groups filled with given values. Lets a test walk every registered route, including
routes added after the test was written."""

from __future__ import annotations

import re
import re._parser as sre_parse  # the parser behind re.compile (sre_parse before 3.11)
from re._constants import (
    ANY,
    ASSERT,
    ASSERT_NOT,
    AT,
    BRANCH,
    CATEGORY,
    CATEGORY_DIGIT,
    IN,
    LITERAL,
    MAX_REPEAT,
    MIN_REPEAT,
    NEGATE,
    NOT_LITERAL,
    RANGE,
    SUBPATTERN,
)


def concrete_paths(pattern: re.Pattern, values: dict[str, str]) -> set[str]:
    """Paths ``pattern`` matches, each named group in ``values`` set to its value.

    >>> sorted(concrete_paths(re.compile(r"^/(?P<db>[^/]+)(\\.(?P<format>json))?$"), {"db": "a"}))
    ['/a', '/a.json']
    """
    names = {number: name for name, number in pattern.groupindex.items()}
    variants = _sequence(sre_parse.parse(pattern.pattern, pattern.flags), names, values)
    return {path for path in variants if pattern.fullmatch(path)}


def _sequence(items, names, values) -> list[str]:
    """Enough paths that every option of every part is taken once (not every combination:
    ``(?:-|api)/x(?:\\.json)?/?`` gives two paths, not eight)."""
    parts = [_node(op, arg, names, values) for op, arg in items]
    count = max((len(options) for options in parts), default=1)
    joined = ("".join(options[i % len(options)] for options in parts) for i in range(count))
    return list(dict.fromkeys(joined))


def _node(op, arg, names, values) -> list[str]:
    if op is LITERAL:
        return [chr(arg)]
    if op is NOT_LITERAL or op is ANY:
        return ["x" if op is ANY or arg != ord("x") else "y"]
    if op is IN:
        return [_one_of(arg)]
    if op is SUBPATTERN:
        group, _add, _del, items = arg
        name = names.get(group)
        if name in values:
            return [values[name]]
        return _sequence(items, names, values)
    if op in (MAX_REPEAT, MIN_REPEAT):
        low, _high, items = arg
        once = _sequence(items, names, values)
        repeated = ["".join(v for _ in range(max(low, 1))) for v in once]
        return ([""] if low == 0 else []) + repeated
    if op is BRANCH:
        return [path for items in arg[1] for path in _sequence(items, names, values)]
    if op in (AT, ASSERT, ASSERT_NOT):
        return [""]  # anchors and lookarounds consume nothing; fullmatch checks them
    raise ValueError(f"route pattern uses {op}, which route_paths cannot fill yet")


def _one_of(items) -> str:
    if items and items[0][0] is NEGATE:
        excluded = {arg for op, arg in items[1:] if op is LITERAL}
        return next(c for c in "xyz" if ord(c) not in excluded)
    op, arg = items[0]
    if op is LITERAL:
        return chr(arg)
    if op is RANGE:
        return chr(arg[0])
    if op is CATEGORY:
        return "1" if arg is CATEGORY_DIGIT else "a"
    raise ValueError(f"route pattern uses [{op}], which route_paths cannot fill yet")
