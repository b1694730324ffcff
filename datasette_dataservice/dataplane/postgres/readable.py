"""Whether PostgreSQL can read a filter's text as a column's type, and so compare it there;
text it cannot read is compared as SQLite would (dataplane/postgres/filters.py)."""

from __future__ import annotations

import datetime
import decimal
import re
from typing import Any

from .introspect import NUMERIC, Column

TEXT_LIKE_KINDS = {"date", "timestamp", "time"}  # stored as text by SQLite
_INTEGER = re.compile(r"^\s*[+-]?0*(\d{1,20})\s*$", re.ASCII)  # PostgreSQL reads ASCII only
_NUMBER = re.compile(
    r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|nan|[+-]?inf(?:inity)?", re.ASCII | re.IGNORECASE
)
_DECIMAL = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?\s*", re.ASCII | re.IGNORECASE)
_ANY_NUMERIC = Column("", NUMERIC, -1, "numeric", False, 0)
_FLOAT_MAX = {"double precision": decimal.Decimal("1.7976931348623157e308"), "real": 3.4e38}
_CLOCK = r"[0-9:.,]+(?:Z|[+-][0-9:]+)?"
_TEMPORAL = {
    "date": (re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII), datetime.date.fromisoformat),
    "timestamp": (
        re.compile(rf"\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]{_CLOCK})?", re.ASCII),
        datetime.datetime.fromisoformat,
    ),
    "time": (re.compile(_CLOCK, re.ASCII), datetime.time.fromisoformat),
}
_INT_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63, "oid": 2**32}
_BOOLEANS = {
    *(w[:n] for w in ("true", "yes") for n in range(1, len(w) + 1)),
    *(w[:n] for w in ("false", "no") for n in range(1, len(w) + 1)),
    "on",
    "off",
    "of",
    "1",
    "0",
}


def fits(column: Column | None, value: Any) -> bool:
    """Whether PostgreSQL can read ``value`` (text) as the column's type.

    >>> number, flag = Column("n", 23, -1, "integer", False, 0), Column("b", 16, -1, "", False, 0)
    >>> fits(number, "12"), fits(number, "1.5"), fits(flag, "Yes"), fits(flag, "2")
    (True, False, True, False)
    """
    if column is None or not isinstance(value, str):
        return True
    kind = column.kind
    if kind == "integer":
        if not _INTEGER.match(value):  # more digits than any integer type holds: no
            return False
        limit = _INT_RANGES.get(column.type_name, 2**63)
        return -limit <= int(value) < limit
    if kind == "number":
        return _fits_number(column, value.strip())
    if kind == "boolean":
        return value.strip().lower() in _BOOLEANS
    if kind in TEXT_LIKE_KINDS:
        return fits_temporal(kind, value.strip())
    return True


def _fits_number(column: Column, value: str) -> bool:
    """What PostgreSQL reads as NUMERIC (its range) or a float (a finite one), and SQLite
    as a number (not ``Infinity`` nor ``NaN``).

    >>> n = Column("n", 1700, -1, "numeric", False, 0)
    >>> [_fits_number(n, v) for v in ("1e5", "-.5", "Infinity", "1e999999", "٣", "0x10")]
    [True, True, False, False, False, False]
    """
    if not _NUMBER.fullmatch(value):
        return False
    number = decimal.Decimal(value)
    if not number.is_finite():
        return False  # SQLite reads "inf" and "nan" as text, never a number
    if column.type_name in _FLOAT_MAX:
        return abs(number) <= _FLOAT_MAX[column.type_name]
    exponent = number.as_tuple().exponent
    return number.adjusted() <= 131071 and -16383 <= (exponent if isinstance(exponent, int) else 0)


def fits_temporal(kind: str, value: str) -> bool:
    """ISO 8601 as both Python and PostgreSQL read it (not Python's week or ordinal dates,
    nor offsets past PostgreSQL's +-15:59)."""
    shape, parse = _TEMPORAL[kind]
    if not shape.fullmatch(value):
        return False
    try:
        parsed = parse(value)
    except ValueError:
        return False
    offset = parsed.utcoffset() if kind != "date" else None
    return offset is None or abs(offset) < datetime.timedelta(hours=16)


def is_decimal(column: Column | None, value: str) -> bool:
    """Whether ``value`` is a decimal number an integer column compares with numerically
    (too large for NUMERIC, it compares as SQLite's infinity: see filters.py's ``_unfit``)."""
    if column is None or column.kind != "integer" or not _DECIMAL.fullmatch(value):
        return False
    return _fits_number(_ANY_NUMERIC, value.strip())
