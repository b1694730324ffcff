"""The SQL of core's facets (datasette/facets.py) for PostgreSQL. Pure: a Source (the table
page's rows without order or limit) and a Column in, SQL out.

Each facet counts what SQLite counts for the same datatable's stored values:

- a column facet groups the column (NULLs left out), most frequent first, then by value in
  SQLite's order (text byte-wise, JSON as its text);
- a date facet groups ``date(column)``: a date or timestamp's day in UTC, a text's day as
  SQLite's ``date()`` reads ``YYYY-MM-DD[( |T)HH:MM[:SS[.SSS]]][Z|+-HH:MM]`` (as written,
  or with an offset, the day of its UTC time), a time's ``2000-01-01``;
  anything else no day (SQLite reads numbers as Julian day numbers: not reproduced);
- an array facet counts, per row, each distinct element of a JSON array (a JSON scalar is
  one element, as in ``json_each``); a column of another type is its own one element.

Suggestions (core's ``suggest``) look at the first 1,000 rows in page order: a column with
2 to ``facet_size`` distinct values one of which repeats (that implies core's "fewer than
the row count"); a column with a date among the first 100 rows (not a time: see
``suggested_day``); a JSON column whose values
there are all arrays and whose first 100 non-empty arrays hold strings only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .filters import _ordered
from .introspect import Column, Relation
from .sqltext import quote

SUGGEST_CONSIDER = 1000  # core's Facet.suggest_consider
DATE_CONSIDER = 100  # core's DateFacet.suggest: "the first 100 rows"
ARRAY_CONSIDER = 100  # core's ArrayFacet.suggest: "first 100 arrays"
JSON_KINDS = {"json"}

_YMD = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_HM = r"([01][0-9]|2[0-3]):[0-5][0-9]"
_TIME = rf"[T ]{_HM}(:[0-5][0-9](\.[0-9]*)?)?"
_OFFSET = r"[+-]([01][0-9]|2[0-3]):[0-5][0-9]"
PLAIN_DAY = rf"^{_YMD}({_TIME})?\s*Z?$"
SHIFTED_DAY = rf"^{_YMD}{_TIME}\s*{_OFFSET}$"


@dataclass
class Source:
    """What facets count: ``relation``'s rows that pass the page's filters."""

    relation: Relation
    table: str  # schema-qualified, quoted
    where: str  # " WHERE ..." (psycopg placeholders) or ""
    tiebreakers: list[str]  # the page's row order when unsorted

    @property
    def order(self) -> str:
        return f"ORDER BY {', '.join(self.tiebreakers)}" if self.tiebreakers else ""

    def rows(self, select: str, limit: int | None = None) -> str:
        """The rows (the first ``limit``, in page order) with the columns ``select``."""
        limited = f" {self.order} LIMIT {int(limit)}" if limit is not None else ""
        return f"SELECT {select} FROM {self.table}{self.where}{limited}"


def _text_day(text: str) -> str:
    """SQLite's ``date(text)`` (no Julian numbers, no "now"), as text, never an error: a
    day as written (``2024-02-30`` too), or with an offset, the day of its UTC time."""
    day = f"(CAST(left({text}, 7) || '-01' AS date) + (CAST(substr({text}, 9, 2) AS integer) - 1))"
    shift = (
        f"to_char({day} + CAST(substr({text}, 12, 5) AS time)"
        f" - CAST(substring({text} from '[+-][0-9]{{2}}:[0-9]{{2}}$') AS interval), 'YYYY-MM-DD')"
    )
    return (
        f"CASE WHEN {text} ~ '{PLAIN_DAY}' THEN left({text}, 10)"
        f" WHEN left({text}, 4) = '0000' THEN NULL"
        f" WHEN {text} ~ '{SHIFTED_DAY}' THEN {shift} END"
    )


def day_of(column: Column, name: str | None = None) -> str | None:
    """The column's (or ``name``'s, a copy of it) ``date()`` as SQLite computes it from the
    stored value, or None."""
    name = name or quote(column.name)
    if column.kind == "date":
        return name
    if column.kind == "timestamp":
        utc = " AT TIME ZONE 'UTC'" if column.type_name.endswith("with time zone") else ""
        return f"CAST({name}{utc} AS date)"
    if column.kind == "time":
        return f"CASE WHEN {name} IS NOT NULL THEN DATE '2000-01-01' END"
    if column.kind == "text":
        return _text_day(name)
    return None


def suggested_day(column: Column, name: str) -> str | None:
    """``day_of`` as core's date suggestion sees it: it reads ``date()`` only of values
    written ``????-??-*``, which a time's stored text ("03:04:05Z") never is, though its
    ``date()`` is a day (2000-01-01, what a date facet of it counts)."""
    return None if column.kind == "time" else day_of(column, name)


def _limit(sql: str, limit: int) -> str:
    return f"{sql} LIMIT {int(limit)}"


def column_sql(source: Source, column: Column, limit: int) -> str:
    """Core's ColumnFacet: (value, count), the most frequent ``limit`` values."""
    name = quote(column.name)
    return _limit(
        f"SELECT {name} AS value, count(*) AS count FROM {source.table}{source.where}"
        f"{' AND' if source.where else ' WHERE'} {name} IS NOT NULL"
        f" GROUP BY {name} ORDER BY count DESC, {_ordered(column, column.name)}",
        limit,
    )


