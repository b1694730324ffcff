"""How many rows of other tables point at one row (core's ``foreign_key_tables``)."""

from __future__ import annotations

from datasette.views.base import DatasetteError

from .execute import read
from .sqltext import qualified, quote


def counts_sql(schema: str, incoming: list[dict]) -> str:
    """One SELECT counting, for each incoming foreign key, the rows that hold ``%(id)s``.

    The key is compared as text, as SQLite compares a URL's text with a column of any
    affinity (``'1'`` finds ``1``).

    >>> counts_sql("s", [{"other_table": "t", "other_column": "c", "column": "id"}])
    'SELECT (SELECT count(*) FROM "s"."t" WHERE "c"::text = %(id)s)'
    """
    return "SELECT " + ", ".join(
        f"(SELECT count(*) FROM {qualified(schema, fk['other_table'])}"
        f" WHERE {quote(fk['other_column'])}::text = %(id)s)"
        for fk in incoming
    )


async def incoming_counts(
    conn, schema: str, incoming: list[dict], value: str, limit_ms: int
) -> list[int] | None:
    """The count for each of ``incoming``; None if that ran out of time (as core)."""
    if not incoming:
        return []
    try:
        (result,) = await read(conn, [(counts_sql(schema, incoming), {"id": value})], limit_ms)
    except DatasetteError as error:
        if error.title == "SQL Interrupted":
            return None
        raise
    return list(result.rows[0])
