"""JSON text as the service reads it, from request bodies, uploads and cells alike.

Strict JSON: no NaN or Infinity (JSON has no such numbers), no lone surrogates (not text
SQLite, PostgreSQL or UTF-8 can hold), nesting at most MAX_DEPTH levels (deeper values run
Python's json out of stack when written or read back), every integer exact. Errors are
ValueErrors that say what is wrong and where.

>>> loads(b'{"n": 99999999999999999999999}')
{'n': 99999999999999999999999}
>>> loads('["\\\\ud800"]')
Traceback (most recent call last):
...
ValueError: no low surrogate in string: line 1 column 3 (char 2)
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

MAX_DEPTH = 500
#: orjson refuses JSON nesting more than 1024 levels deep: wrapped in this many arrays, a text
#: parses only if it nests at most MAX_DEPTH levels itself
WRAP = 1024 - MAX_DEPTH
LONG_DIGITS = re.compile(r"[0-9]{19}")
#: every digit to "0": a run of 19 digits is then a plain substring search (regex: 15x slower)
ZEROED = bytes.maketrans(b"123456789", b"000000000")
NINETEEN_ZEROS = b"0" * 19


class TooDeep(ValueError):
    """The JSON nests more than its limit allows."""


def loads(text: str | bytes) -> Any:
    """orjson's speed and strictness; a text with a run of 19 digits is read again by json,
    which keeps integers beyond 64 bits exact (orjson reads 2**70 as a float).

    The depth is checked by orjson itself: the text is parsed inside WRAP arrays (which
    fails past MAX_DEPTH levels), then unwrapped; any error is that of the text alone."""
    opening, closing = (b"[", b"]") if isinstance(text, bytes) else ("[", "]")
    try:
        data = orjson.loads(opening * WRAP + text + closing * WRAP)
        for _ in range(WRAP):  # each wrapper holds exactly the one value it was given
            if type(data) is not list or len(data) != 1:
                raise orjson.JSONDecodeError("not one value", "", 0)
            data = data[0]
    except orjson.JSONDecodeError:
        _loads_alone(text)  # the text's own error, if it has one; else it nests too deep
        raise TooDeep(f"JSON nests more than {MAX_DEPTH} levels deep") from None
    if _long_digits(text):
        try:
            data = json.loads(text)
        except RecursionError:
            raise TooDeep(f"JSON nests more than {MAX_DEPTH} levels deep") from None
    return data


def _loads_alone(text: str | bytes) -> None:
    """orjson on the text itself: its own error (with the text's positions), if any."""
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as e:
        if "depth limit" in str(e):
            raise TooDeep(f"JSON nests more than {MAX_DEPTH} levels deep") from None
        raise ValueError(str(e)) from None


def _long_digits(text: str | bytes) -> bool:
    if isinstance(text, bytes):
        return NINETEEN_ZEROS in text.translate(ZEROED)
    return LONG_DIGITS.search(text) is not None


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """ValueError if ``value`` nests more than ``limit`` levels deep (iterative: any depth)."""
    if type(value) is not dict and type(value) is not list:
        return
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise TooDeep(f"JSON nests more than {limit} levels deep")
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
