"""A filter's text as core binds it on SQLite and as SQLite then reads it, so that the SQL
built for PostgreSQL compares with the value SQLite compares with. Pure functions.

- ``gt``/``gte``/``lt``/``lte`` bind ``int(text)`` or a finite ``float(text)`` (core's
  ``_coerce_numeric_filter_value``; an integer beyond 64 bits as its float, as
  web/core_filters.py binds it): ``+3``, `` 03 ``, ``1_000`` and ``٣`` are numbers there.
- A column of text (dates and times too) compares with a number as SQLite writes it:
  ``3``, ``100.0``, ``1.0e+20`` (TEXT affinity).
- A number column reads text written as a decimal number as that number, past a REAL's
  range as an infinity (``1e999``); ``inf``, ``nan`` or ``0x10`` stay text there. So does
  a boolean's stored 1/0 (``?active=1.0``), where the field does not read the text itself.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from datasette.filters import _coerce_numeric_filter_value

from ...schema.stored_numbers import INT64_MAX, INT64_MIN

# SQLite's text -> number conversion (sqlite3AtoF): ASCII digits, surrounding space
_SQLITE_NUMBER = re.compile(
    r"[ \t\n\v\f\r]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\n\v\f\r]*"
)


def core_bound(value: str) -> int | float | str:
    """What core binds for a comparison's text.

    >>> core_bound("+3"), core_bound("1e2"), core_bound("inf"), core_bound("9" * 20)
    (3, 100.0, 'inf', 1e+20)
    >>> core_bound("-" + "9" * 400)
    -inf
    """
    bound = _coerce_numeric_filter_value(value)
    if type(bound) is int and not INT64_MIN <= bound <= INT64_MAX:
        try:
            return float(bound)
        except OverflowError:  # as web/core_filters.py binds it
            return math.inf if bound > 0 else -math.inf
    return bound


def real_text(number: float) -> str:
    """A REAL as SQLite writes it (``%!.15g``).

    >>> [real_text(x) for x in (100.0, 0.1, 1e20, 1e-05, -0.0, 1 / 3, -math.inf)]
    ['100.0', '0.1', '1.0e+20', '1.0e-05', '0.0', '0.333333333333333', '-Inf']
    """
    if math.isinf(number):
        return "Inf" if number > 0 else "-Inf"
    text = f"{number or 0.0:.15g}"
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}{e}{exponent}"


def as_text(bound: int | float | str) -> str:
    """The text a TEXT column compares a bound value with."""
    if isinstance(bound, float):
        return real_text(bound)
    return str(bound)


def sqlite_number(text: str) -> int | float | None:
    """The number SQLite reads ``text`` as when it meets a numeric column, or None.

    >>> sqlite_number(" -0 "), sqlite_number("1.0"), sqlite_number("-1e999"), sqlite_number("inf")
    (0, 1.0, -inf, None)
    """
    if not _SQLITE_NUMBER.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)  # 1e999: inf, as SQLite reads it


def as_numeric_text(bound: int | float) -> str:
    """A finite number as text PostgreSQL reads exactly."""
    return str(bound) if isinstance(bound, int) else repr(bound)


def is_infinite(number: int | float | str | None) -> bool:
    return isinstance(number, float) and math.isinf(number)


def split_values(value: str) -> list[Any]:
    """Core's ``__in`` values: a JSON list, or comma-separated.

    >>> split_values("1, 2,x"), split_values('["a,b", 3]')
    (['1', '2', 'x'], ['a,b', 3])
    """
    if value.startswith("["):
        return json.loads(value)
    return [v.strip() for v in value.split(",")]


def read_booleans(value: str, lookup: str, reading: dict[str, bool]) -> str:
    """``value`` with each text the field reads as a boolean given as 1/0, any other as
    SQLite reads it against the stored 1/0: a number (``1.0``, ``-0``) as itself, which is
    1, 0 or none of them (""), text as "" (which no boolean equals); JSON ``true``/``false``
    in an ``__in`` list as they are, JSON numbers as numbers.

    >>> read_booleans("yes", "exact", {"yes": True}), read_booleans("true", "not", {})
    ('1', '')
    >>> read_booleans('["no", true, 1.0, 2]', "in", {"no": False})
    '["0", true, "1", ""]'
    >>> read_booleans("-0", "exact", {}), read_booleans(" 1e0", "exact", {})
    ('0', '1')
    """

    def read(item: Any) -> Any:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            return item
        if isinstance(item, str) and "\x00" in item:
            return item  # refused as it is (filter_values.py)
        truth = reading.get(item) if isinstance(item, str) else None
        if truth is not None:
            return str(int(truth))
        number = sqlite_number(item) if isinstance(item, str) else item
        return {1: "1", 0: "0"}.get(number, "") if number is not None else ""

    if lookup not in ("in", "notin"):
        return read(value)
    try:
        values = split_values(value)
    except (ValueError, RecursionError):
        return value  # _in answers it
    if not isinstance(values, list):
        values = [values]
    return json.dumps([read(v) for v in values])
