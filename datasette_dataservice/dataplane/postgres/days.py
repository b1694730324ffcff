"""SQLite's ``date()`` of a datatable's stored values, in PostgreSQL: what a date facet
counts and a ``__date`` filter compares (SQLite stores dates and times as ISO text).

A text's day is the day as written (``2024-02-30`` too) or, with an offset, the day of its
UTC time; a time of day alone (``03:04:05Z``) is on 2000-01-01 (24:00 on the 2nd), shifted
by its offset (``00:30+02:00``: 1999-12-31). No Julian day numbers, no "now".
"""

from __future__ import annotations

from .introspect import Column
from .sqltext import quote
from .stored_text import text as stored_text

_YMD = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_HM = r"([01][0-9]|2[0-3]):[0-5][0-9]"
_TIME = rf"[T ]{_HM}(:[0-5][0-9](\.[0-9]*)?)?"
_OFFSET = r"[+-]([01][0-9]|2[0-3]):[0-5][0-9]"
PLAIN_DAY = rf"^{_YMD}({_TIME})?\s*Z?$"
SHIFTED_DAY = rf"^{_YMD}{_TIME}\s*{_OFFSET}$"
_CLOCK = r"([01][0-9]|2[0-4]):[0-5][0-9](:[0-5][0-9](\.[0-9]*)?)?"
PLAIN_CLOCK = rf"^{_CLOCK}\s*Z?$"
SHIFTED_CLOCK = rf"^{_CLOCK}\s*{_OFFSET}$"


def text_day(text: str) -> str:
    """SQLite's ``date(text)`` as text, never an error."""
    day = f"(CAST(left({text}, 7) || '-01' AS date) + (CAST(substr({text}, 9, 2) AS integer) - 1))"
    offset = f"CAST(substring({text} from '[+-][0-9]{{2}}:[0-9]{{2}}$') AS interval)"
    shift = f"to_char({day} + CAST(substr({text}, 12, 5) AS time) - {offset}, 'YYYY-MM-DD')"
    clock = f"CAST(substring({text} from '^[0-9:.]+') AS interval)"
    return (
        f"CASE WHEN {text} ~ '{PLAIN_DAY}' THEN left({text}, 10)"
        f" WHEN left({text}, 4) = '0000' THEN NULL"
        f" WHEN {text} ~ '{SHIFTED_DAY}' THEN {shift}"
        f" WHEN {text} ~ '{PLAIN_CLOCK}' THEN to_char(DATE '2000-01-01' + {clock}, 'YYYY-MM-DD')"
        f" WHEN {text} ~ '{SHIFTED_CLOCK}'"
        f" THEN to_char(DATE '2000-01-01' + {clock} - {offset}, 'YYYY-MM-DD') END"
    )


def day_of(column: Column, name: str | None = None) -> str | None:
    """The column's (or ``name``'s, a copy of it) ``date()`` as SQLite computes it from the
    stored value, or None: a date for a date or timestamp column, text for any other."""
    name = name or quote(column.name)
    if column.kind == "date":
        return name
    if column.kind == "timestamp":
        utc = " AT TIME ZONE 'UTC'" if column.type_name.endswith("with time zone") else ""
        return f"CAST({name}{utc} AS date)"
    if column.kind == "time":
        return text_day(stored_text(column, column.name, value=name))
    if column.kind == "text":
        return text_day(name)
    return None
