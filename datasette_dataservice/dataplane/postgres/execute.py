"""Running the data plane's SQL on a PostgresTarget, with Datasette's time limit.

``read`` runs the plugin's own statements (names quoted, values bound by psycopg) as ONE
simple-protocol message: ``SET LOCAL statement_timeout`` and the statements share an
implicit transaction, so a page costs one round trip. ``run_user_sql`` runs a ``?sql=``
query in a READ ONLY transaction, through the extended protocol (one statement only), with
``search_path`` set to the datasource's schema.

Errors come back in core's shapes: a timeout is core's "SQL Interrupted" 400, bad SQL a 400,
an unreachable server a 503.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import markupsafe
import orjson
import psycopg
from datasette.views.base import DatasetteError
from psycopg.types.json import set_json_loads

from ...errors import DataServiceError
from ...providers.postgres_storage import PostgresTarget, conn_error_is_query_error
from .sqltext import quote


@dataclass
class Result:
    columns: list[str]
    type_oids: list[int]
    scales: list[int | None]
    rows: list[tuple]
    ftables: list[int]  # the OID of the table each column comes from (0 if computed)
    ftablecols: list[int]


def time_limit(datasette, request=None) -> int:
    """``sql_time_limit_ms``, or a shorter ``?_timelimit=``, as core allows."""
    limit = int(datasette.setting("sql_time_limit_ms"))
    custom = request.args.get("_timelimit") if request is not None else None
    if custom and custom.isdigit() and 0 < int(custom) < limit:
        return int(custom)
    return limit


def interrupted(sql: str) -> DatasetteError:
    """Core's answer to a query that ran out of time (views/database.py)."""
    return DatasetteError(
        textwrap.dedent(f"""
        <p>SQL query took too long. The time limit is controlled by the
        <a href="https://docs.datasette.io/en/stable/settings.html#sql-time-limit-ms">sql_time_limit_ms</a>
        configuration option.</p>
        <textarea style="width: 90%">{markupsafe.escape(sql)}</textarea>
        <script>
        let ta = document.querySelector("textarea");
        ta.style.height = ta.scrollHeight + "px";
        </script>
    """).strip(),
        title="SQL Interrupted",
        status=400,
        message_is_html=True,
        plain_message=(
            "SQL query took too long. The time limit is"
            " controlled by the sql_time_limit_ms setting."
        ),
    )


def message_of(error: psycopg.Error) -> str:
    """PostgreSQL's primary message, without the CONTEXT and HINT lines; text that is no
    JSON in SQLite's words (``?col__arraycontains=`` on a column of plain text)."""
    diag = getattr(error, "diag", None)
    primary = diag.message_primary if diag is not None else None
    if primary and primary.startswith("invalid input syntax for type json"):
        return "malformed JSON"
    if primary:
        return primary
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def unavailable(error: Exception) -> DatasetteError:
    if isinstance(error, DataServiceError):
        return DatasetteError(str(error), status=error.status)
    return DatasetteError("PostgreSQL is unavailable; try again", status=503)


def is_connection_error(error: psycopg.Error) -> bool:
    return isinstance(error, psycopg.OperationalError) and not conn_error_is_query_error(error)


_LONG_DIGITS = re.compile(rb"[0-9]{19}")


