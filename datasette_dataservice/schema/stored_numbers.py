"""The numbers both engines store alike: deviations from Table Schema, documented in the
README ("Rows are validated"). An integer field holds 64 bits (SQLite's INTEGER, PostgreSQL's
BIGINT); a number is finite (JSON has no NaN or infinities, and SQLite stores NaN as NULL).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INTEGER_RANGE_NOTE = f"integers are stored in 64 bits: from {INT64_MIN} to {INT64_MAX}"
NOT_FINITE_NOTE = "NaN and infinite numbers cannot be stored: JSON has no such numbers"


def storable_number(value: Any, integer: bool) -> tuple[Any, str | None]:
    """A cast integer or number as both engines store it, or why neither can: an integer
    beyond 64 bits in an integer field, NaN or an infinity. In a number field, an integer
    beyond 64 bits becomes the float both engines read back.

    >>> storable_number(2**70, False), storable_number(2**70, True)[1] == INTEGER_RANGE_NOTE
    ((1.1805916207174113e+21, None), True)
    >>> storable_number(Decimal("-Infinity"), False)[1]
    'NaN and infinite numbers cannot be stored: JSON has no such numbers'
    """
    kind = type(value)
    if kind is int:
        if INT64_MIN <= value <= INT64_MAX:
            return value, None
        if integer:
            return None, INTEGER_RANGE_NOTE
        try:
            value, kind = float(value), float
        except OverflowError:
            return None, NOT_FINITE_NOTE
    if kind is float:
        return value, None if math.isfinite(value) else NOT_FINITE_NOTE
    if isinstance(value, Decimal) and not (value.is_finite() and math.isfinite(float(value))):
        return None, NOT_FINITE_NOTE
    return value, None