def date_sql(source: Source, column: Column, limit: int) -> str:
    """Core's DateFacet: (day, count); no rows for a column that holds no days."""
    day = day_of(column) or "CAST(NULL AS date)"
    return _limit(
        f"SELECT value, count(*) AS count FROM ({source.rows(f'{day} AS value')}) AS f"
        " WHERE value IS NOT NULL GROUP BY value ORDER BY count DESC, value",
        limit,
    )


def _document(column: Column) -> str:
    name = quote(column.name)
    return name if column.type_name in ("jsonb",) else f"CAST({name} AS jsonb)"


def _json_order(value: str) -> str:
    """SQLite's order of ``json_each`` values: NULL, numbers (booleans are 1/0), text."""
    kind = f"jsonb_typeof({value})"
    return (
        f"CASE {kind} WHEN 'null' THEN 0 WHEN 'number' THEN 1 WHEN 'boolean' THEN 1 ELSE 2 END,"
        f" CASE {kind} WHEN 'number' THEN CAST({value} #>> '{{}}' AS numeric)"
        f" WHEN 'boolean' THEN CASE WHEN {value} = 'true' THEN 1 ELSE 0 END END,"
        f" CASE WHEN {kind} = 'string' THEN {value} #>> '{{}}' ELSE CAST({value} AS text) END"
        ' COLLATE "C"'
    )


def is_json(column: Column) -> bool:
    """Whether SQLite would read the column's stored values as JSON (``json_each``)."""
    return column.kind in JSON_KINDS or column.kind == "text"


def array_sql(source: Source, column: Column, limit: int) -> str:
    """Core's ArrayFacet: (element, count of rows holding it). A column that is not JSON is
    its own single element (its values, as a column facet counts them)."""
    if not is_json(column):
        return column_sql(source, column, limit)
    document = _document(column)
    elements = (
        "SELECT DISTINCT v FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc) = 'array'"
        " THEN doc ELSE jsonb_build_array(doc) END) AS a(v)"
    )
    return _limit(
        f"SELECT e.v AS value, count(*) AS count"
        f" FROM ({source.rows(f'{document} AS doc')}) AS f"
        f" CROSS JOIN LATERAL ({elements}) AS e"
        " WHERE doc IS NOT NULL"
        f" GROUP BY e.v ORDER BY count DESC, {_json_order('e.v')}",
        limit,
    )


# Suggestions ------------------------------------------------------------------------------


def suggest_sql(source: Source, columns: list[Column]) -> str:
    """One row, for each column: its distinct non-null values and its non-null values in
    the first 1,000 rows, whether one of the first 100 holds a day, and (JSON columns)
    whether every non-null value is an array."""
    select = [f"{quote(c.name)} AS c{i}" for i, c in enumerate(columns)]
    select.append(f"row_number() OVER ({source.order}) AS n")
    limited = source.rows(", ".join(select), SUGGEST_CONSIDER)
    stats = []
    for i, column in enumerate(columns):
        value = f"c{i}"
        distinct = f"CAST({value} AS text)" if column.type_name == "json" else value
        stats += [f"count(DISTINCT {distinct})", f"count({value})"]
        day = suggested_day(column, value)
        stats.append(
            f"coalesce(bool_or({day} IS NOT NULL) FILTER (WHERE n <= {DATE_CONSIDER}), false)"
            if day is not None
            else "false"
        )
        stats.append(
            f"coalesce(bool_and(jsonb_typeof(CAST({value} AS jsonb)) = 'array'), false)"
            if column.kind in JSON_KINDS
            else "false"
        )
    return f"SELECT {', '.join(stats)} FROM ({limited}) AS limited"


def strings_sql(source: Source, column: Column) -> str:
    """Whether the first 100 non-empty arrays of a JSON column exist and hold only strings."""
    document = f"CAST({quote(column.name)} AS jsonb)"
    arrays = (
        f"jsonb_typeof({document}) = 'array' AND jsonb_array_length({document}) > 0"
        if column.kind in JSON_KINDS
        else "FALSE"
    )
    where = f"{source.where} AND {arrays}" if source.where else f" WHERE {arrays}"
    first = Source(source.relation, source.table, where, source.tiebreakers)
    return (
        "SELECT count(*) > 0 AND coalesce(bool_and(NOT EXISTS (SELECT 1 FROM"
        " jsonb_array_elements(doc) AS e(v) WHERE jsonb_typeof(v) <> 'string')), false)"
        f" FROM ({first.rows(f'{document} AS doc', ARRAY_CONSIDER)}) AS first"
    )


@dataclass
class Suggestion:
    column: Column
    distinct: int
    present: int
    has_days: bool
    all_arrays: bool


def suggestions(columns: list[Column], row: tuple[Any, ...]) -> list[Suggestion]:
    """suggest_sql's one row, column by column."""
    return [Suggestion(column, *row[i * 4 : i * 4 + 4]) for i, column in enumerate(columns)]
