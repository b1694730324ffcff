"""A PostgreSQL column as SQLite stores and compares the same datatable's values: the
text a filter's LIKE, GLOB and JSON lookups read (1/0, ISO dates and times with UTC as "Z",
a REAL as "3.0"), and the order text sorts in (byte-wise, as SQLite's BINARY collation)."""

from __future__ import annotations

import re

from .introspect import Column
from .sqltext import literal, quote

TEXT_KINDS = {"text"}


def expr(column: Column | None, name: str) -> str:
    """The column, or (unknown name) the string literal SQLite would read it as."""
    return quote(column.name) if column is not None else literal(name)


def text(column: Column | None, name: str, value: str | None = None) -> str:
    """The column (or ``value``, a copy of it) as the text SQLite stores for it: 1/0, ISO
    dates, "Z" timestamps; a table's number as SQLite writes a REAL ("3.0"); a view's JSON
    as json_extract writes it (compact); a Table Schema number as a REAL."""
    value = value or expr(column, name)
    if column is None or column.kind in TEXT_KINDS:
        return value
    if column.kind == "boolean":
        return f"CAST(CAST({value} AS integer) AS text)"
    if column.kind == "timestamp":
        utc = " AT TIME ZONE 'UTC'" if column.type_name.endswith("with time zone") else ""
        zone = " || 'Z'" if utc else ""
        stamp = f"to_char({value}{utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
        return f"replace({stamp}, '.000000', ''){zone}"
    if column.kind == "time":
        day = f"DATE '2000-01-01' + CAST({value} AS time)"
        clock = f"replace(to_char({day}, 'HH24:MI:SS.US'), '.000000', '')"
        if not column.type_name.endswith("with time zone"):
            return clock
        return f"{clock} || {_TIME_ZONE.format(value)}"
    if column.kind == "json":
        return json_text(column, value)
    if column.kind == "number" and column.real:  # a whole REAL: "3.0"
        return (
            f"CASE WHEN {value} = trunc({value}) AND abs({value}) < 1e15 "
            f"THEN CAST(CAST({value} AS bigint) AS text) || '.0' "
            f"ELSE CAST(CAST({value} AS double precision) AS text) END"
        )
    return f"CAST({value} AS text)"


# A time's UTC offset as Python's isoformat writes it, zero as "Z" (schema/cast.py ``iso``)
_TIME_ZONE = (
    "CASE WHEN extract(timezone FROM {0}) = 0 THEN 'Z' "
    "ELSE regexp_replace(regexp_replace(CAST({0} AS text), '^.*([+-][0-9:]+)$', '\\1'),"
    " '^([+-][0-9]{{2}})$', '\\1:00') END"
)


def json_text(column: Column, value: str) -> str:
    """JSON as SQLite has it: a table's as stored (json.dumps, as jsonb writes it), a view's
    compact, without the space jsonb writes after each "," and ":" outside strings."""
    text = f"CAST({value} AS text)"
    if not column.in_view:
        return text
    return f"regexp_replace({text}, '(\"(?:[^\"\\\\]|\\\\.)*\")|([,:]) ', '\\1\\2', 'g')"


def ordered(column: Column | None, name: str) -> str:
    """The column as it compares in order: text byte-wise, JSON as its text."""
    if column is None or column.kind in TEXT_KINDS:
        return f'{expr(column, name)} COLLATE "C"'
    if column.kind == "json":
        return f'{json_text(column, expr(column, name))} COLLATE "C"'
    return expr(column, name)


def glob_regex(pattern: str) -> str:
    """SQLite GLOB as an anchored POSIX regular expression.

    >>> glob_regex("a*b?[^x][!y]")
    '^a.*b.[^x][!y]$'
    """
    out, i = ["^"], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return "".join(out)