def _loads(data: bytes | str) -> Any:
    """JSON from PostgreSQL, fast (orjson), exact for integers beyond 64 bits (json: orjson
    reads those as floats)."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if not _LONG_DIGITS.search(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:  # e.g. nested past orjson's 1024 levels
            pass
    return json.loads(raw)


def _result(cursor) -> Result:
    description = cursor.description or []
    pgresult = cursor.pgresult
    return Result(
        columns=[d.name for d in description],
        type_oids=[d.type_code for d in description],
        scales=[d.scale if d.type_code == 1700 else None for d in description],
        rows=[],
        ftables=[pgresult.ftable(i) for i in range(len(description))] if pgresult else [],
        ftablecols=[pgresult.ftablecol(i) for i in range(len(description))] if pgresult else [],
    )


@asynccontextmanager
async def connection(
    target: PostgresTarget, reader: bool = False
) -> AsyncIterator[psycopg.AsyncConnection]:
    """A pooled connection (with ``reader``, logged in as the datasource's reader role); a
    lost or unreachable server is a 503 in Datasette's shape."""
    try:
        async with target.connect_reader() if reader else target.connect() as conn:
            yield conn
    except psycopg.Error as error:
        if is_connection_error(error):
            raise unavailable(error) from error
        raise
    except DataServiceError as error:
        raise unavailable(error) from error


async def read(
    conn: psycopg.AsyncConnection,
    statements: list[tuple[str, dict[str, Any]]],
    limit_ms: int,
    shown: str = "",
) -> list[Result]:
    """Run ``statements`` (psycopg SQL with named parameters) in one round trip."""
    try:
        cursor = psycopg.AsyncClientCursor(conn)
        set_json_loads(_loads, cursor)
        parts = [f"SET LOCAL statement_timeout = {int(limit_ms)}"]
        parts += [cursor.mogrify(sql, params or {}) for sql, params in statements]
        await cursor.execute("; ".join(parts))
        results = []
        while cursor.nextset():
            result = _result(cursor)
            result.rows = await cursor.fetchall() if cursor.description else []
            results.append(result)
        return results
    except psycopg.errors.QueryCanceled:
        raise interrupted(shown or statements[-1][0]) from None
    except psycopg.Error as error:
        if is_connection_error(error):
            raise
        raise DatasetteError(message_of(error), title="Invalid SQL", status=400) from None


async def run_user_sql(
    target: PostgresTarget,
    sql: str,
    params: dict[str, Any],
    limit_ms: int,
    max_rows: int,
) -> tuple[Result, bool]:
    """A read-only ``?sql=`` query: (result with at most ``max_rows`` rows, truncated).

    It runs in a session logged in as the datasource's reader role, which may read this
    schema's tables and nothing else (providers/postgres_storage.py): never as the
    connection's own role. psycopg errors other than timeouts propagate: the query page
    shows them as core shows an SQLite error.
    """
    if "\x00" in sql:  # libpq would read the SQL only up to it: refused, as by SQLite
        raise psycopg.ProgrammingError("the query contains a null character")
    async with connection(target, reader=True) as conn:
        return await _run_user_sql(conn, target.schema, sql, params, limit_ms, max_rows)


async def _run_user_sql(
    conn: psycopg.AsyncConnection,
    schema: str,
    sql: str,
    params: dict[str, Any],
    limit_ms: int,
    max_rows: int,
) -> tuple[Result, bool]:
    try:
        await conn.execute(
            f"BEGIN READ ONLY; SET LOCAL statement_timeout = {int(limit_ms)}; "
            f"SET LOCAL search_path TO {quote(schema).replace('%%', '%')}"
        )
        try:
            async with conn.pipeline():  # the extended protocol: one statement only
                cursor = conn.cursor()
                set_json_loads(_loads, cursor)
                await cursor.execute(sql, params)
            result = _result(cursor)
            if not cursor.description:
                return result, False
            rows = await cursor.fetchmany(max_rows + 1)
            result.rows = rows[:max_rows]
            return result, len(rows) > max_rows
        finally:
            if not conn.closed:
                await conn.execute("ROLLBACK")
    except psycopg.errors.QueryCanceled:
        raise interrupted(sql) from None
    except psycopg.OperationalError as error:
        if not conn.closed:
            raise
        # The reader's own session ended under the query (pg_terminate_backend of itself):
        # the query's doing, not the server's; the pool replaces the connection.
        raise DatasetteError(
            f"The query ended its own database session: {message_of(error)}",
            title="Invalid SQL",
            status=400,
        ) from None
