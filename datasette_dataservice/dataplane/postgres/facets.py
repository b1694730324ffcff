"""The SQL of core's facets (datasette/facets.py) for PostgreSQL. Pure: a Source (the table
page's rows without order or limit) and a Column in, SQL out.

Each facet counts what SQLite counts for the same datatable's stored values:

- a column facet groups the column (NULLs left out), most frequent first, then by value in
  SQLite's order (text byte-wise, JSON as its text);
- a date facet groups ``date(column)``: a date or timestamp's day in UTC, a text's day as
  SQLite's ``date()`` reads it (days.py: a time of day's is 2000-01-01, by its offset);
  anything else no day (SQLite reads numbers as Julian day numbers: not reproduced);
- an array facet counts, per row, each distinct element of a JSON array (an object's
  values; a JSON scalar is one element, as in ``json_each``); a date or time is no JSON
  (SQLite: "malformed JSON"); a number or boolean is its own one element.

Suggestions (core's ``suggest``) look at the first 1,000 rows in page order: a column with
2 to ``facet_size`` distinct values one of which repeats (that implies core's "fewer than
the row count"); a column with a date among the first 100 rows (not a time: see
``suggested_day``); a JSON column whose values
there are all arrays and whose first 100 non-empty arrays hold strings only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .days import day_of
from .filters import _ordered
from .introspect import Column, Relation
from .readable import TEXT_LIKE_KINDS
from .sqltext import quote
from .stored_text import text as stored_text

SUGGEST_CONSIDER = 1000  # core's Facet.suggest_consider
DATE_CONSIDER = 100  # core's DateFacet.suggest: "the first 100 rows"
ARRAY_CONSIDER = 100  # core's ArrayFacet.suggest: "first 100 arrays"
JSON_KINDS = {"json"}


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


def suggested_day(column: Column, name: str) -> str | None:
    """``day_of`` as core's date suggestion sees it: it reads ``date()`` only of values
    written ``????-??-*``, which a time's stored text ("03:04:05Z") never is, though its
    ``date()`` is a day (2000-01-01, what a date facet of it counts)."""
    if column.kind == "time":
        return None
    day = day_of(column, name)
    if column.kind == "text" and day is not None:
        return f"CASE WHEN {name} ~ '^.{{4}}-.{{2}}-' THEN {day} END"
    return day


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
    """The column as the JSON SQLite's ``json_each`` reads: a date or time's stored text is
    none ("malformed JSON", as SQLite answers)."""
    name = quote(column.name)
    if column.type_name == "jsonb":
        return name
    if column.kind in TEXT_LIKE_KINDS:
        return f"CAST({stored_text(column, column.name)} AS jsonb)"
    return f"CAST({name} AS jsonb)"


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
    """Whether SQLite reads the column's stored values as JSON (``json_each``): JSON, text,
    and dates and times (stored as text)."""
    return column.kind in JSON_KINDS or column.kind == "text" or column.kind in TEXT_LIKE_KINDS


def array_sql(source: Source, column: Column, limit: int) -> str:
    """Core's ArrayFacet: (element, count of rows holding it): an array's elements, an
    object's values, a scalar itself (``json_each``). A column that is not JSON is its own
    single element (its values, as a column facet counts them). Only the rows the filters
    keep are read as JSON (OFFSET 0 keeps PostgreSQL from reading others first)."""
    if not is_json(column):
        return column_sql(source, column, limit)
    document = _document(column)
    elements = (
        "SELECT DISTINCT v FROM jsonb_array_elements(CASE jsonb_typeof(doc)"
        " WHEN 'array' THEN doc"
        " WHEN 'object' THEN (SELECT jsonb_agg(o.value) FROM jsonb_each(doc) AS o)"
        " ELSE jsonb_build_array(doc) END) AS a(v)"
    )
    return _limit(
        f"SELECT e.v AS value, count(*) AS count"
        f" FROM ({source.rows(f'{document} AS doc')} OFFSET 0) AS f"
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
