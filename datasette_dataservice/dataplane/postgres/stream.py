"""Every row of a query, a chunk at a time, through a server-side cursor (bounded memory).

Core streams a CSV page by page, following each page's ``_next``; a server-side cursor
reads the same rows in the same order (the query's ORDER BY) in one pass, which keeps a view
(paged by offset) linear too. The cursor lives in a READ ONLY transaction on one pooled
connection for as long as the stream runs, and ``sql_time_limit_ms`` bounds each FETCH as
core's limit bounds each page's query.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

import psycopg
from psycopg.types.json import set_json_loads

from ...providers.postgres_storage import PostgresTarget
from . import execute

CHUNK_ROWS = 1000


def without_limit(sql: str) -> str:
    """A table page's SQL without its trailing ``LIMIT n`` (tablequery.build appends it last).

    >>> without_limit('SELECT "a" FROM "s"."t" WHERE (x = \\' LIMIT 5\\') ORDER BY "a" LIMIT 101')
    'SELECT "a" FROM "s"."t" WHERE (x = \\' LIMIT 5\\') ORDER BY "a"'
    """
    head, _, tail = sql.rpartition(" LIMIT ")
    return head if head and tail.strip().isdigit() else sql


class RowStream:
    """``open()`` runs the query (its errors as the page's would be), ``fetch()`` gives the
    next chunk of rows (empty at the end), ``close()`` gives the connection back."""

    def __init__(self, target: PostgresTarget, sql: str, params: dict[str, Any], limit_ms: int):
        self.target, self.sql, self.params, self.limit_ms = target, sql, params, limit_ms
        self.result: execute.Result | None = None
        self._stack = contextlib.AsyncExitStack()
        self._cursor: psycopg.AsyncServerCursor | None = None
        self.conn: psycopg.AsyncConnection | None = None  # open while the cursor is
        self._done = False

    async def open(self, reader: bool = False) -> list[tuple]:
        """Declare the cursor and fetch the first chunk; ``reader`` for SQL a user wrote."""
        try:
            conn = await self._stack.enter_async_context(
                execute.connection(self.target, reader=reader)
            )
            await self._stack.enter_async_context(conn.transaction())
            self.conn = conn
            await conn.execute(
                f"SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {int(self.limit_ms)}"
            )
            cursor = conn.cursor(name=f"dataservice_{secrets.token_hex(6)}")
            set_json_loads(execute._loads, cursor)
            self._cursor = await self._stack.enter_async_context(cursor)
            try:
                await self._cursor.execute(self.sql, self.params)
                return await self.fetch()
            except psycopg.errors.QueryCanceled:
                raise execute.interrupted(self.sql) from None
            except psycopg.Error as error:
                if execute.is_connection_error(error):
                    raise
                raise execute.DatasetteError(
                    execute.message_of(error), title="Invalid SQL", status=400
                ) from None
        except BaseException:
            await self.close()
            raise

    async def fetch(self) -> list[tuple]:
        if self._done or self._cursor is None:
            return []
        rows = await self._cursor.fetchmany(CHUNK_ROWS)
        if self.result is None:
            self.result = execute._result(self._cursor)
        if len(rows) < CHUNK_ROWS:
            self._done = True
        return rows

    @property
    def exhausted(self) -> bool:
        return self._done

    async def close(self) -> None:
        self._cursor = self.conn = None
        stack, self._stack = self._stack, contextlib.AsyncExitStack()
        with contextlib.suppress(psycopg.Error):
            await stack.aclose()
