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
LONG_DIGITS = re.compile(r"[0-9]{19}")
LONG_DIGIT_BYTES = re.compile(rb"[0-9]{19}")


class TooDeep(ValueError):
    """The JSON nests more than its limit allows."""


def loads(text: str | bytes) -> Any:
    """orjson's speed and strictness; a text with a run of 19 digits is read again by json,
    which keeps integers beyond 64 bits exact (orjson reads 2**70 as a float)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        if "depth limit" in str(e):
            raise TooDeep(f"JSON nests more than {MAX_DEPTH} levels deep") from None
        raise ValueError(str(e)) from None
    pattern = LONG_DIGIT_BYTES if isinstance(text, bytes) else LONG_DIGITS
    if pattern.search(text):
        try:
            data = json.loads(text)
        except RecursionError:
            raise TooDeep(f"JSON nests more than {MAX_DEPTH} levels deep") from None
    opening = (b"[", b"{") if isinstance(text, bytes) else ("[", "{")
    if text.count(opening[0]) + text.count(opening[1]) > MAX_DEPTH:  # else it cannot nest so
        check_depth(data)
    return data


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
